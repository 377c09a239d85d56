"""Pydantic models at the knowledge base's boundary: what the API returns."""

from __future__ import annotations

from typing import NamedTuple

from mdesign.core.evaluation import Evaluation
from pydantic import BaseModel, Field


class TaskResult(NamedTuple):
    """One row of the ``task_results`` query: a task's stored result of an architecture
    (the one with the most seeds); ``score`` is ``None`` for a failed result.

    A tuple, not a validated model: a whole task's rows are decoded at once."""

    uid: str
    score: float | None
    valid: float | None
    test: float | None
    params: float | None
    latency: float | None

    def evaluation(self) -> Evaluation:
        """As an :class:`~mdesign.core.evaluation.Evaluation` (a scored result only)."""
        return Evaluation(uid=self.uid, score=self.score, valid=self.valid, test=self.test,
                          params=self.params, latency=self.latency)


class TaskInfo(BaseModel):
    """A task (a dataset with a kind and a metric) and what the knowledge base knows of it."""

    name: str
    kind: str
    metric: str
    higher_is_better: bool = True
    split: str = Field(description="`valid_test` (selection on validation, report test) "
                                   "or `single` (one metric for both)")
    restrict: dict[str, list[str]] | None = Field(
        default=None, description="choices the task's own space allows, when narrower")
    features: dict[str, float] = {}
    results: int = 0
    evidence_edits: int = 0


class RankedArchitecture(BaseModel):
    uid: str
    space: str
    key: str
    score: float = Field(description="selection score, oriented so that higher is better")
    valid: float | None = None
    test: float | None = None
    valid_std: float | None = None
    test_std: float | None = None
    params: float | None = None
    latency: float | None = None
    source: str


class Neighbour(BaseModel):
    """A neighbour of an architecture and the gains of the edit that reaches it."""

    uid: str
    key: str
    dimension: str
    from_choice: str
    to_choice: str
    gains: dict[str, float | None] = Field(
        description="task -> score(neighbour) - score(architecture); None: no evidence")


class StoredScore(BaseModel):
    """One task's stored result of an architecture (selection score, oriented)."""

    task: str
    score: float
    std: float | None = None
    params: float | None = None
    latency: float | None = None


class BallEntry(BaseModel):
    """An architecture within ``k`` edits of a centre (multi-hop lookahead)."""

    uid: str
    key: str
    hops: int = Field(description="edits of a shortest path from the centre")
    first: str = Field(description="the first architecture after the centre on that path")


class EvidencePath(BaseModel):
    """A shortest improving path of edits on one task (each edit has a positive gain)."""

    target: str
    key: str
    hops: int
    total_gain: float
    path: list[str] = Field(description="uids from the start to the target")


class TaskSimilarity(BaseModel):
    task_a: str
    task_b: str
    spearman: float | None = Field(description="rank correlation of scores over shared "
                                               "architectures (None: fewer than 3 shared)")
    shared: int


class SpaceInfo(BaseModel):
    name: str
    architectures: int
    edits: int
    dimensions: list[str]


class KBStats(BaseModel):
    architectures: int
    tasks: int
    results: int
    edits: int
    gains: int = Field(description="(edit, task) pairs with a stored gain")
    spaces: list[SpaceInfo]
    task_list: list[TaskInfo]


class ImportReport(BaseModel):
    import_id: str
    status: str = Field(description="`imported`, `resumed` or `up-to-date`")
    batches: int
    rows: int
    seconds: float
    counts: dict[str, int] = {}
    notes: list[str] = []


class TaskDataSource(BaseModel):
    """Where a task's training data came from and where mdesign keeps its copy (both None
    for a task imported as a table of results)."""
    source: str | None = None
    path: str | None = None

"""Typed access to the stored records that are not the evidence itself: refinement runs,
predictors and their embeddings, generations. One method per named query of
:mod:`mdesign.cypher`; reached as ``kb.runs``, ``kb.predictors``, ``kb.generations``.

The row types are ``TypedDict``s: the rows the queries return, unchanged (the CLI prints
them as they are).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, TypedDict


class KnowledgeBase(Protocol):
    """What a repository needs of :class:`~mdesign.kb.knowledge_base.KnowledgeBase`."""

    def query(self, name: str, /, **params: Any) -> list[dict[str, Any]]: ...

    def query_rows(self, name: str, rows: Sequence[dict[str, Any]]
                   ) -> list[dict[str, Any]]: ...


class RunSummary(TypedDict):
    """One row of ``mdesign runs list`` (``run_list.cypher``)."""
    id: str
    name: str | None
    task: str
    evaluator: str
    status: str
    budget: int
    spent: int | None
    best_uid: str | None
    best_score: float | None
    best_valid: float | None
    best_test: float | None
    seconds: int | None
    started: str | None
    tags: list[str]


class StoredRunRow(TypedDict):
    """A run's node properties and its steps' properties, in step order (``run_get``)."""
    run: dict[str, Any]
    steps: list[dict[str, Any]]


class PredictorRow(TypedDict):
    """A stored predictor's node properties, spaces and tasks (``predictor_get``)."""
    props: dict[str, Any]
    spaces: list[str]
    tasks: list[str]


class PredictorSummary(TypedDict):
    """One row of ``mdesign predictor list`` (``predictor_list.cypher``)."""
    name: str
    type: str
    created: str | None
    path: str | None
    spaces: list[str]
    tasks: list[str]


class GeneratorSummary(TypedDict):
    """One row of ``mdesign generator list`` (``generator_list.cypher``)."""
    name: str
    created: str | None
    spaces: list[str]
    tasks: int
    generations: int
    path: str | None


class Similar(TypedDict):
    """An architecture and its cosine similarity (``architectures_like.cypher``)."""
    uid: str
    similarity: float


class RunRepository:
    """``(:RefineRun)`` nodes and their steps."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb

    def create(self, run_id: str, task: str, space: str, budget: int, evaluator: str,
               config: str, name: str | None = None, tags: list[str] | None = None) -> bool:
        """A new running run; False when ``task`` is unknown (nothing stored)."""
        return bool(self.kb.query("run_create", id=run_id, task=task, space=space,
                                  name=name, tags=tags or [],
                                  budget=budget, evaluator=evaluator, config=config))

    def set_sources(self, run_id: str, sources: list[dict[str, Any]]) -> None:
        self.kb.query("run_sources", id=run_id, sources=sources)

    def add_step(self, run_id: str, step: int, props: dict[str, Any], spent: int,
                 best_uid: str | None, best_score: float | None) -> None:
        self.kb.query("run_step", id=run_id, step=step, props=props, spent=spent,
                      best_uid=best_uid, best_score=best_score)

    def finish(self, run_id: str, status: str, stopped: str | None,
               report: str | None) -> None:
        self.kb.query("run_finish", id=run_id, status=status, stopped=stopped, report=report)

    def get(self, run_id: str) -> StoredRunRow | None:
        rows = self.kb.query("run_get", id=run_id)
        return StoredRunRow(run=rows[0]["run"], steps=rows[0]["steps"]) if rows else None

    def list(self, limit: int = 50, task: str | None = None, name: str | None = None,
             status: str | None = None, tags: list[str] | None = None) -> list[RunSummary]:
        """The latest runs, newest first, optionally only those of ``task``, ``name``,
        ``status`` and holding every one of ``tags`` (``key=value``)."""
        return self.kb.query("run_list", limit=limit, task=task, name=name,  # type: ignore[return-value]
                             status=status, tags=tags or [])

    def delete(self, run_ids: list[str]) -> dict[str, int]:
        """Delete runs and their steps in one transaction: run id -> steps deleted (ids
        not stored are absent)."""
        return {r["id"]: r["steps"] for r in self.kb.query("run_delete", ids=run_ids)}


class PredictorRepository:
    """``(:Predictor)`` nodes and the embeddings they stored on architectures."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb

    def upsert(self, name: str, spaces: Sequence[str], tasks: Sequence[str],
               props: dict[str, Any]) -> None:
        """Store (or replace) a predictor, covering ``spaces``, trained on ``tasks``."""
        self.kb.query("predictor_upsert", name=name, spaces=list(spaces), tasks=list(tasks),
                      props=props)

    def get(self, name: str) -> PredictorRow | None:
        rows = self.kb.query("predictor_get", name=name)
        return PredictorRow(props=rows[0]["props"], spaces=rows[0]["spaces"],
                            tasks=rows[0]["tasks"]) if rows else None

    def list(self) -> list[PredictorSummary]:
        """Every stored predictor, newest first."""
        return self.kb.query("predictor_list")  # type: ignore[return-value]

    def generators(self) -> list[GeneratorSummary]:
        """The stored generators with how many generations each made, newest first."""
        return self.kb.query("generator_list")  # type: ignore[return-value]

    def write_embeddings(self, rows: Sequence[dict[str, Any]]) -> None:
        """``{uid, embedding, predictor}`` rows, one transaction."""
        self.kb.query_rows("embeddings_write", rows)

    def like(self, uid: str, k: int) -> list[Similar]:
        """The ``k`` architectures of ``uid``'s space most like it (cosine similarity of
        stored embeddings); empty when ``uid`` has none."""
        return self.kb.query("architectures_like", uid=uid, k=k)  # type: ignore[return-value]


class GenerationRepository:
    """``(:Generation)`` nodes and the architectures they proposed."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb

    def store(self, gen_id: str, task: str | None, generator: str,
              rows: list[dict[str, Any]], props: dict[str, Any]) -> None:
        """One transaction: the node, its links and a ``PROPOSED`` relationship per row."""
        self.kb.query("generation_store", id=gen_id, task=task, generator=generator,
                      rows=rows, props=props)

"""Evidence held in memory: the :class:`~mdesign.refinement.evidence.EvidenceReader` of
plain tables, so that a refinement runs without a database.

The input is one design space and, per task, its description (kind, split, features, ...)
and its results ``{key: StoredResult}`` (selection score oriented so that higher is
better, validation/test metrics, costs). From these it derives what the knowledge base
stores at import:

* the architectures: every key with a result on some task;
* the edits: pairs of stored architectures one edit apart (the design space's edit rule
  read from the first of the pair, in key order), each described once;
* the gain of an edit ``c -> m`` on task ``t``: ``score_t(m) - score_t(c)`` where ``t``
  measured both ends, else None.

Multi-hop lookahead with the GDS engine needs the server and is refused
(``lookahead_engine="space"`` computes the same neighbourhood from the space).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping, Sequence

from mdesign.core.errors import InputError
from mdesign.core.evaluation import Evaluation
from mdesign.core.space import DesignSpace
from mdesign.kb.models import Neighbour, RankedArchitecture, StoredScore, TaskInfo
from mdesign.refinement.evidence import LookaheadGraph
from pydantic import BaseModel


class StoredResult(BaseModel):
    """One task's result of one architecture."""

    score: float | None = None
    valid: float | None = None
    test: float | None = None
    valid_std: float | None = None
    test_std: float | None = None
    score_std: float | None = None
    params: float | None = None
    latency: float | None = None
    source: str = "memory"


class TaskTable(BaseModel):
    """A task and its results in the space (``key -> result``)."""

    kind: str = "node"
    metric: str = "score"
    higher_is_better: bool = True
    split: str = "valid_test"
    restrict: dict[str, list[str]] | None = None
    features: dict[str, float] = {}
    results: dict[str, StoredResult] = {}


class InMemoryEvidence:
    """Plain tables over one design space, read like the knowledge base."""

    def __init__(self, space: DesignSpace, tasks: Mapping[str, TaskTable]) -> None:
        self._space = space
        self.tables = dict(tasks)
        self.keys = sorted({k for t in self.tables.values() for k in t.results})
        stored = set(self.keys)
        # key -> [(neighbour, dimension, from, to)] from that key's side, each edit once
        self._edits: dict[str, list[tuple[str, str, str, str]]] = {k: [] for k in self.keys}
        pairs: set[frozenset[str]] = set()
        for a in self.keys:
            for dim, frm, to, b in space.neighbour_keys(a):
                pair = frozenset((a, b))
                if b in stored and b != a and pair not in pairs:
                    pairs.add(pair)
                    self._edits[a].append((b, dim, frm, to))
                    self._edits[b].append((a, dim, to, frm))
        self._pairs = [tuple(sorted(p)) for p in pairs]

    def uid(self, key: str) -> str:
        return f"{self._space.name}/{key}"

    def _key(self, uid: str) -> str | None:
        space, _, key = uid.partition("/")
        return key if space == self._space.name and key in self._edits else None

    def _score(self, task: str, key: str) -> float | None:
        t = self.tables.get(task)
        r = t.results.get(key) if t is not None else None
        return r.score if r is not None else None

    def _evidence_edits(self, task: str) -> int:
        """Edits whose both ends the task measured (a set test per edit: ``task()`` is
        read for every source of a run)."""
        t = self.tables.get(task)
        scored = {k for k, r in t.results.items() if r.score is not None} if t else set()
        return sum(1 for a, b in self._pairs if a in scored and b in scored)

    # -- the reader -----------------------------------------------------------------------

    def task(self, name: str) -> TaskInfo:
        t = self.tables.get(name)
        if t is None:
            raise InputError(f"unknown task {name!r}",
                             f"known tasks: {', '.join(sorted(self.tables)) or 'none'}")
        return TaskInfo(name=name, kind=t.kind, metric=t.metric,
                        higher_is_better=t.higher_is_better, split=t.split,
                        restrict=t.restrict, features=dict(t.features),
                        results=len(t.results), evidence_edits=self._evidence_edits(name))

    def task_spaces(self, task: str) -> list[str]:
        t = self.tables.get(task)
        return [self._space.name] if t is not None and t.results else []

    def target_space(self, task: str) -> str:
        own = self.task_spaces(task)
        if own:
            return own[0]
        if not any(t.results for t in self.tables.values()):
            raise InputError(f"task {task!r} has no results and the evidence holds no "
                             "design space with results", "add results first")
        return self._space.name

    def space(self, name: str) -> DesignSpace:
        if name != self._space.name:
            raise InputError(f"unknown design space {name!r}",
                             f"the in-memory evidence holds {self._space.name!r}")
        return self._space

    def tasks_in_space(self, space: str, exclude: str = "") -> list[TaskInfo]:
        if space != self._space.name:
            return []
        return [self.task(n) for n in sorted(self.tables)
                if n != exclude and self.tables[n].results]

    def task_scores(self, task: str, space: str) -> dict[str, float]:
        t = self.tables.get(task)
        if t is None or space != self._space.name:
            return {}
        return {k: r.score for k, r in t.results.items() if r.score is not None}

    def _ranked(self, task: str, key: str, r: StoredResult) -> RankedArchitecture:
        assert r.score is not None
        return RankedArchitecture(uid=self.uid(key), space=self._space.name, key=key,
                                  score=r.score, valid=r.valid, test=r.test,
                                  valid_std=r.valid_std, test_std=r.test_std,
                                  params=r.params, latency=r.latency, source=r.source)

    def best_architectures(self, task: str, limit: int = 10) -> list[RankedArchitecture]:
        t = self.tables.get(task)
        if t is None:
            return []
        rows = sorted(((k, r) for k, r in t.results.items() if r.score is not None),
                      key=lambda kr: (-(kr[1].score or 0.0), kr[0]))
        return [self._ranked(task, k, r) for k, r in rows[:limit]]

    def best_architectures_within(self, task: str, space: str, max_params: float | None,
                                  max_latency: float | None, limit: int = 500
                                  ) -> list[RankedArchitecture]:
        if space != self._space.name:
            return []
        out = []
        for r in self.best_architectures(task, limit=len(self.keys)):
            if (max_params is None or r.params is None or r.params <= max_params) and \
                    (max_latency is None or r.latency is None or r.latency <= max_latency):
                out.append(r)
        return out[:limit]

    def neighbours(self, uid: str, tasks: Iterable[str]) -> list[Neighbour]:
        key = self._key(uid)
        if key is None:
            return []
        tasks = list(tasks)
        out = []
        for b, dim, frm, to in self._edits[key]:
            gains: dict[str, float | None] = {}
            for t in tasks:
                sa, sb = self._score(t, key), self._score(t, b)
                gains[t] = sb - sa if sa is not None and sb is not None else None
            out.append(Neighbour(uid=self.uid(b), key=b, dimension=dim, from_choice=frm,
                                 to_choice=to, gains=gains))
        return sorted(out, key=lambda n: n.uid)

    def source_scores(self, uids: Sequence[str], tasks: Iterable[str]
                      ) -> dict[str, dict[str, StoredScore]]:
        tasks = list(tasks)
        out: dict[str, dict[str, StoredScore]] = {}
        for uid in uids:
            key = self._key(uid)
            if key is None:
                continue
            row = {}
            for t in tasks:
                r = self.tables[t].results.get(key) if t in self.tables else None
                if r is not None and r.score is not None:
                    row[t] = StoredScore(task=t, score=r.score, std=r.score_std,
                                         params=r.params, latency=r.latency)
            out[uid] = row
        return out

    @contextlib.contextmanager
    def lookahead_graph(self) -> Iterator[LookaheadGraph]:
        raise InputError("the GDS lookahead engine needs the knowledge base server",
                         "use lookahead_engine='space' (the same neighbourhood)")
        yield  # pragma: no cover

    # -- helpers --------------------------------------------------------------------------

    def oracle(self, task: str) -> dict[str, Evaluation]:
        """``task``'s results as a benchmark evaluator's table (uid -> evaluation)."""
        t = self.tables[task]
        return {self.uid(k): Evaluation(uid=self.uid(k), score=r.score, valid=r.valid,
                                        test=r.test, params=r.params, latency=r.latency)
                for k, r in t.results.items() if r.score is not None}

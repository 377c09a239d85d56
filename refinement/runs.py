"""Refinement runs persisted in Neo4j: configuration, sources, every step, the outcome.

Graph shape (docs/schema.md)::

    (:RefineRun {id, task, space, budget, evaluator, config, status, spent, best_uid, ...})
      -[:TARGET]->(:Task)
      -[:SOURCE {rank, similarity, weight}]->(:Task)
      -[:HAS_STEP]->(:RefineStep {run_id, step, kind, uid, observed_gain, weights, ...})
                       -[:EVALUATED]->(:Architecture)

Each step is written in its own transaction as soon as its evaluation returns, so a run
killed at any point has lost at most the step in flight. ``status`` is ``running`` while
a process works on it (or after a crash), ``interrupted`` after a clean interruption and
``finished`` at the end, ``failed`` when its input cannot work (no usable start within
the cost limits, say). ``running`` and ``interrupted`` runs can be resumed.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import time
from collections.abc import Callable
from typing import Any

from mdesign.kb.errors import InputError, MdesignError
from mdesign.kb.knowledge_base import KnowledgeBase
from mdesign.kb.observations import Observation, record_observations
from mdesign.refinement.evaluators import Evaluation, Evaluator
from mdesign.refinement.refine import (
    PlannerCache,
    RefineConfig,
    RefinementResult,
    RefinementStep,
    refine,
    target_space,
)
from mdesign.refinement.sources import SourceInfo
from pydantic import BaseModel

_JSON_FIELDS = ("weights", "source_gains")


class StoredRun(BaseModel):
    id: str
    task: str
    space: str
    status: str
    config: RefineConfig
    budget: int
    spent: int
    best_uid: str | None = None
    best_score: float | None = None
    started: str | None = None
    stopped: str | None = None
    sources: list[str] = []
    steps: list[RefinementStep] = []
    report: dict[str, Any] | None = None

    def paid(self) -> list[Evaluation]:
        """The distinct evaluations the run paid for, in order."""
        out: dict[str, Evaluation] = {}
        for s in self.steps:
            out.setdefault(s.uid, Evaluation(uid=s.uid, score=s.score, valid=s.valid,
                                             test=s.test, params=s.params, latency=s.latency))
        return list(out.values())


def new_run_id(task: str) -> str:
    return f"{task}-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"


class RunStore:
    """Writes one run as it happens (a :class:`~mdesign.refinement.refine.RunRecorder`)."""

    def __init__(self, kb: KnowledgeBase, run_id: str) -> None:
        self.kb, self.id = kb, run_id
        self.spent: set[str] = set()

    @classmethod
    def create(cls, kb: KnowledgeBase, config: RefineConfig, space: str) -> RunStore:
        run_id = new_run_id(config.task)
        if not kb.query("run_create", id=run_id, task=config.task, space=space,
                        budget=config.budget, evaluator=config.evaluator,
                        config=config.model_dump_json()):
            raise InputError(f"unknown task {config.task!r}", "see `mdesign kb stats`")
        return cls(kb, run_id)

    @classmethod
    def reopen(cls, kb: KnowledgeBase, run: StoredRun) -> RunStore:
        store = cls(kb, run.id)
        store.spent = {s.uid for s in run.steps}
        return store

    def sources(self, sources: list[SourceInfo]) -> None:
        self.kb.query("run_sources", id=self.id, sources=[s.model_dump() for s in sources])

    def step(self, step: RefinementStep) -> None:
        self.spent.add(step.uid)
        props = step.model_dump()
        for f in _JSON_FIELDS:
            props[f] = json.dumps(props[f])
        self.kb.query("run_step", id=self.id, step=step.step, props=props,
                      spent=len(self.spent), best_uid=step.best_uid,
                      best_score=step.best_score)

    def finish(self, result: RefinementResult) -> None:
        self.kb.query("run_finish", id=self.id, status="finished", stopped=result.stopped,
                      report=result.model_dump_json())

    def failed(self, reason: str) -> None:
        self.kb.query("run_finish", id=self.id, status="failed", stopped=reason, report=None)

    def interrupted(self) -> None:
        self.kb.query("run_finish", id=self.id, status="interrupted", stopped=None,
                      report=None)


def load_run(kb: KnowledgeBase, run_id: str) -> StoredRun:
    rows = kb.query("run_get", id=run_id)
    if not rows:
        raise InputError(f"unknown run {run_id!r}", "list runs with `mdesign runs list`")
    run, steps = rows[0]["run"], rows[0]["steps"]
    parsed = []
    for s in steps:
        for f in _JSON_FIELDS:
            s[f] = json.loads(s[f]) if s.get(f) else {}
        s.pop("run_id", None)
        parsed.append(RefinementStep(**s))
    return StoredRun(id=run["id"], task=run["task"], space=run["space"], status=run["status"],
                     config=RefineConfig.model_validate_json(run["config"]),
                     budget=run["budget"], spent=run.get("spent") or 0,
                     best_uid=run.get("best_uid"), best_score=run.get("best_score"),
                     started=run.get("started"), stopped=run.get("stopped"),
                     sources=run.get("sources") or [], steps=parsed,
                     report=json.loads(run["report"]) if run.get("report") else None)


def list_runs(kb: KnowledgeBase, limit: int = 50) -> list[dict[str, Any]]:
    return kb.query("run_list", limit=limit)


def resumable(kb: KnowledgeBase, run_id: str) -> StoredRun:
    """The stored run, refusing one that has finished."""
    run = load_run(kb, run_id)
    if run.status == "finished":
        raise InputError(f"run {run_id!r} has already finished",
                         f"see it with `mdesign runs show {run_id}`, or start a new run")
    if run.status == "failed":
        raise InputError(f"run {run_id!r} failed on its input ({run.stopped})",
                         "start a new run with a corrected configuration")
    return run


def execute(kb: KnowledgeBase, config: RefineConfig, evaluator: Evaluator, *,
            resume: StoredRun | None = None,
            on_step: Callable[[RefinementStep], None] | None = None,
            planners: PlannerCache | None = None) -> RefinementResult:
    """Run (or resume) a refinement, persisting it step by step.

    A clean interruption (Ctrl-C) marks the run ``interrupted``; a crash or a lost server
    leaves it ``running``; both resume with ``mdesign refine --resume ID``. Any failure
    after the run is stored is re-raised as a :class:`RunFailed` carrying the run id."""
    if resume is not None:
        config = resume.config
        store = RunStore.reopen(kb, resume)
        evaluator.restore(resume.paid())
    else:
        config = config.model_copy(update={"space": config.space
                                           or target_space(kb, config.task)})
        kb.task(config.task)  # an unknown task fails before anything is stored
        store = RunStore.create(kb, config, config.space or "")
    try:
        result = refine(kb, config, evaluator, on_step=on_step, recorder=store,
                        planners=planners, run_id=store.id)
        if evaluator.records_evidence:
            paid = {e.uid: e for e in load_run(kb, store.id).paid()}
            paid.update({e.uid: e for e in evaluator.evaluations()})  # with provenance
            record_observations(kb, kb.space(result.space), config.task,
                                [Observation(**e.model_dump(exclude={"paid"}))
                                 for e in paid.values()],
                                source=f"mdesign:{config.evaluator}")
        store.finish(result)
    except KeyboardInterrupt:
        with contextlib.suppress(MdesignError):
            store.interrupted()
        raise
    except InputError as exc:
        # not something a resume can fix: the run is closed as failed, with the reason
        with contextlib.suppress(MdesignError):
            store.failed(str(exc))
        raise
    except MdesignError as exc:
        raise RunFailed(store.id, exc) from exc
    finally:
        close = getattr(evaluator, "close", None)
        if close is not None:
            close()  # e.g. the train evaluator's worker processes
    return result


class RunFailed(MdesignError):
    """A stored run stopped on an error; its steps so far are kept and it can resume."""

    def __init__(self, run_id: str, cause: MdesignError) -> None:
        self.run_id, self.cause = run_id, cause
        super().__init__(f"{cause.problem}; run {run_id} is kept with its steps so far",
                         f"{cause.fix + ', then ' if cause.fix else ''}resume with "
                         f"`mdesign refine --resume {run_id}`")

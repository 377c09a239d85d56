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
the cost limits, say). ``running`` and ``interrupted`` runs can be resumed. A run id
(``<slug of the task>-<time>-<hex>``) is a plain file name and shell word whatever the
task's name holds; the name itself stays verbatim in ``task``.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from mdesign.core.errors import InputError, MdesignError, exception_chain
from mdesign.core.evaluation import Evaluation, Evaluator
from mdesign.kb import settings
from mdesign.kb.knowledge_base import KnowledgeBase
from mdesign.kb.observations import record_observations
from mdesign.kb.repositories import RunSummary
from mdesign.refinement.config import stored_config
from mdesign.refinement.custom import describe, is_custom
from mdesign.refinement.refine import (
    PlannerCache,
    RefineConfig,
    RefinementResult,
    RefinementStep,
    refine,
)
from mdesign.refinement.sources import SourceInfo, candidate_sources
from mdesign.refinement.target import Target, resolve
from pydantic import BaseModel

_JSON_FIELDS = ("weights", "source_gains")


class StoredRun(BaseModel):
    id: str
    name: str | None = None
    tags: list[str] = []
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
            out.setdefault(s.uid, s.evaluation())
        return list(out.values())


def new_run_id(task: str) -> str:
    """``<slug of the task>-<time>-<random hex>``: a file name and a shell word as it is,
    whatever the task's name holds (the name itself is the run's ``task``)."""
    return f"{settings.slug(task, 40)}-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"


class RunStore:
    """Writes one run as it happens (a :class:`~mdesign.refinement.refine.RunRecorder`)."""

    def __init__(self, kb: KnowledgeBase, run_id: str) -> None:
        self.kb, self.id = kb, run_id
        self.spent: set[str] = set()

    @classmethod
    def create(cls, kb: KnowledgeBase, config: RefineConfig, space: str,
               name: str | None = None, tags: dict[str, str] | None = None) -> RunStore:
        run_id = new_run_id(config.task)
        if not kb.runs.create(run_id, task=config.task, space=space, budget=config.budget,
                              evaluator=config.evaluator, config=config.model_dump_json(),
                              name=name, tags=tag_strings(tags)):
            raise InputError(f"unknown task {config.task!r}", "see `mdesign kb stats`")
        return cls(kb, run_id)

    @classmethod
    def reopen(cls, kb: KnowledgeBase, run: StoredRun) -> RunStore:
        store = cls(kb, run.id)
        store.spent = {s.uid for s in run.steps}
        return store

    def sources(self, sources: list[SourceInfo]) -> None:
        self.kb.runs.set_sources(self.id, [s.model_dump() for s in sources])

    def step(self, step: RefinementStep) -> None:
        self.spent.add(step.uid)
        props = step.model_dump()
        for f in _JSON_FIELDS:
            props[f] = json.dumps(props[f])
        self.kb.runs.add_step(self.id, step.step, props, spent=len(self.spent),
                              best_uid=step.best_uid, best_score=step.best_score)

    def finish(self, result: RefinementResult) -> None:
        self.kb.runs.finish(self.id, "finished", stopped=result.stopped,
                            report=result.model_dump_json())

    def failed(self, reason: str) -> None:
        self.kb.runs.finish(self.id, "failed", stopped=reason, report=None)


def load_run(kb: KnowledgeBase, run_id: str) -> StoredRun:
    row = kb.runs.get(run_id)
    if row is None:
        raise InputError(f"unknown run {run_id!r}", "list runs with `mdesign runs list`")
    run, steps = row["run"], row["steps"]
    parsed = []
    for s in steps:
        for f in _JSON_FIELDS:
            s[f] = json.loads(s[f]) if s.get(f) else {}
        s.pop("run_id", None)
        parsed.append(RefinementStep(**s))
    return StoredRun(id=run["id"], name=run.get("name"), tags=run.get("tags") or [],
                     task=run["task"], space=run["space"], status=run["status"],
                     config=stored_config(run["config"]),
                     budget=run["budget"], spent=run.get("spent") or 0,
                     best_uid=run.get("best_uid"), best_score=run.get("best_score"),
                     started=run.get("started"), stopped=run.get("stopped"),
                     sources=run.get("sources") or [], steps=parsed,
                     report=json.loads(run["report"]) if run.get("report") else None)


def tag_strings(tags: dict[str, str] | None) -> list[str]:
    """Tags as stored: ``key=value`` strings, sorted."""
    return sorted(f"{k}={v}" for k, v in (tags or {}).items())


def parse_tags(pairs: list[str] | tuple[str, ...]) -> dict[str, str]:
    """``KEY=VALUE`` strings (``--tag``) as a mapping (a malformed one is refused)."""
    out = {}
    for p in pairs:
        key, sep, value = p.partition("=")
        if not sep or not key.strip():
            raise InputError(f"tag {p!r} is not KEY=VALUE", "write e.g. --tag data=v2")
        out[key.strip()] = value.strip()
    return out


def list_runs(kb: KnowledgeBase, limit: int = 50, task: str | None = None,
              name: str | None = None, status: str | None = None,
              tags: dict[str, str] | None = None) -> list[RunSummary]:
    """The latest runs, newest first, filtered by task, name, status and tags."""
    return kb.runs.list(limit, task=task, name=name, status=status, tags=tag_strings(tags))


def delete_runs(kb: KnowledgeBase, run_ids: list[str]) -> dict[str, int]:
    """Delete runs and their steps, all in one transaction (run id -> steps deleted). An
    unknown id is refused before anything is deleted; what the runs recorded as evidence
    stays (``mdesign task forget`` removes it)."""
    for run_id in run_ids:
        if kb.runs.get(run_id) is None:
            raise InputError(f"unknown run {run_id!r}", "list runs with `mdesign runs list`")
    return kb.runs.delete(list(dict.fromkeys(run_ids)))


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


def check_input(kb: KnowledgeBase, config: RefineConfig,
                target: Target | None = None) -> Target:
    """Refuse, before a run is stored, a configuration whose input cannot work: an
    unknown task, a design space the target has no results in (or an unknown one)
    (:func:`~mdesign.refinement.target.resolve`, unless ``target`` is already resolved),
    a space that no other task shares (no source to retrieve). Returns the target."""
    target = target if target is not None else resolve(kb, config)
    candidate_sources(kb, target.task, target.space_name)
    return target


def interrupted(exc: BaseException | None) -> bool:
    """Whether ``exc`` is, or was raised while handling, an interruption (Ctrl-C)."""
    return any(isinstance(e, KeyboardInterrupt) for e in exception_chain(exc))


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped stored run ``run_id``; its steps so far are kept and it resumes with
    ``mdesign refine --resume RUN_ID``."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        super().__init__(run_id)


def _break_connections(kb: KnowledgeBase) -> None:
    """Shut down the sockets of ``kb``'s connections (not closing them: the driver does
    that). Interrupted in the middle of a request, the driver would otherwise wait, while
    it cleans up, for the server's answer to that request: as long as the query runs, or
    a lock it waits for is held. With its socket shut, that wait ends at once."""
    import socket

    pool = getattr(kb.driver, "_pool", None)
    for connections in list(getattr(pool, "connections", {}).values()):
        for connection in list(connections):
            raw = getattr(getattr(connection, "socket", None), "_socket", None)
            if isinstance(raw, socket.socket):
                with contextlib.suppress(OSError):
                    raw.shutdown(socket.SHUT_RDWR)


@contextlib.contextmanager
def _interruptible(kb: KnowledgeBase) -> Iterator[None]:
    """While a run works in the main thread with Python's own Ctrl-C handling, Ctrl-C
    first breaks the knowledge base's connections, then interrupts as usual."""
    import signal

    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
        yield  # ignored (nohup), or someone else's handler: theirs to decide
        return

    def on_sigint(signum: int, frame: Any) -> None:
        _break_connections(kb)
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, on_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)


_STATUS_TIMEOUT = 5.0  # seconds to connect, and for the update, when marking a run


def _mark_interrupted(connection: settings.Connection, run_id: str) -> bool:
    """Mark run ``run_id`` ``interrupted`` through a new connection, within seconds (the
    server ends the broken connection's transaction, and its locks on the run, when it
    sees the socket close). False when the status cannot be written now: the run then
    stays ``running``, which resumes the same way."""
    from mdesign import cypher
    from neo4j import GraphDatabase, Query
    from neo4j.exceptions import DriverError, Neo4jError

    try:
        with GraphDatabase.driver(connection.uri, auth=(connection.user, connection.password),
                                  connection_timeout=_STATUS_TIMEOUT,
                                  connection_acquisition_timeout=_STATUS_TIMEOUT,
                                  max_transaction_retry_time=_STATUS_TIMEOUT) as driver:
            driver.execute_query(Query(cypher.load("run_finish"), timeout=_STATUS_TIMEOUT),
                                 {"id": run_id, "status": "interrupted", "stopped": None,
                                  "report": None}, database_=connection.database)
        return True
    except (DriverError, Neo4jError, OSError, ValueError):
        return False


def recorded_config(config: RefineConfig, evaluator: Evaluator) -> RefineConfig:
    """``config`` with the evaluator a stored run records: an evaluator of one's own
    given from Python is named by its class (so that a resume does not replay another
    one), and a user's evaluator carries the version that provided it."""
    if not is_custom(config.evaluator) and evaluator.spec != config.evaluator:
        spec, found = describe(evaluator)
        return config.model_copy(update={"evaluator": spec, "evaluator_version": found})
    if config.evaluator_version is None and evaluator.spec == config.evaluator \
            and is_custom(config.evaluator):
        return config.model_copy(update={"evaluator_version": describe(evaluator)[1]})
    return config


def execute(kb: KnowledgeBase, config: RefineConfig, evaluator: Evaluator, *,
            target: Target | None = None, resume: StoredRun | None = None,
            on_step: Callable[[RefinementStep], None] | None = None,
            planners: PlannerCache | None = None,
            on_run: Callable[[str], None] | None = None, name: str | None = None,
            tags: dict[str, str] | None = None) -> RefinementResult:
    """Run (or resume) a refinement, persisting it step by step.

    A clean interruption (Ctrl-C) stops it within seconds, even in the middle of a
    request, marks the run ``interrupted`` and is re-raised as :class:`RunInterrupted`;
    a crash or a lost server leaves it ``running``; both resume with ``mdesign refine
    --resume ID``. Input that cannot work (:func:`check_input`) is refused before a run
    is stored. Any other failure after the run is stored is re-raised as a
    :class:`RunFailed` carrying the run id.

    ``target``: the run's task and space as resolved for ``evaluator``
    (:func:`~mdesign.refinement.target.resolve`; resolved here if not given). What the
    run paid for is recorded as the target's observations (when the evaluator
    ``records_evidence``) from the evaluator's own ledger, which a resumed run's
    ``restore`` fills with its earlier evaluations. ``on_run`` hears the run's id as soon
    as it is stored; ``name`` and ``tags`` label a new run (``mdesign runs list``)."""
    if resume is not None:
        config = resume.config
        store = RunStore.reopen(kb, resume)
        target = target if target is not None else resolve(kb, config)
        evaluator.restore(resume.paid())
    else:
        target = check_input(kb, config, target)  # refused input leaves no run behind
        config = recorded_config(config.model_copy(update={"space": target.space_name}),
                                 evaluator)
        store = RunStore.create(kb, config, target.space_name, name=name, tags=tags)
    if on_run is not None:
        on_run(store.id)
    try:
        with _interruptible(kb):
            result = refine(kb, config, evaluator, on_step=on_step, recorder=store,
                            planners=planners, run_id=store.id, target=target)
            if evaluator.records_evidence:  # its ledger, with provenance
                record_observations(kb, target.space, config.task,
                                    evaluator.evaluations(),
                                    source=f"mdesign:{config.evaluator}")
            store.finish(result)
    except BaseException as exc:
        if interrupted(exc):
            # Ctrl-C, or the error it caused in the request in flight: the run's
            # connection is broken, so its status goes through a fresh one
            _mark_interrupted(kb.connection, store.id)
            raise RunInterrupted(store.id) from exc
        if isinstance(exc, InputError):
            # not something a resume can fix: the run is closed as failed, with the reason
            with contextlib.suppress(MdesignError):
                store.failed(str(exc))
            raise
        if isinstance(exc, MdesignError):
            raise RunFailed(store.id, exc) from exc
        raise
    finally:
        evaluator.close()  # e.g. the train evaluator's worker processes
    return result


class RunFailed(MdesignError):
    """A stored run stopped on an error; its steps so far are kept and it can resume."""

    def __init__(self, run_id: str, cause: MdesignError) -> None:
        self.run_id, self.cause = run_id, cause
        super().__init__(f"{cause.problem}; run {run_id} is kept with its steps so far",
                         f"{cause.fix + ', then ' if cause.fix else ''}resume with "
                         f"`mdesign refine --resume {run_id}`")

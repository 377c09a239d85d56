"""Ask/tell: a refinement whose evaluations happen outside it, in your own loop.

::

    with Refinement(kb, RefineConfig(task="cora", budget=20)) as run:
        while (p := run.ask()) is not None:
            run.tell(p, train_and_score(p.choices))
    print(run.result().best)

It is the same loop as ``mdesign refine`` (:func:`~mdesign.refinement.runs.execute`,
so :func:`~mdesign.refinement.refine.refine` with the configured strategy), run in a
worker thread whose evaluator hands every architecture the loop wants to :meth:`ask`
and waits for :meth:`tell`. For a given configuration and knowledge base, the
proposals are those ``mdesign refine`` pays for, in the same order, when told the same
results.

* A :class:`Proposal` says what to evaluate (uid, choices), why (the step's kind and a
  sentence) and what the strategy expects (``predicted``, ``uncertainty``: in the
  strategy's own units, a walk's weighted gain or the surrogate's normal score).
* With ``batch`` Q > 1 the loop proposes Q at a time: up to Q proposals can be out
  together (parallel workers). Asking for more while the loop waits for results is
  refused (``wait=True`` waits for another thread's :meth:`tell` instead).
* A result told for an architecture the loop did not propose (your own choice, or another
  worker's) is kept: when the loop asks for it, it is answered at once.
* On a knowledge base, the run is stored like any other (``evaluator`` ``ask-tell``):
  each step is written when its result arrives, every told result becomes evidence of
  the target at once (source ``mdesign:ask-tell``), and :meth:`Refinement.resume`
  continues a run left ``running`` or ``interrupted`` (:meth:`close` before the budget is
  spent leaves it ``interrupted``). On in-memory evidence nothing is stored.

Given an ``evaluator``, :meth:`Refinement.drive` is the caller's loop with that evaluator
(ask, evaluate, tell until the run is over): ``mdesign refine`` and the benchmarks run
that way, so one loop serves all. The run then records that evaluator (its spec and
version), proposes only what it can evaluate, in batches when it evaluates batches
together, and records its results as evidence only if it ``records_evidence`` (the
stored-results oracle does not). The loop then runs in the caller's thread, and each
time it asks, the evaluator answers at once: an error or Ctrl-C in the evaluator stops it
where it asked, so the run ends as it always has: kept and resumable (``RunFailed``,
``RunInterrupted``), or failed on refused input.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from mdesign.core.errors import InputError
from mdesign.core.evaluation import Evaluation, Evaluator, Intent, PaidEvaluator
from mdesign.core.space import DesignSpace, key_of
from mdesign.kb.knowledge_base import KnowledgeBase
from mdesign.kb.observations import record_observations
from mdesign.refinement.config import RefineConfig, RefinementResult, RefinementStep
from mdesign.refinement.custom import as_evaluation, in_space
from mdesign.refinement.evidence import EvidenceReader
from mdesign.refinement.refine import PlannerCache, refine
from mdesign.refinement.runs import (
    RunInterrupted,
    StoredRun,
    check_input,
    execute,
    recorded_config,
    resumable,
)
from mdesign.refinement.target import Target, resolve
from pydantic import BaseModel

SPEC = "ask-tell"  # the evaluator a stored ask/tell run records


class Proposal(BaseModel):
    """An architecture the refinement wants evaluated next, and why."""

    uid: str
    choices: dict[str, Any]
    kind: str
    predicted: float | None = None
    uncertainty: float | None = None
    reason: str = ""


class _Closed(KeyboardInterrupt):
    """Raised inside the loop when the refinement is closed before its budget is spent
    (an interruption: a stored run is left ``interrupted`` and resumes)."""


class _ToldEvaluator(PaidEvaluator):
    """The loop's evaluator: each new architecture is queued as a proposal and waited for.
    Driven by an evaluator (``inner``), it says what that one can evaluate and how."""

    records_evidence = False  # evidence is recorded as each result is told

    def __init__(self, owner: Refinement, task: str, budget: int,
                 inner: Evaluator | None = None) -> None:
        super().__init__(task, budget)
        self.owner, self.inner = owner, inner
        self.intents: dict[str, Intent] = {}
        # without an evaluator of its own a batch is proposed together (parallel workers)
        self.concurrent = True if inner is None else inner.concurrent

    @property
    def spec(self) -> str:
        return SPEC if self.inner is None else self.inner.spec

    def can_evaluate(self, uid: str) -> bool:
        if self.inner is not None:
            return self.inner.can_evaluate(uid)
        return in_space(self.owner.space, uid)

    def intend(self, uid: str, intent: Intent) -> None:
        self.intents[uid] = intent
        if self.inner is not None:
            self.inner.intend(uid, intent)

    def restore(self, paid: list[Evaluation]) -> None:
        if self.inner is None:
            super().restore(paid)
            return
        # the evaluator's own copies (the oracle re-reads its table), re-read for free
        self.inner.restore(paid)
        super().restore([self.inner.evaluate(e.uid).model_copy(update={"paid": e.paid})
                         for e in paid])

    def _measure(self, uid: str) -> Evaluation:
        return self.owner._wait_for([uid])[0]

    def _measure_many(self, uids: list[str]) -> list[Evaluation]:
        return self.owner._wait_for(uids)


class Refinement:
    """A refinement driven by :meth:`ask` and :meth:`tell` (the module's docstring)."""

    def __init__(self, kb: EvidenceReader, config: RefineConfig, *,
                 evaluator: Evaluator | None = None, target: Target | None = None,
                 store: bool = True, on_step: Callable[[RefinementStep], None] | None = None,
                 planners: PlannerCache | None = None, name: str | None = None,
                 tags: dict[str, str] | None = None,
                 loop_options: dict[str, Any] | None = None,
                 _resume: StoredRun | None = None) -> None:
        stored = store and isinstance(kb, KnowledgeBase)
        if stored and _resume is None and evaluator is None:
            # refused input is an error here, before any ask (a driven run's comes out
            # of drive(): the loop checks it again before it stores the run)
            target = check_input(kb, config, target)  # type: ignore[arg-type]
        if _resume is not None:
            config = _resume.config
        elif evaluator is None:
            config = config.model_copy(update={"evaluator": SPEC})
        else:
            config = recorded_config(config, evaluator)
        self.kb, self.config = kb, config
        self.target = target if target is not None else resolve(kb, self.config)
        self.space: DesignSpace = self.target.space
        self.stored = stored
        self.inner = evaluator
        self.evaluator = _ToldEvaluator(self, self.target.task.name, config.budget, evaluator)
        self._records = evaluator is None or evaluator.records_evidence
        self._resume = _resume
        self._options: dict[str, Any] = {"on_step": on_step, "planners": planners,
                                         **(loop_options or {})}
        self._labels: dict[str, Any] = {"name": name, "tags": tags}
        self._cv = threading.Condition()
        self._queue: deque[Proposal] = deque()  # proposed, not yet handed out
        self._out: dict[str, Proposal] = {}     # handed out, waiting for a result
        self._told: dict[str, Evaluation] = {}
        self._wanted: set[str] = set()          # what the loop waits for now
        self._blocked = False                   # whether it is waiting for them
        self._closing = False
        self._driving = False  # drive(): the loop runs in the caller's thread
        self._done = False
        self._error: BaseException | None = None
        self._result: RefinementResult | None = None
        self.run_id: str | None = _resume.id if _resume is not None else None
        self._thread: threading.Thread | None = None  # started by the first ask()

    def _start(self) -> None:
        if self._thread is None and not self._driving:
            self._thread = threading.Thread(target=self._loop, name="mdesign-refinement",
                                            daemon=True)
            self._thread.start()

    @classmethod
    def resume(cls, kb: KnowledgeBase, run_id: str, *, evaluator: Evaluator | None = None,
               **options: Any) -> Refinement:
        """Continue stored run ``run_id``: its paid results replay for free. Without an
        ``evaluator``, an ask/tell run; with one, a run made with that evaluator."""
        return cls.resuming(kb, resumable(kb, run_id), evaluator=evaluator, **options)

    @classmethod
    def resuming(cls, kb: KnowledgeBase, run: StoredRun, *,
                 evaluator: Evaluator | None = None, **options: Any) -> Refinement:
        """:meth:`resume` of a run already loaded (``runs.resumable``)."""
        made_with = run.config.evaluator
        if evaluator is None and made_with != SPEC:
            raise InputError(f"run {run.id!r} was made with the {made_with!r} "
                             "evaluator, not through ask/tell",
                             f"resume it with `mdesign refine --resume {run.id}`")
        if evaluator is not None and evaluator.spec != made_with:
            raise InputError(f"run {run.id!r} was made with the {made_with!r} evaluator, "
                             f"not {evaluator.spec!r}", "resume it with its own evaluator")
        return cls(kb, run.config, evaluator=evaluator, _resume=run, **options)

    # -- the loop's side (worker thread) ------------------------------------------------

    def _loop(self) -> None:
        try:
            if self.stored:
                kb: KnowledgeBase = self.kb  # type: ignore[assignment]
                self._result = execute(kb, self.config, self.evaluator, target=self.target,
                                       resume=self._resume, on_run=self._on_run,
                                       **self._labels, **self._options)
            else:
                self._result = refine(self.kb, self.config, self.evaluator,
                                      target=self.target, **self._options)
        except RunInterrupted as exc:
            self.run_id = exc.run_id
            if not self._closing:
                self._error = exc
        except _Closed:
            pass
        except BaseException as exc:  # handed to the caller of ask()
            self._error = exc
        finally:
            with self._cv:
                self._done = True
                self._cv.notify_all()

    def _on_run(self, run_id: str) -> None:
        with self._cv:
            self.run_id = run_id
            self._cv.notify_all()

    def _wait_for(self, uids: list[str]) -> list[Evaluation]:
        with self._cv:
            for u in uids:
                if u not in self._told and u not in self._out and \
                        all(p.uid != u for p in self._queue):
                    self._queue.append(self._proposal(u))
            if not self._driving:
                return self._told_results(uids)
        return self._evaluate_queued(uids)

    def _told_results(self, uids: list[str]) -> list[Evaluation]:
        """Wait (holding the condition) until every one of ``uids`` is told."""
        self._wanted = set(uids)
        self._blocked = True
        self._cv.notify_all()
        try:
            while not all(u in self._told for u in uids):
                if self._closing:
                    raise _Closed
                self._cv.wait()
        finally:
            self._blocked = False
            self._wanted = set()
        return [self._told[u] for u in uids]

    def _evaluate_queued(self, uids: list[str]) -> list[Evaluation]:
        """drive(): ask for what is queued, evaluate it with the refinement's evaluator (a
        batch together where it can), tell. In the loop's own thread, so an error or
        Ctrl-C in the evaluator stops the loop where the architecture was asked for."""
        batch = [p.uid for p in self._take_queued()]
        if batch:
            assert self.inner is not None
            found = (self.inner.evaluate_many(batch) if len(batch) > 1
                     else [self.inner.evaluate(batch[0])])
            for e in found:
                self.tell(e.uid, e)
        return [self._told[u] for u in uids]

    def _take_queued(self) -> list[Proposal]:
        """Hand out every queued proposal not told meanwhile."""
        out = []
        with self._cv:
            while self._queue:
                p = self._queue.popleft()
                if p.uid not in self._told:
                    self._out[p.uid] = p
                    out.append(p)
        return out

    def _proposal(self, uid: str) -> Proposal:
        intent = self.evaluator.intents.pop(uid, None) or Intent(kind="edit")
        return Proposal(uid=uid, choices=dict(self.space.parse_key(key_of(uid))),
                        kind=intent.kind, predicted=intent.predicted,
                        uncertainty=intent.uncertainty, reason=intent.reason)

    # -- the caller's side --------------------------------------------------------------

    def ask(self, wait: bool = False) -> Proposal | None:
        """The next architecture to evaluate, or None when the run is over (budget
        spent, or nothing left to try). Re-raises what stopped the loop, if anything."""
        self._start()
        with self._cv:
            while True:
                while self._queue and self._queue[0].uid in self._told:
                    self._queue.popleft()  # told meanwhile (another worker's result)
                if self._queue:
                    p = self._queue.popleft()
                    self._out[p.uid] = p
                    return p
                if self._done:
                    if self._error is not None:
                        raise self._error
                    return None
                stuck = self._blocked and any(u not in self._told for u in self._wanted)
                if stuck and not wait:
                    raise InputError(f"{len(self._out)} proposal(s) are out for evaluation "
                                     "and the refinement needs their results to go on",
                                     "tell their results first, or raise batch to have "
                                     "more out at once")
                self._cv.wait()

    def pending(self) -> list[Proposal]:
        """The proposals handed out and not yet told."""
        with self._cv:
            return list(self._out.values())

    def tell(self, proposal: Proposal | str, result: Any) -> Evaluation:
        """Give the result of ``proposal`` (or of any architecture of the space, by uid):
        a number (the selection score, higher is better), a mapping with ``score`` (and
        ``valid``, ``test``, ...), an :class:`~mdesign.core.evaluation.Evaluation`, or
        None for a failed evaluation. Returns it as recorded."""
        uid = proposal.uid if isinstance(proposal, Proposal) else proposal
        if not self.evaluator.can_evaluate(uid):
            raise InputError(f"{uid} is not an architecture of space {self.space.name!r}",
                             "tell results of the proposals, or of that space's uids")
        e = as_evaluation(uid, result, {"evaluator": SPEC})
        with self._cv:
            if uid in self._told:
                raise InputError(f"{uid} was already told", "tell each result once")
            self._told[uid] = e
            self._out.pop(uid, None)
            self._cv.notify_all()
        if self.stored and self._records:  # evidence of the target from now on
            kb: KnowledgeBase = self.kb  # type: ignore[assignment]
            record_observations(kb, self.space, self.target.task.name, [e],
                                source=f"mdesign:{self.config.evaluator}")
        return e

    def told(self) -> dict[str, Evaluation]:
        """Every result told so far, by uid."""
        with self._cv:
            return dict(self._told)

    @property
    def done(self) -> bool:
        return self._done

    def result(self) -> RefinementResult:
        """The run's outcome (after :meth:`ask` returned None)."""
        if self._thread is not None:
            self._thread.join(timeout=0 if not self._done else None)
        if self._error is not None:
            raise self._error
        if self._result is None:
            raise InputError("the refinement has not finished",
                             "ask until ask() returns None, then read the result")
        return self._result

    # -- driven by an evaluator ---------------------------------------------------------

    def drive(self) -> RefinementResult:
        """Run to the end with the refinement's own evaluator: each time the loop asks,
        what it asks for is evaluated (a batch together where the evaluator can) and
        told. The loop runs in this thread, so an error or Ctrl-C in the evaluator
        stops it where it asked (the run ends as the module docstring says)."""
        if self.inner is None:
            raise InputError("drive() needs an evaluator",
                             "pass evaluator=... to Refinement, or ask and tell yourself")
        if self._thread is not None or self._done:
            raise InputError("this refinement is already being asked",
                             "drive a new Refinement, or go on asking this one")
        self._driving = True
        try:
            self._loop()
        finally:
            self.inner.close()  # e.g. the train evaluator's worker processes
        return self.result()

    def close(self) -> None:
        """Stop the loop; a stored run not finished yet is left ``interrupted``."""
        with self._cv:
            self._closing = True
            self._cv.notify_all()
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> Refinement:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

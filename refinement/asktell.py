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
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

from mdesign.core.errors import InputError
from mdesign.core.evaluation import Evaluation, Intent, PaidEvaluator
from mdesign.core.space import DesignSpace, key_of
from mdesign.kb.knowledge_base import KnowledgeBase
from mdesign.kb.observations import record_observations
from mdesign.refinement.config import RefineConfig, RefinementResult
from mdesign.refinement.custom import as_evaluation, in_space
from mdesign.refinement.evidence import EvidenceReader
from mdesign.refinement.refine import refine
from mdesign.refinement.runs import (
    RunInterrupted,
    StoredRun,
    check_input,
    execute,
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
    """The loop's evaluator: each new architecture is queued as a proposal and waited for."""

    concurrent = True  # a batch is proposed together
    records_evidence = False  # evidence is recorded as each result is told
    spec = SPEC  # type: ignore[assignment]

    def __init__(self, owner: Refinement, task: str, budget: int) -> None:
        super().__init__(task, budget)
        self.owner = owner
        self.intents: dict[str, Intent] = {}

    def can_evaluate(self, uid: str) -> bool:
        return in_space(self.owner.space, uid)

    def intend(self, uid: str, intent: Intent) -> None:
        self.intents[uid] = intent

    def _measure(self, uid: str) -> Evaluation:
        return self.owner._wait_for([uid])[0]

    def _measure_many(self, uids: list[str]) -> list[Evaluation]:
        return self.owner._wait_for(uids)


class Refinement:
    """A refinement driven by :meth:`ask` and :meth:`tell` (the module's docstring)."""

    def __init__(self, kb: EvidenceReader, config: RefineConfig, *,
                 target: Target | None = None, store: bool = True,
                 _resume: StoredRun | None = None) -> None:
        stored = store and isinstance(kb, KnowledgeBase)
        if stored:
            target = check_input(kb, config, target)  # type: ignore[arg-type]
        self.kb, self.config = kb, config.model_copy(update={"evaluator": SPEC})
        self.target = target if target is not None else resolve(kb, self.config)
        self.space: DesignSpace = self.target.space
        self.stored = stored
        self.evaluator = _ToldEvaluator(self, self.target.task.name, config.budget)
        self._resume = _resume
        self._cv = threading.Condition()
        self._queue: deque[Proposal] = deque()  # proposed, not yet handed out
        self._out: dict[str, Proposal] = {}     # handed out, waiting for a result
        self._told: dict[str, Evaluation] = {}
        self._wanted: set[str] = set()          # what the loop waits for now
        self._blocked = False                   # whether it is waiting for them
        self._closing = False
        self._done = False
        self._error: BaseException | None = None
        self._result: RefinementResult | None = None
        self.run_id: str | None = _resume.id if _resume is not None else None
        self._thread = threading.Thread(target=self._loop, name="mdesign-refinement",
                                        daemon=True)
        self._thread.start()

    @classmethod
    def resume(cls, kb: KnowledgeBase, run_id: str) -> Refinement:
        """Continue stored ask/tell run ``run_id``: its paid results replay for free."""
        run = resumable(kb, run_id)
        if run.config.evaluator != SPEC:
            raise InputError(f"run {run_id!r} was made with the {run.config.evaluator!r} "
                             "evaluator, not through ask/tell",
                             f"resume it with `mdesign refine --resume {run_id}`")
        return cls(kb, run.config, _resume=run)

    # -- the loop's side (worker thread) ------------------------------------------------

    def _loop(self) -> None:
        try:
            if self.stored:
                kb: KnowledgeBase = self.kb  # type: ignore[assignment]
                self._result = execute(kb, self.config, self.evaluator, target=self.target,
                                       resume=self._resume, on_run=self._on_run)
            else:
                self._result = refine(self.kb, self.config, self.evaluator,
                                      target=self.target)
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

    def _proposal(self, uid: str) -> Proposal:
        intent = self.evaluator.intents.pop(uid, None) or Intent(kind="edit")
        return Proposal(uid=uid, choices=dict(self.space.parse_key(key_of(uid))),
                        kind=intent.kind, predicted=intent.predicted,
                        uncertainty=intent.uncertainty, reason=intent.reason)

    # -- the caller's side --------------------------------------------------------------

    def ask(self, wait: bool = False) -> Proposal | None:
        """The next architecture to evaluate, or None when the run is over (budget
        spent, or nothing left to try). Re-raises what stopped the loop, if anything."""
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
        if self.stored:  # evidence of the target from now on
            kb: KnowledgeBase = self.kb  # type: ignore[assignment]
            record_observations(kb, self.space, self.target.task.name, [e],
                                source=f"mdesign:{SPEC}")
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
        self._thread.join(timeout=0 if not self._done else None)
        if self._error is not None:
            raise self._error
        if self._result is None:
            raise InputError("the refinement has not finished",
                             "ask until ask() returns None, then read the result")
        return self._result

    def close(self) -> None:
        """Stop the loop; a stored run not finished yet is left ``interrupted``."""
        with self._cv:
            self._closing = True
            self._cv.notify_all()
        self._thread.join()

    def __enter__(self) -> Refinement:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

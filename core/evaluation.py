"""The evaluation record and the evaluator interface, with no Neo4j and no torch.

An evaluator answers ``evaluate(uid) -> Evaluation`` under a strict budget: every
distinct architecture whose performance on the target is read costs one unit; reading one
already paid for is free; the budget is never exceeded (:class:`BudgetExhausted` is
raised instead). :class:`PaidEvaluator` is that accounting, shared by every evaluator
(the stored-results oracle, real training, a user's own).
"""

from __future__ import annotations

from typing import Any, Protocol

from mdesign.core.errors import InputError, MdesignError
from pydantic import BaseModel


class Evaluation(BaseModel):
    uid: str
    score: float
    valid: float | None = None
    test: float | None = None
    params: float | None = None
    latency: float | None = None
    paid: bool = True
    failed: bool = False
    provenance: dict[str, Any] | None = None


class Intent(BaseModel):
    """Why a strategy asks for an architecture, told to the evaluator before it pays
    (:meth:`Evaluator.intend`): the step's kind, the strategy's predicted score (or gain,
    for a walk's edit) and uncertainty where it has them, and a sentence for people."""

    kind: str
    predicted: float | None = None
    uncertainty: float | None = None
    reason: str = ""


class BudgetExhausted(MdesignError):
    """Raised instead of spending more than the budget."""


class Evaluator(Protocol):
    """``evaluate(uid) -> Evaluation`` under a budget. ``records_evidence``: whether its
    results are new to the knowledge base (real training: stored as the target's evidence
    after a run) or already stored (the benchmark oracle: nothing to add)."""

    budget: int
    spent: int
    records_evidence: bool
    spec: str  # what a stored run records as its evaluator, and a resume loads
    concurrent: bool  # whether evaluate_many evaluates a batch together

    def can_evaluate(self, uid: str) -> bool: ...

    def intend(self, uid: str, intent: Intent) -> None:
        """Hear why ``uid`` is about to be evaluated (an ask/tell evaluator hands it on)."""
        ...

    def evaluate(self, uid: str) -> Evaluation: ...

    def restore(self, paid: list[Evaluation]) -> None:
        """Count ``paid`` as already spent and re-read them for free (resuming a run)."""
        ...

    def evaluations(self) -> list[Evaluation]:
        """What it paid for, with provenance (read when ``records_evidence``)."""
        ...

    def evaluate_many(self, uids: list[str]) -> list[Evaluation]:
        """Evaluate a batch, in the order asked (together where ``concurrent``)."""
        ...

    def close(self) -> None:
        """Release what it holds (worker processes, a cluster connection)."""
        ...


class PaidEvaluator:
    """The budget accounting every evaluator shares; subclasses say what can be evaluated
    (``can_evaluate``) and how (``_measure``).

    A distinct architecture costs one unit when first evaluated; a re-read is free (its
    copy says ``paid=False``); past the budget :class:`BudgetExhausted` is raised and
    nothing is spent; ``restore`` counts a resumed run's evaluations as spent."""

    records_evidence = False
    concurrent = False

    def __init__(self, task: str, budget: int) -> None:
        if budget < 1:
            raise InputError(f"the budget must be at least 1 (got {budget})",
                             "pass --budget 1 or more")
        self.task, self.budget, self.spent = task, budget, 0
        self._paid: dict[str, Evaluation] = {}

    def can_evaluate(self, uid: str) -> bool:
        raise NotImplementedError

    def _measure(self, uid: str) -> Evaluation:
        raise NotImplementedError

    @property
    def spec(self) -> str:
        """``python:MODULE:CLASS`` of this evaluator (the built-in ones say their name)."""
        return f"python:{type(self).__module__}:{type(self).__qualname__}"

    def intend(self, uid: str, intent: Intent) -> None:
        """Nothing to do with it here; the ask/tell evaluator hands it on."""

    def _refusal(self, uid: str) -> InputError:
        return InputError(f"{uid} cannot be evaluated on {self.task!r}",
                          "propose architectures of the task's own space")

    def _charge(self, uids: list[str]) -> None:
        """Check that ``uids`` (new, distinct) can be evaluated and paid for, then pay."""
        for u in uids:
            if not self.can_evaluate(u):
                raise self._refusal(u)
        if self.spent + len(uids) > self.budget:
            raise BudgetExhausted(f"budget of {self.budget} evaluations spent",
                                  "raise the budget")
        self.spent += len(uids)

    def evaluate(self, uid: str) -> Evaluation:
        if uid in self._paid:
            return self._paid[uid].model_copy(update={"paid": False})
        self._charge([uid])
        self._paid[uid] = self._measure(uid)
        return self._paid[uid]

    def evaluations(self) -> list[Evaluation]:
        return list(self._paid.values())

    def _measure_many(self, uids: list[str]) -> list[Evaluation]:
        """Measure new, distinct, already charged ``uids`` together (``concurrent``)."""
        return [self._measure(u) for u in uids]

    def evaluate_many(self, uids: list[str]) -> list[Evaluation]:
        """Evaluate a batch; results come back in the order asked, so a run stays
        deterministic. A ``concurrent`` evaluator charges the new ones at once and measures
        them together (``_measure_many``); otherwise one after the other."""
        new = [u for u in dict.fromkeys(uids) if u not in self._paid]
        if not self.concurrent or len(new) <= 1:
            return [self.evaluate(u) for u in uids]
        self._charge(new)
        self._paid.update((e.uid, e) for e in self._measure_many(new))
        return [self._paid[u] if u in new
                else self._paid[u].model_copy(update={"paid": False}) for u in uids]

    def close(self) -> None:
        """Nothing to release here; evaluators with workers override it."""

    def _restored(self, e: Evaluation) -> Evaluation:
        return e

    def restore(self, paid: list[Evaluation]) -> None:
        for e in paid:
            if e.uid not in self._paid:
                if self.spent >= self.budget:
                    raise InputError(f"the run already paid for more than {self.budget} "
                                     "evaluations", "resume with the run's own budget")
                self._paid[e.uid] = self._restored(e)
                self.spent += 1

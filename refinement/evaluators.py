"""Evaluators: ``evaluate(uid) -> Evaluation`` under a strict budget.

Every distinct architecture whose performance on the target is read costs one unit of
budget; reading one already paid for is free; the budget is never exceeded
(:class:`BudgetExhausted` is raised instead). :class:`BenchmarkEvaluator` is the
leave-one-task-out oracle: the target's stored results, which refinement must never see
through retrieval. The real-training evaluator (issue 4) implements the same protocol.
"""

from __future__ import annotations

from typing import Any, Protocol

from mdesign.kb.errors import InputError, MdesignError
from mdesign.kb.knowledge_base import KnowledgeBase
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


class BudgetExhausted(MdesignError):
    """Raised instead of spending more than the budget."""


class Evaluator(Protocol):
    """``evaluate(uid) -> Evaluation`` under a budget. ``records_evidence``: whether its
    results are new to the knowledge base (real training: stored as the target's evidence
    after a run) or already stored (the benchmark oracle: nothing to add)."""

    budget: int
    spent: int
    records_evidence: bool

    def can_evaluate(self, uid: str) -> bool: ...

    def evaluate(self, uid: str) -> Evaluation: ...

    def restore(self, paid: list[Evaluation]) -> None:
        """Count ``paid`` as already spent and re-read them for free (resuming a run)."""
        ...

    def evaluations(self) -> list[Evaluation]:
        """What it paid for, with provenance (read when ``records_evidence``)."""
        ...


def load_target_table(kb: KnowledgeBase, task: str) -> dict[str, Evaluation]:
    """Every stored result of ``task`` (the oracle; load once, share between runs)."""
    rows = kb.query("task_results", task=task)[0]["results"]
    if not rows:
        raise InputError(f"task {task!r} has no stored results to benchmark against",
                         "import its results first, or use another evaluator")
    return {u: Evaluation(uid=u, score=s, valid=v, test=t, params=p, latency=lat)
            for u, s, v, t, p, lat in rows if s is not None}  # failed results: no score


class PaidEvaluator:
    """The budget accounting every evaluator shares; subclasses say what can be evaluated
    (``can_evaluate``) and how (``_measure``).

    A distinct architecture costs one unit when first evaluated; a re-read is free (its
    copy says ``paid=False``); past the budget :class:`BudgetExhausted` is raised and
    nothing is spent; ``restore`` counts a resumed run's evaluations as spent."""

    records_evidence = False

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


class BenchmarkEvaluator(PaidEvaluator):
    """The target task's stored results as a paid oracle (leave one task out)."""

    def __init__(self, kb: KnowledgeBase | None, task: str, budget: int,
                 table: dict[str, Evaluation] | None = None) -> None:
        super().__init__(task, budget)
        if table is None:
            if kb is None:
                raise ValueError("give a knowledge base or a preloaded table")
            table = load_target_table(kb, task)
        self._table = table

    def can_evaluate(self, uid: str) -> bool:
        return uid in self._table

    def _measure(self, uid: str) -> Evaluation:
        return self._table[uid]

    def _refusal(self, uid: str) -> InputError:
        return InputError(f"{uid} has no result on {self.task!r}",
                          "propose architectures of the task's own space")

    def _restored(self, e: Evaluation) -> Evaluation:
        return self._table.get(e.uid, e)

    def oracle_best(self) -> Evaluation:
        """The search-space best by selection score (for reports only, never for search)."""
        return max(self._table.values(), key=lambda e: (e.score, e.uid))


EVALUATORS = ("benchmark", "train")


def make_evaluator(kb: KnowledgeBase, name: str, task: str, budget: int,
                   space: str | None = None, train: Any = None, workers: int = 1,
                   executor: str = "local", address: str | None = None) -> Evaluator:
    """The evaluator called ``name`` for ``task`` (the CLI's ``--evaluator``).

    ``space`` (default: the target's, :func:`~mdesign.refinement.refine.target_space`),
    ``train`` (a :class:`~mdesign.training.trainer.TrainConfig`), ``workers``, ``executor``
    and ``address`` configure ``train`` (see :mod:`mdesign.training.executors`)."""
    if name == "benchmark":
        if executor != "local" or workers != 1 or address is not None:
            raise InputError("--workers, --executor and --address are for real training",
                             "add --evaluator train, or drop them")
        return BenchmarkEvaluator(kb, task, budget)
    if name == "train":
        from mdesign.refinement.refine import target_space  # refine imports this module
        from mdesign.training.evaluator import TrainEvaluator

        space = space or target_space(kb, task)
        return TrainEvaluator(kb, task, budget, kb.space(space), train, workers=workers,
                              executor=executor, address=address)
    raise InputError(f"unknown evaluator {name!r}", f"choose from {', '.join(EVALUATORS)}")

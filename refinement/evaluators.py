"""The evaluators a refinement can use, on the interface of :mod:`mdesign.core.evaluation`.

:class:`BenchmarkEvaluator` is the leave-one-task-out oracle: the target's stored
results, which refinement must never see through retrieval. The real-training evaluator
(:class:`~mdesign.training.evaluator.TrainEvaluator`) implements the same interface.
"""

from __future__ import annotations

from typing import Any

from mdesign.core.errors import InputError
from mdesign.core.evaluation import Evaluation, Evaluator, PaidEvaluator
from mdesign.kb.knowledge_base import KnowledgeBase
from mdesign.refinement.custom import is_custom
from mdesign.refinement.custom import make as make_custom
from mdesign.refinement.target import Target


def load_target_table(kb: KnowledgeBase, task: str) -> dict[str, Evaluation]:
    """Every stored result of ``task`` (the oracle; load once, share between runs)."""
    rows = kb.task_results(task)
    if not rows:
        raise InputError(f"task {task!r} has no stored results to benchmark against",
                         "import its results first, or use another evaluator")
    return {r.uid: r.evaluation() for r in rows if r.score is not None}  # failed: no score


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

    spec = "benchmark"  # type: ignore[assignment]

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


def make_evaluator(kb: KnowledgeBase, name: str, target: Target, budget: int,
                   train: Any = None, workers: int = 1, executor: str = "local",
                   address: str | None = None, version: str | None = None,
                   resuming: bool = False) -> Evaluator:
    """The evaluator called ``name`` for the resolved ``target`` (the CLI's ``--evaluator``).

    ``train`` (a :class:`~mdesign.training.config.TrainConfig`; with ``ghn``, trainings
    start from the weights of that hypernetwork, :func:`~mdesign.predictors.ghn.ghn_initialiser`),
    ``workers``, ``executor`` and ``address`` configure ``train`` (see
    :mod:`mdesign.training.executors`). Any other name is a user's evaluator
    (:mod:`~mdesign.refinement.custom`); ``resuming`` refuses one whose version is not
    the stored run's ``version``."""
    if name == "ask-tell":
        raise InputError("this run was driven through ask/tell: its results came from "
                         "the caller, so no evaluator can replay it here",
                         "resume it from Python: mdesign.refinement.Refinement.resume(kb, "
                         "RUN_ID)")
    if is_custom(name):
        if executor != "local" or workers != 1 or address is not None:
            raise InputError("--workers, --executor and --address are for real training",
                             "add --evaluator train, or drop them")
        return make_custom(name, target.task.name, budget, target.space,
                           stored_version=version, resuming=resuming)
    if name == "benchmark":
        if executor != "local" or workers != 1 or address is not None:
            raise InputError("--workers, --executor and --address are for real training",
                             "add --evaluator train, or drop them")
        return BenchmarkEvaluator(kb, target.task.name, budget)
    if name == "train":
        from mdesign.tasks.store import load_task
        from mdesign.training.evaluator import TrainEvaluator

        initialise = None
        if train is not None and train.ghn:
            from mdesign.predictors.ghn import ghn_initialiser

            initialise = ghn_initialiser(train.ghn)
        return TrainEvaluator(load_task(kb, target.task.name), target.task.name, budget,
                              target.space, train, workers=workers,
                              executor=executor, address=address, initialise=initialise)
    raise AssertionError(name)  # is_custom covers every other name

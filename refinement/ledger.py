"""What a run has paid for and recorded, shared by every strategy: the paid evaluations
(the evaluator's results, each marked paid), the best within the cost limits, the steps
as they are recorded, and the time spent inside the evaluator (kept out of the overhead
per step)."""

from __future__ import annotations

import time
from collections.abc import Callable

from mdesign.core.evaluation import Evaluation, Evaluator, Intent
from mdesign.refinement.config import RefinementStep, RunRecorder
from mdesign.refinement.costs import CostModel


class RunLedger:
    """Paid evaluations, the best, the recorded steps of one run."""

    def __init__(self, evaluator: Evaluator, costs: CostModel,
                 recorder: RunRecorder | None,
                 on_step: Callable[[RefinementStep], None] | None) -> None:
        self.evaluator, self.costs = evaluator, costs
        self.recorder, self.on_step = recorder, on_step
        self.seen: dict[str, Evaluation] = {}
        self.steps: list[RefinementStep] = []
        self.best: Evaluation | None = None
        self.eval_time = 0.0
        self.weights: dict[str, float] = {}
        self.stall = 0  # paid evaluations since the last new best

    def intend(self, uid: str, kind: str, reason: str, predicted: float | None = None,
               uncertainty: float | None = None) -> None:
        """Tell the evaluator why ``uid`` comes next (before it is paid for; an ask/tell
        run hands this on as the proposal's explanation). Nothing for one already paid."""
        if uid not in self.seen:
            self.evaluator.intend(uid, Intent(kind=kind, predicted=predicted,
                                              uncertainty=uncertainty, reason=reason))

    def evaluate(self, uid: str) -> Evaluation:
        t = time.perf_counter()
        try:
            # a resumed run re-reads what it paid for before (free): still a paid result
            e = self.evaluator.evaluate(uid).model_copy(update={"paid": True})
        finally:
            self.eval_time += time.perf_counter() - t
        self._keep(e)
        return e

    def evaluate_many(self, uids: list[str]) -> list[Evaluation]:
        """Evaluate a batch, together when the evaluator is ``concurrent``."""
        if not self.evaluator.concurrent or len(uids) == 1:
            return [self.evaluate(u) for u in uids]
        t = time.perf_counter()
        try:
            results = [e.model_copy(update={"paid": True})
                       for e in self.evaluator.evaluate_many(uids)]
        finally:
            self.eval_time += time.perf_counter() - t
        for e in results:
            self._keep(e)
        return results

    def _keep(self, e: Evaluation) -> None:
        """Note a paid evaluation, and whether it is the best within the limits."""
        self.seen[e.uid] = e
        if self.costs.within_limits(e) and (self.best is None or (e.score, e.uid) >
                                            (self.best.score, self.best.uid)):
            self.best = e
            self.stall = 0
        else:
            self.stall += 1

    def record(self, step: RefinementStep) -> None:
        self.steps.append(step)
        if self.recorder is not None:
            self.recorder.step(step)
        if self.on_step is not None:
            self.on_step(step)

    def step_of(self, kind: str, e: Evaluation, **extra: object) -> RefinementStep:
        best = self.best or e
        return RefinementStep(step=len(self.steps), kind=kind, uid=e.uid, score=e.score,
                              valid=e.valid, test=e.test, params=e.params, latency=e.latency,
                              best_uid=best.uid, best_score=best.score,
                              weights=dict(self.weights), **extra)  # type: ignore[arg-type]

    @property
    def budget_left(self) -> int:
        return self.evaluator.budget - self.evaluator.spent

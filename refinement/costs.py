"""The cost model of a constrained refinement (``max_params``, ``max_latency``).

A result is within the limits when each measured cost is at most its limit (an unmeasured
cost passes). Before paying, a candidate's cost on the target is estimated from the
sources' stored costs: a cost depends on the task (input sizes), so source ``t``'s stored
cost is scaled by ``r_t``, the median ratio measured/stored over the architectures paid
for so far that ``t`` also stored (1 before any), and the estimate is the largest scaled
cost ``max_t r_t * cost_t(m)``.
"""

from __future__ import annotations

from mdesign.core.evaluation import Evaluation

Costs = dict[str, dict[str, float | None]]  # task -> {"params": ..., "latency": ...}


class CostModel:
    """The limits and the target/source cost ratios learnt during one run."""

    def __init__(self, max_params: float | None, max_latency: float | None) -> None:
        self.max_params, self.max_latency = max_params, max_latency
        self.ratios: dict[tuple[str, str], list[float]] = {}

    @property
    def limited(self) -> bool:
        return self.max_params is not None or self.max_latency is not None

    def within_limits(self, e: Evaluation) -> bool:
        """Whether a measured result is within the limits."""
        return not ((self.max_params is not None and e.params is not None
                     and e.params > self.max_params)
                    or (self.max_latency is not None and e.latency is not None
                        and e.latency > self.max_latency))

    def ok(self, costs: Costs) -> bool:
        """Whether a candidate's estimated cost on the target is within the limits."""
        for name, limit in (("params", self.max_params), ("latency", self.max_latency)):
            if limit is None:
                continue
            known = [c[name] * self.ratio(t, name) for t, c in costs.items()
                     if c.get(name) is not None]
            if known and max(known) > limit:  # type: ignore[operator]
                return False
        return True

    def cheaper(self, costs: Costs, here: Evaluation) -> bool:
        """Whether a candidate is estimated to cost less than ``here`` on every cost of
        ``here`` that is over its limit (the way back from over a limit)."""
        for name, limit, now in (("params", self.max_params, here.params),
                                 ("latency", self.max_latency, here.latency)):
            if limit is None or now is None or now <= limit:
                continue
            known = [c[name] * self.ratio(t, name) for t, c in costs.items()
                     if c.get(name) is not None]
            if not known or max(known) >= now:  # type: ignore[operator]
                return False
        return True

    def ratio(self, task: str, name: str) -> float:
        """The median measured/stored ratio of ``task``'s cost ``name`` (1 before any)."""
        r = sorted(self.ratios.get((task, name), []))
        return r[len(r) // 2] if r else 1.0

    def learn(self, costs: Costs, e: Evaluation) -> None:
        """Note the target's measured costs of an architecture the sources stored."""
        for t, cost in costs.items():
            for name, measured in (("params", e.params), ("latency", e.latency)):
                stored = cost.get(name)
                if measured is not None and stored:
                    self.ratios.setdefault((t, name), []).append(measured / stored)

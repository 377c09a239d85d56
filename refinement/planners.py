"""Predictive task planners: a learned gain predictor per source (step 6 of
the refinement method, docs/refinement.md).

A source's stored evidence covers only the edits it measured, and a source whose weight
has collapsed no longer predicts the target well. The planner of source ``i`` fills both
gaps with an additive model of the source's performance over the one-hot encoding
``phi(a)`` of an architecture's choices::

    perf_i(a) ~ b_i + theta_i . phi(a)
    gain_i(a -> m) ~ theta_i . (phi(m) - phi(a))

Every gain of the source's evidence graph is a difference of two of its scores, so
fitting the scores by ridge regression fits every edge of the graph at once (the
least-squares problem over all edge gains of a connected graph has the same minimiser up
to the edge weighting), and it extrapolates to any edit, of one hop or many: the gain of
a path is the sum of its edits' gains, which telescopes to ``theta_i . (phi(end) -
phi(start))``.

**Online fine-tuning** on the target ``u``: with the target's observed scores ``y`` of
the architectures paid for so far, ``theta`` is refitted by ridge regression pulled
towards the source's own ``theta_i`` (a Gaussian prior centred on it)::

    theta_u = argmin ||Yc - Xc theta||^2 + lam * ||theta - theta_i||^2
            = (Xc'Xc + lam I)^-1 (Xc'Yc + lam theta_i)

where ``Xc``, ``Yc`` are the centred features and scores. With no observations it is the
source's model; with many, the target's own. All of this is plain numpy, testable
without a database.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from mdesign.core.stats import ridge


class SourcePlanner:
    """The gain predictor of one source, fine-tuned online on the target."""

    def __init__(self, task: str, theta: np.ndarray, intercept: float,
                 scores: dict[str, float] | None = None) -> None:
        self.task = task
        self.base = theta
        self.theta = theta.copy()
        self.intercept = intercept
        self.scores = scores or {}
        vals = np.array(list(self.scores.values())) if self.scores else np.zeros(1)
        self.mean, self.sd = float(vals.mean()), float(vals.std()) or 1.0
        self.beta = 0.0
        self.residual = np.zeros_like(theta)

    @classmethod
    def fit(cls, task: str, x: np.ndarray, scores: np.ndarray, lam: float = 1.0,
            keys: Sequence[str] | None = None) -> SourcePlanner:
        """Train on the source's evidence: its scores over the encoded architectures
        (``keys`` keeps them, for the residual planner)."""
        theta, b = ridge(x, scores, lam)
        table = dict(zip(keys, scores.tolist(), strict=True)) if keys is not None else None
        return cls(task, theta, b, table)

    def copy(self) -> SourcePlanner:
        return SourcePlanner(self.task, self.base, self.intercept, self.scores)

    def source_score(self, keys: Sequence[str], x: np.ndarray) -> np.ndarray:
        """The source's standardised score of each architecture: stored, else predicted."""
        out = x @ self.base + self.intercept
        for i, k in enumerate(keys):
            v = self.scores.get(k)
            if v is not None:
                out[i] = v
        return (out - self.mean) / self.sd

    def fine_tune_residual(self, keys: Sequence[str], x: np.ndarray, y: np.ndarray,
                           lam: float = 1.0) -> None:
        """Fit ``y ~ a + beta * s_i(a) + theta_r . phi(a)`` on the target's observations:
        the source's (standardised) scores scaled by ``beta``, plus an additive
        correction of what the source misses; ``beta`` is barely penalised."""
        s = self.source_score(keys, x)
        feats = np.hstack([s[:, None], x])
        penalty = np.full(feats.shape[1], lam)
        penalty[0] = 1e-3
        if len(y) < 2:
            self.beta, self.residual = 1.0 * (float(np.std(y)) or 0.01), np.zeros(x.shape[1])
            return
        theta, _ = ridge(feats, y, penalty, prior=np.r_[0.0, np.zeros(x.shape[1])])
        self.beta, self.residual = float(theta[0]), theta[1:]

    def residual_gain(self, key_from: str, x_from: np.ndarray, keys_to: Sequence[str],
                      x_to: np.ndarray) -> np.ndarray:
        """Target gains predicted by the residual planner: ``beta * (s(m) - s(c)) +
        theta_r . (phi(m) - phi(c))``."""
        s_from = self.source_score([key_from], x_from)[0]
        s_to = self.source_score(keys_to, x_to)
        return self.beta * (s_to - s_from) + (x_to - x_from) @ self.residual

    def fine_tune(self, x: np.ndarray, y: np.ndarray, lam: float = 3.0) -> None:
        """Refit on the target's observed scores, with the source's model as the prior."""
        self.theta, self.intercept = ridge(x, y, lam, prior=self.base)

    def gain(self, x_from: np.ndarray, x_to: np.ndarray) -> np.ndarray:
        """Predicted gains of edits (or paths) ``from -> to``, row by row."""
        return (x_to - x_from) @ self.theta

    def residual_sd(self, x: np.ndarray, y: np.ndarray) -> float:
        """Root mean squared error of the model's scores on ``(x, y)``."""
        if len(y) == 0:
            return float("nan")
        return float(np.sqrt(np.mean((x @ self.theta + self.intercept - y) ** 2)))

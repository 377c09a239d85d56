"""Adaptive (Bayesian) calibration of source weights: pure functions.

Each source task ``i`` predicts the gain of an edit on the target ``u`` through its own
stored gain ``x = gain_i(c -> m)``. After the target's gain ``y = g_u`` is observed, the
source's linear fit and the weights are updated (step 5 of the refinement method,
docs/refinement.md):

* fit, once a source has at least ``min_pairs`` (default 3) pairs ``(x, y)``::

      beta_i   = sum(x * y) / sum(x * x)              (least squares through 0)
      sigma2_i = max(mean((y - beta_i * x)^2), floor)

  with the priors ``beta = 1`` and ``sigma2 = 0.01`` before that (or when all x are 0);
* likelihood of the newest pair: ``L_i = Normal(y; beta_i * x, sigma2_i)``;
* posterior: ``w_i <- L_i * w_i / sum_j L_j * w_j``.

A source with no gain for the edit just observed has no likelihood of its own; it keeps
its share of the mass: its ``L`` is the weighted mean likelihood of the sources that did
predict the edit, so it neither gains nor loses relative to their average.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

PRIOR_BETA = 1.0
PRIOR_SIGMA2 = 0.01
SIGMA2_FLOOR = 1e-6


@dataclass(frozen=True)
class SourceFit:
    beta: float
    sigma2: float
    pairs: int


def fit_source(pairs: Sequence[tuple[float, float]], min_pairs: int = 3,
               window: int | None = None) -> SourceFit:
    """Least-squares ``y ~ beta * x`` over the (last ``window``) pairs, with priors."""
    used = list(pairs[-window:]) if window else list(pairs)
    sxx = sum(x * x for x, _ in used)
    if len(used) < min_pairs or sxx == 0.0:
        return SourceFit(PRIOR_BETA, PRIOR_SIGMA2, len(used))
    beta = sum(x * y for x, y in used) / sxx
    sigma2 = sum((y - beta * x) ** 2 for x, y in used) / len(used)
    return SourceFit(beta, max(sigma2, SIGMA2_FLOOR), len(used))


def normal_pdf(y: float, mean: float, var: float) -> float:
    return math.exp(-((y - mean) ** 2) / (2 * var)) / math.sqrt(2 * math.pi * var)


def initial_weights(similarity: Mapping[str, float]) -> dict[str, float]:
    """Prior weights from similarities in [-1, 1]: mapped to [0, 1], then normalised.

    All-zero similarities give uniform weights."""
    mapped = {k: (max(-1.0, min(1.0, s)) + 1.0) / 2.0 for k, s in similarity.items()}
    total = sum(mapped.values())
    if total == 0:
        return {k: 1.0 / len(mapped) for k in mapped}
    return {k: v / total for k, v in mapped.items()}


def update_weights(weights: Mapping[str, float], fits: Mapping[str, SourceFit],
                   predicted: Mapping[str, float | None], observed: float) -> dict[str, float]:
    """Posterior weights after observing the target's gain ``observed``.

    ``predicted[i]`` is source i's stored gain for the edit (None: no evidence).
    """
    likelihood: dict[str, float] = {}
    for s, x in predicted.items():
        if x is not None and s in weights:
            f = fits[s]
            likelihood[s] = normal_pdf(observed, f.beta * x, f.sigma2)
    if not likelihood:
        return dict(weights)
    mass = sum(weights[s] for s in likelihood)
    neutral = (sum(likelihood[s] * weights[s] for s in likelihood) / mass) if mass > 0 else 0.0
    unnorm = {s: w * likelihood.get(s, neutral) for s, w in weights.items()}
    total = sum(unnorm.values())
    if total <= 0.0 or not math.isfinite(total):
        # Every source assigns the observation ~zero density: keep the previous belief.
        return dict(weights)
    return {s: v / total for s, v in unnorm.items()}

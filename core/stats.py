"""Statistics as pure functions (no database, no torch): ranks, correlations, ridge.

``spearman(x, y)`` is the Pearson correlation of the average ranks of ``x`` and ``y``
(ties share the mean of the ranks they span), the definition the ``task_similarity``
and ``similar_tasks`` queries compute in Cypher. ``kendall_tau(x, y)`` is Kendall's
tau-b::

    tau_b = (C - D) / sqrt((n0 - n1) * (n0 - n2))

with C and D the concordant and discordant pairs, n0 = n(n-1)/2, and n1, n2 the pairs
tied in x and in y. It is O(n^2): meant for the few anchor architectures of a task.

``ridge(X, y, lam, prior)`` is ridge regression on centred data, shrunk towards a prior::

    theta = (Xc'Xc + L)^-1 (Xc'Yc + L prior),   L = diag(lam)

with an unpenalised intercept.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def average_ranks(values: Sequence[float]) -> list[float]:
    """1-based ranks; tied values get the mean of the ranks they occupy."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        mean_rank = (i + j) / 2 + 1
        for k in range(i, j + 1):
            ranks[order[k]] = mean_rank
        i = j + 1
    return ranks


def pearson(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Pearson correlation; ``None`` when either side is constant or shorter than 2."""
    n = len(x)
    if n != len(y):
        raise ValueError("x and y differ in length")
    if n < 2:
        return None
    mx, my = sum(x) / n, sum(y) / n
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y, strict=True))
    sxx = sum((a - mx) ** 2 for a in x)
    syy = sum((b - my) ** 2 for b in y)
    if sxx == 0 or syy == 0:
        return None
    return sxy / math.sqrt(sxx * syy)


def spearman(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Spearman's rank correlation with average ranks for ties."""
    return pearson(average_ranks(x), average_ranks(y))


def kendall_tau(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Kendall's tau-b; ``None`` when either side is constant or shorter than 2."""
    n = len(x)
    if n != len(y):
        raise ValueError("x and y differ in length")
    if n < 2:
        return None
    concordant = discordant = ties_x = ties_y = 0
    for i in range(n):
        for j in range(i + 1, n):
            dx = x[i] - x[j]
            dy = y[i] - y[j]
            if dx == 0:
                ties_x += 1
            if dy == 0:
                ties_y += 1
            if dx == 0 or dy == 0:
                continue
            if (dx > 0) == (dy > 0):
                concordant += 1
            else:
                discordant += 1
    n0 = n * (n - 1) / 2
    denom = math.sqrt((n0 - ties_x) * (n0 - ties_y))
    if denom == 0:
        return None
    return (concordant - discordant) / denom


def ridge(x: np.ndarray, y: np.ndarray, lam: float | np.ndarray,
          prior: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """``(theta, intercept)`` of ridge regression on centred data, shrunk towards ``prior``.

    ``theta = (Xc'Xc + L)^-1 (Xc'Yc + L prior)`` with ``L = diag(lam)`` (one penalty per
    feature, or one for all); the intercept is not penalised.
    """
    if len(y) == 0:
        theta = np.zeros(x.shape[1]) if prior is None else prior.copy()
        return theta, 0.0
    xm, ym = x.mean(axis=0), float(y.mean())
    xc, yc = x - xm, y - ym
    p = np.zeros(x.shape[1]) if prior is None else prior
    penalty = np.broadcast_to(np.asarray(lam, dtype=float), (x.shape[1],))
    a = xc.T @ xc + np.diag(penalty)
    theta = np.linalg.solve(a, xc.T @ yc + penalty * p)
    return theta, ym - float(xm @ theta)

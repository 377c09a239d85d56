"""Rank correlations between tasks, as pure functions (no database).

``spearman(x, y)`` is the Pearson correlation of the average ranks of ``x`` and ``y``
(ties share the mean of the ranks they span), the definition the ``task_similarity``
and ``similar_tasks`` queries compute in Cypher. ``kendall_tau(x, y)`` is Kendall's
tau-b::

    tau_b = (C - D) / sqrt((n0 - n1) * (n0 - n2))

with C and D the concordant and discordant pairs, n0 = n(n-1)/2, and n1, n2 the pairs
tied in x and in y. It is O(n^2): meant for the few anchor architectures of a task.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


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


def feature_similarity(target: dict[str, float], sources: dict[str, dict[str, float]]
                       ) -> dict[str, float]:
    """Similarity in [-1, 1] of each source to the target from dataset meta-features.

    Each feature is put on a log scale (``sign(x) * log1p(|x|)``: sizes and degrees span
    orders of magnitude), standardised over the target and the sources that have it,
    and compared by cosine over the features both tasks have. No shared feature (or a
    constant one) gives 0.
    """
    tasks = {"\0target": target, **sources}
    names = sorted({f for feats in tasks.values() for f in feats})
    z: dict[str, dict[str, float]] = {t: {} for t in tasks}
    for f in names:
        vals = {t: math.copysign(math.log1p(abs(feats[f])), feats[f])
                for t, feats in tasks.items() if f in feats}
        if len(vals) < 2:
            continue
        mean = sum(vals.values()) / len(vals)
        sd = math.sqrt(sum((v - mean) ** 2 for v in vals.values()) / len(vals))
        if sd == 0:
            continue
        for t, v in vals.items():
            z[t][f] = (v - mean) / sd
    out = {}
    zt = z["\0target"]
    for s in sources:
        shared = [f for f in zt if f in z[s]]
        dot = sum(zt[f] * z[s][f] for f in shared)
        na = math.sqrt(sum(zt[f] ** 2 for f in shared))
        nb = math.sqrt(sum(z[s][f] ** 2 for f in shared))
        out[s] = dot / (na * nb) if na > 0 and nb > 0 else 0.0
    return out

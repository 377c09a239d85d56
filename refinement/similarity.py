"""Task similarity from dataset meta-features, as pure functions (no database).

The rank correlations it builds on (``spearman``, ``kendall_tau``) live in
:mod:`mdesign.core.stats`.
"""

from __future__ import annotations

import math
from collections.abc import Collection


def feature_similarity(target: dict[str, float], sources: dict[str, dict[str, float]],
                       population: Collection[str] | None = None) -> dict[str, float]:
    """Similarity in [-1, 1] of each source to the target from dataset meta-features.

    Each feature is put on a log scale (``sign(x) * log1p(|x|)``: sizes and degrees span
    orders of magnitude), standardised by its mean and sd over the target and the
    sources of ``population`` that have it (default: every source), and compared by
    cosine over the features both tasks have. No shared feature (or one constant over
    the population) gives 0. A source outside ``population`` is compared on the same
    scale but does not set it, so adding it changes no other source's similarity.
    """
    tasks = {"\0target": target, **sources}
    setting = {"\0target", *(sources if population is None else population)}
    names = sorted({f for feats in tasks.values() for f in feats})
    z: dict[str, dict[str, float]] = {t: {} for t in tasks}
    for f in names:
        vals = {t: math.copysign(math.log1p(abs(feats[f])), feats[f])
                for t, feats in tasks.items() if f in feats}
        ref = [v for t, v in vals.items() if t in setting]
        if len(ref) < 2:
            continue
        mean = sum(ref) / len(ref)
        sd = math.sqrt(sum((v - mean) ** 2 for v in ref) / len(ref))
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


def pair_similarity(target: dict[str, float], source: dict[str, float]) -> float | None:
    """Similarity in (0, 1] of one source to the target that depends on these two tasks
    only (adding an unrelated task changes nothing): ``1 / (1 + mean_f (l_t - l_s)^2)``
    over the features both have, with ``l = sign(x) * log1p(|x|)``. None when they share
    no feature."""
    shared = sorted(set(target) & set(source))
    if not shared:
        return None

    def log(x: float) -> float:
        return math.copysign(math.log1p(abs(x)), x)

    d2 = sum((log(target[f]) - log(source[f])) ** 2 for f in shared) / len(shared)
    return 1.0 / (1.0 + d2)


def canberra_similarity(target: dict[str, float], source: dict[str, float]) -> float | None:
    """Similarity in [0, 1] of one source to the target from the two tasks alone, with
    every feature weighing alike: ``1 - mean_f |x_t - x_s| / (|x_t| + |x_s|)`` over the
    features both have (the Canberra distance; for positive features
    ``tanh(|log(x_t / x_s)| / 2)``, so a feature that spans orders of magnitude across
    tasks cannot outweigh one that spans a fraction). None when they share no feature."""
    shared = sorted(set(target) & set(source))
    if not shared:
        return None
    total = 0.0
    for f in shared:
        a, b = target[f], source[f]
        scale = abs(a) + abs(b)
        total += abs(a - b) / scale if scale > 0 else 0.0
    return 1.0 - total / len(shared)

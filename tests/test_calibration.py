"""Bayesian source calibration against hand-computed numbers."""

from __future__ import annotations

import math

import pytest
from mdesign.refinement.calibration import (
    PRIOR_BETA,
    PRIOR_SIGMA2,
    SourceFit,
    fit_source,
    initial_weights,
    normal_pdf,
    update_weights,
)


def test_fit_uses_priors_until_three_pairs() -> None:
    assert fit_source([(0.1, 0.2), (0.2, 0.4)]) == SourceFit(PRIOR_BETA, PRIOR_SIGMA2, 2)
    assert fit_source([(0.0, 0.1)] * 5).beta == PRIOR_BETA  # all x = 0


def test_fit_by_hand() -> None:
    # x = 1, 2, 3; y = 2, 4, 7: sxy = 2 + 8 + 21 = 31, sxx = 14 -> beta = 31/14
    f = fit_source([(1, 2), (2, 4), (3, 7)])
    beta = 31 / 14
    resid = [(2 - beta), (4 - 2 * beta), (7 - 3 * beta)]
    assert f.beta == pytest.approx(beta)
    assert f.sigma2 == pytest.approx(sum(r * r for r in resid) / 3)
    # a perfect fit is floored, not zero
    assert fit_source([(1, 2), (2, 4), (3, 6)]).sigma2 == 1e-6
    # the window keeps the last pairs only
    assert fit_source([(1, -5), (1, 2), (2, 4), (3, 6)], window=3).beta == pytest.approx(2)


def test_initial_weights_map_negative_similarity() -> None:
    w = initial_weights({"a": 1.0, "b": 0.0, "c": -1.0})
    assert w == pytest.approx({"a": 1 / 1.5, "b": 0.5 / 1.5, "c": 0.0})
    assert initial_weights({"a": -1.0, "b": -1.0}) == {"a": 0.5, "b": 0.5}


def test_update_by_hand() -> None:
    prior = {"a": 0.5, "b": 0.5}
    fits = {"a": SourceFit(1.0, 0.01, 0), "b": SourceFit(1.0, 0.01, 0)}
    # a predicted +0.02, b predicted -0.02; the target gained +0.02
    post = update_weights(prior, fits, {"a": 0.02, "b": -0.02}, 0.02)
    la = normal_pdf(0.02, 0.02, 0.01)
    lb = normal_pdf(0.02, -0.02, 0.01)
    assert la == pytest.approx(1 / math.sqrt(2 * math.pi * 0.01))
    assert post["a"] == pytest.approx(la / (la + lb))
    assert post["a"] + post["b"] == pytest.approx(1.0)
    assert post["a"] > 0.5


def test_a_source_without_evidence_keeps_its_share() -> None:
    prior = {"a": 0.25, "b": 0.25, "c": 0.5}
    fits = {s: SourceFit(1.0, 0.01, 0) for s in prior}
    post = update_weights(prior, fits, {"a": 0.02, "b": -0.02, "c": None}, 0.02)
    assert post["c"] == pytest.approx(0.5)
    assert post["a"] > post["b"]
    assert sum(post.values()) == pytest.approx(1.0)


def test_unreliable_source_loses_weight_within_a_few_steps() -> None:
    # "noisy" was the most similar source, but its gains do not predict the target's.
    weights = initial_weights({"good": 0.2, "noisy": 0.8})
    noise = [0.05, -0.04, 0.03, -0.05, 0.04, -0.03, 0.05, -0.04]
    pairs: dict[str, list[tuple[float, float]]] = {"good": [], "noisy": []}
    history = []
    for step, n in enumerate(noise):
        truth = 0.01 * (step + 1)
        pred = {"good": truth * 1.1, "noisy": n}
        fits = {s: fit_source(pairs[s]) for s in weights}
        weights = update_weights(weights, fits, pred, truth)
        history.append(weights["good"])
        for s in pairs:
            pairs[s].append((pred[s], truth))
    assert history[0] < 0.5 < history[-1]
    assert weights["good"] > 0.99


def test_an_anti_correlated_source_is_recalibrated_not_dropped() -> None:
    # gain_u = -gain_i exactly: after 3 pairs beta = -1 and the source predicts perfectly.
    f = fit_source([(0.01, -0.01), (0.02, -0.02), (-0.03, 0.03)])
    assert f.beta == pytest.approx(-1.0) and f.sigma2 == 1e-6

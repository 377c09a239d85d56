"""Rank correlations against hand-computed values."""

from __future__ import annotations

import math

from mdesign.core.stats import average_ranks, kendall_tau, spearman


def test_average_ranks_share_ties() -> None:
    assert average_ranks([10, 20, 20, 5]) == [2.0, 3.5, 3.5, 1.0]


def test_spearman_by_hand() -> None:
    # ranks x: 1 2 3 4 5; ranks y: 2 1 4 3 5 -> d^2 = 1+1+1+1+0 = 4
    # rho = 1 - 6*4 / (5*24) = 0.8
    assert math.isclose(spearman([1, 2, 3, 4, 5], [2, 1, 4, 3, 5]), 0.8)
    assert math.isclose(spearman([1, 2, 3], [3, 2, 1]), -1.0)
    assert spearman([1, 1, 1], [1, 2, 3]) is None


def test_kendall_tau_b_by_hand() -> None:
    # pairs of (1..4) vs (1,3,2,4): 5 concordant, 1 discordant -> (5-1)/6
    assert math.isclose(kendall_tau([1, 2, 3, 4], [1, 3, 2, 4]), 4 / 6)
    # with a tie in y: x=(1,2,3), y=(1,1,2): C=2, D=0, n0=3, ties_y=1 -> 2/sqrt(3*2)
    assert math.isclose(kendall_tau([1, 2, 3], [1, 1, 2]), 2 / math.sqrt(6))


def test_feature_similarity_ranks_the_look_alike_first() -> None:
    from mdesign.refinement.similarity import feature_similarity

    target = {"nodes": 3000, "classes": 7, "homophily": 0.8}
    sources = {"twin": {"nodes": 3300, "classes": 6, "homophily": 0.75},
               "far": {"nodes": 150000, "classes": 40, "homophily": 0.2},
               "mid": {"nodes": 20000, "classes": 3, "homophily": 0.8},
               "blank": {}}
    sim = feature_similarity(target, sources)
    assert sim["twin"] > sim["mid"] > sim["far"]
    assert sim["blank"] == 0.0
    assert all(-1.0 <= v <= 1.0 for v in sim.values())
    assert math.isclose(feature_similarity(target, {"self": dict(target), "x": sources["far"]})
                        ["self"], 1.0)


def test_feature_similarity_outside_the_population_moves_nothing() -> None:
    """A source outside ``population`` is put on the population's scale without setting
    it: the others' similarities are those of a run without it."""
    from mdesign.refinement.similarity import feature_similarity

    target = {"nodes": 3000.0, "degree": 4.0}
    sources = {"a": {"nodes": 20000.0, "degree": 4.2}, "b": {"nodes": 2500.0, "degree": 9.0},
               "c": {"nodes": 100.0, "degree": 2.0}}
    every = feature_similarity(target, sources)
    assert feature_similarity(target, sources, population=list(sources)) == every
    kept = feature_similarity(target, sources, population=["a", "b"])
    alone = feature_similarity(target, {k: sources[k] for k in ("a", "b")})
    assert {k: kept[k] for k in alone} == alone
    assert kept["a"] != every["a"] and -1 <= kept["c"] <= 1

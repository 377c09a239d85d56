"""Predictive planners and source ranking: pure maths, checked against hand computations."""

from __future__ import annotations

import numpy as np
import pytest
from mdesign.benchmarks.protocol import Trajectory
from mdesign.core.evaluation import Evaluation
from mdesign.core.space import DesignSpace, OneHot
from mdesign.core.stats import ridge
from mdesign.kb.models import TaskInfo
from mdesign.refinement.planners import SourcePlanner
from mdesign.refinement.similarity import canberra_similarity, pair_similarity
from mdesign.refinement.sources import (
    pick_anchors,
    rank_sources,
    reference_tables,
    source_agreement,
)

SPACE = DesignSpace.from_dict({"name": "p", "dimensions": [
    {"name": "agg", "choices": ["add", "max"]}, {"name": "layers", "choices": [1, 2]}]})


def test_one_hot_columns_follow_the_space() -> None:
    enc = OneHot(SPACE)
    assert enc.columns == [("agg", "add"), ("agg", "max"), ("layers", "1"), ("layers", "2")]
    assert enc(["agg=max,layers=1"]).tolist() == [[0, 1, 1, 0]]


def test_ridge_by_hand() -> None:
    # one feature, x = [0, 1, 2], y = [1, 3, 5]: centred sxx = 2, sxy = 4
    x, y = np.array([[0.0], [1.0], [2.0]]), np.array([1.0, 3.0, 5.0])
    theta, b = ridge(x, y, lam=2.0)
    assert theta[0] == pytest.approx(4 / (2 + 2)) and b == pytest.approx(3 - 1 * 1.0)
    # shrinking towards a prior of 3: (4 + 2 * 3) / (2 + 2)
    theta, _ = ridge(x, y, lam=2.0, prior=np.array([3.0]))
    assert theta[0] == pytest.approx(2.5)
    # no data: the prior itself
    theta, b = ridge(np.zeros((0, 1)), np.zeros(0), 1.0, prior=np.array([0.7]))
    assert theta[0] == 0.7 and b == 0.0


def test_planner_extrapolates_gains_and_fine_tunes_towards_the_target() -> None:
    enc = OneHot(SPACE)
    keys = ["agg=add,layers=1", "agg=add,layers=2", "agg=max,layers=1", "agg=max,layers=2"]
    # source: max is +0.2, two layers +0.1, additive
    src = np.array([0.5, 0.6, 0.7, 0.8])
    p = SourcePlanner.fit("s", enc(keys), src, lam=1e-6, keys=keys)
    g = p.gain(enc([keys[0]]), enc(keys))
    assert g == pytest.approx([0.0, 0.1, 0.2, 0.3], abs=1e-4)  # a 2-edit path: 0.3
    # the target prefers add: fine-tuning on its observations flips the sign of agg
    tgt = np.array([0.8, 0.9, 0.6, 0.7])
    p.fine_tune(enc(keys), tgt, lam=1e-6)
    assert p.gain(enc([keys[0]]), enc([keys[2]]))[0] == pytest.approx(-0.2, abs=1e-3)
    # with a huge penalty it stays the source's model
    q = p.copy()
    q.fine_tune(enc(keys), tgt, lam=1e9)
    assert q.gain(enc([keys[0]]), enc([keys[2]]))[0] == pytest.approx(0.2, abs=1e-4)


def test_residual_planner_scales_the_source_and_corrects_it() -> None:
    enc = OneHot(SPACE)
    keys = ["agg=add,layers=1", "agg=add,layers=2", "agg=max,layers=1", "agg=max,layers=2"]
    src = np.array([0.5, 0.6, 0.7, 0.8])
    p = SourcePlanner.fit("s", enc(keys), src, keys=keys)
    # target = 2 x source (exactly explained by beta, no residual needed)
    y = 0.1 + 2 * src
    p.fine_tune_residual(keys, enc(keys), y, lam=1e6)
    pred = p.residual_gain(keys[0], enc([keys[0]]), keys, enc(keys))
    assert pred == pytest.approx(y - y[0], abs=1e-3)


def test_rank_sources_by_features_anchors_or_both() -> None:
    t = TaskInfo(name="u", kind="node", metric="acc", split="valid_test",
                 features={"nodes": 1000, "edges": 5000})
    near = TaskInfo(name="near", kind="node", metric="acc", split="valid_test",
                    features={"nodes": 1100, "edges": 5200})
    far = TaskInfo(name="far", kind="node", metric="acc", split="valid_test",
                   features={"nodes": 10, "edges": 20})
    by_features = rank_sources(t, [far, near], 2, "features")
    assert [s.task for s in by_features] == ["near", "far"]
    assert sum(s.weight for s in by_features) == pytest.approx(1.0)
    # anchors say the opposite; "both" averages the two similarities
    tau = {"near": -1.0, "far": 1.0}
    assert [s.task for s in rank_sources(t, [far, near], 2, "anchors", tau)] == ["far", "near"]
    both = {s.task: s for s in rank_sources(t, [far, near], 2, "both", tau)}
    assert both["near"].similarity == pytest.approx((both["near"].feature_similarity - 1) / 2)
    # k=1 keeps one source with the whole weight
    assert rank_sources(t, [far, near], 1, "features")[0].weight == pytest.approx(1.0)


def test_source_agreement_and_the_featureless_fallbacks() -> None:
    """Each task's correlation with the others' mean normal score over what it measured;
    without a shared meta-feature the sources are the most agreeing, or every one."""
    up = {f"k{i}": float(i) for i in range(6)}
    down = {k: -v for k, v in up.items()}
    agree = source_agreement({"a": up, "b": dict(up), "c": down, "d": dict(up)})
    # a: the others' mean normal score is (z + (-z) + z) / 3, in a's order: +1; c: -1
    assert agree["a"] == pytest.approx(1.0) and agree["c"] == pytest.approx(-1.0)
    # scores on another scale give the same agreement (normal scores are ranks)
    assert source_agreement({"a": {k: 10 * v + 3 for k, v in up.items()}, "b": up,
                             "c": down, "d": up}) == pytest.approx(agree)
    # 2 architectures shared with the others are too few to correlate
    assert source_agreement({"a": up, "few": {"k0": 1.0, "k1": 2.0}})["few"] == 0.0
    t = TaskInfo(name="u", kind="node", metric="acc", split="valid_test")
    cands = [TaskInfo(name=n, kind="node", metric="acc", split="valid_test")
             for n in ("a", "b", "c", "d")]
    assert [s.task for s in rank_sources(t, cands, 2, "features",
                                         featureless="names")] == ["a", "b"]
    best = rank_sources(t, cands, 2, "features",  # agreement: the default
                        agreement=lambda: {"a": 0.2, "b": -0.5, "c": 0.9, "d": 0.2})
    assert [(s.task, s.weight) for s in best] == [("c", 0.5), ("a", 0.5)]
    every = rank_sources(t, cands, 2, "features", featureless="all")
    assert [s.task for s in every] == ["a", "b", "c", "d"]
    assert all(s.weight == pytest.approx(0.25) for s in every)
    with pytest.raises(ValueError, match="need the candidates' agreement"):
        rank_sources(t, cands, 2, "features")
    # a shared meta-feature ranks them as before, whatever the fallback
    t2 = t.model_copy(update={"features": {"nodes": 10.0}})
    near = [c.model_copy(update={"features": {"nodes": 10.0 * (i + 1)}})
            for i, c in enumerate(cands)]
    assert rank_sources(t2, near, 2, "features", featureless="all") == \
        rank_sources(t2, near, 2, "features")
    # --similarity agreement ignores them: the most agreeing, equal weights, and the
    # agreement as the similarity that the run reports
    agreed = rank_sources(t2, near, 2, "agreement",
                          agreement=lambda: {"a": 0.2, "b": -0.5, "c": 0.9, "d": 0.2})
    assert [(s.task, s.weight, s.similarity) for s in agreed] == \
        [("c", 0.5, 0.9), ("a", 0.5, 0.2)]
    assert [s.task for s in rank_sources(t2, near, 2, "features")] == ["a", "b"]
    assert agreed[0].feature_similarity == \
        {s.task: s.feature_similarity for s in rank_sources(t2, near, 4, "features")}["c"]


def test_pair_feature_similarity_ignores_the_other_candidates() -> None:
    """``cosine`` standardises over every candidate, so adding an unrelated task (a tiny
    graph) can reorder another target's sources; ``pair`` depends on each pair alone."""
    def task(name: str, nodes: float, degree: float, homophily: float) -> TaskInfo:
        return TaskInfo(name=name, kind="node", metric="acc", split="valid_test",
                        features={"nodes": nodes, "avg_degree": degree,
                                  "edge_homophily": homophily})

    t = task("u", 3000, 4.0, 0.8)
    a, b = task("a", 20000, 4.2, 0.75), task("b", 2500, 9.0, 0.30)
    tiny = task("tiny", 34, 4.6, 0.87)

    def order(cands: list[TaskInfo], feature: str) -> list[tuple[str, float]]:
        return [(s.task, s.weight) for s in rank_sources(t, cands, 2, "features",
                                                         feature=feature)]

    assert order([a, b], "cosine") != order([a, b, tiny], "cosine")
    assert order([a, b], "pair") == order([a, b, tiny], "pair")
    assert order([a, b], "canberra") == order([a, b, tiny], "canberra")
    # with result counts, a task holding a few results next to full tables is compared
    # on their scale without moving it (reference_tables): cosine no longer changes
    full = [x.model_copy(update={"results": 1000}) for x in (a, b)]
    few = tiny.model_copy(update={"results": 3})
    assert reference_tables([*full, few]) == ["a", "b"]
    def sims(cands: list[TaskInfo]) -> dict[str, float | None]:
        return {s.task: s.feature_similarity for s in rank_sources(t, cands, 3, "features")
                if s.task != "tiny"}

    assert sims(full) == sims([*full, few]) == sims([a, b])
    assert sims([a, b]) != sims([a, b, tiny])  # without counts, tiny moves the scale
    # ... while a table of at least sqrt(1000) results still sets it like any other
    assert reference_tables([*full, few.model_copy(update={"results": 32})]) == \
        ["a", "b", "tiny"]
    assert reference_tables([*full, few.model_copy(update={"results": 31})]) == ["a", "b"]


def test_canberra_similarity_weighs_every_feature_alike() -> None:
    t = {"nodes": 1000.0, "homophily": 0.8}
    # a 100-fold size gap costs at most 1/2 of the similarity (one of two features)
    assert canberra_similarity(t, {"nodes": 100000.0, "homophily": 0.8}) == \
        pytest.approx(1 - (99000 / 101000) / 2)
    assert canberra_similarity(t, {"nodes": 1000.0, "homophily": 0.2}) == \
        pytest.approx(1 - (0.6 / 1.0) / 2)
    # the log-scaled distance lets the size gap dominate instead
    assert pair_similarity(t, {"nodes": 100000.0, "homophily": 0.8}) < \
        pair_similarity(t, {"nodes": 1000.0, "homophily": 0.2})
    assert canberra_similarity(t, dict(t)) == 1.0
    assert canberra_similarity(t, {"edges": 3.0}) is None
    assert canberra_similarity({"x": 0.0}, {"x": 0.0}) == 1.0


def test_anchors_are_the_sources_bests_then_seeded_draws() -> None:
    pool = [f"s/{i}" for i in range(50)]
    a = pick_anchors(["s/3", "s/3", "s/7"], pool, 5, seed=1)
    assert a[:2] == ["s/3", "s/7"] and len(set(a)) == 5
    assert a == pick_anchors(["s/3", "s/7"], pool, 5, seed=1)
    assert a != pick_anchors(["s/3", "s/7"], pool, 5, seed=2)


def test_trajectory_reads_any_budget_from_its_prefix() -> None:
    e = [Evaluation(uid=f"u{i}", score=s, params=p)
         for i, (s, p) in enumerate([(0.5, 1), (0.7, 9), (0.6, 2), (0.9, 1)])]
    t = Trajectory(e)
    assert [t.best_at(b).uid for b in (1, 2, 3, 4)] == ["u0", "u1", "u1", "u3"]
    # a parameter limit excludes u1 from being returned
    assert Trajectory(e, limit=5).best_at(3).uid == "u2"

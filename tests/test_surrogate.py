"""The surrogate strategy: its maths (no database) and its loop on in-memory evidence."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from mdesign.benchmarks.transfer_family import family, family_space
from mdesign.core.errors import InputError
from mdesign.core.evaluation import Evaluation, PaidEvaluator
from mdesign.core.space import DesignSpace, OneHot, key_choices, key_of
from mdesign.kb.models import TaskInfo
from mdesign.refinement.config import provenance
from mdesign.refinement.evaluators import BenchmarkEvaluator
from mdesign.refinement.memory import InMemoryEvidence, StoredResult, TaskTable
from mdesign.refinement.refine import RefineConfig, RefinementResult, refine
from mdesign.refinement.similarity import pair_similarity
from mdesign.refinement.surrogate import (
    ADDITIVE_SHARE,
    AVERAGE_KEEP,
    AVERAGE_MASS,
    CONSTANT,
    ENSEMBLE_DILUTION,
    SLOPE_FLOOR,
    SLOPE_VAR,
    WINSOR_CAP,
    TransferSurrogate,
    choice_distances,
    ensemble_weights,
    leave_one_out,
    normal_scores,
    portfolio,
    ranking_losses,
    slope_variance,
    source_agreements,
    transfer_prior,
    winsorised_scores,
)
from mdesign.refinement.transfer import SourceScores, _tied, prior_weights, ucb_kappa


@pytest.fixture(scope="module")
def related() -> InMemoryEvidence:
    return family(0.9, tasks=5, seed=1)


@pytest.fixture(scope="module")
def unrelated() -> InMemoryEvidence:
    return family(0.0, tasks=5, seed=2)


def run(ev: InMemoryEvidence, budget: int = 15, task: str = "t0",
        evaluator: PaidEvaluator | None = None, **cfg: object) -> RefinementResult:
    oracle = evaluator or BenchmarkEvaluator(None, task, budget, table=ev.oracle(task))
    config = RefineConfig(task=task, budget=budget, strategy="surrogate", **cfg)  # type: ignore[arg-type]
    return refine(ev, config, oracle)


def share(ev: InMemoryEvidence, result: RefinementResult, task: str = "t0") -> float:
    """The share (%) of the space at least as good as what the run returned."""
    vals = np.array([e.score for e in ev.oracle(task).values()])
    return float((vals >= result.best.score).mean() * 100)


# -- the maths ---------------------------------------------------------------------------

def test_normal_scores_keep_order_and_ties() -> None:
    z = normal_scores([3.0, 1.0, 2.0, 2.0, 10.0])
    assert z[1] < z[2] == z[3] < z[0] < z[4]
    big = normal_scores(np.arange(1000.0))
    assert np.all(np.diff(big) > 0) and abs(big[0] + big[-1]) < 1e-9


def _toy_codes(n_dims: int = 4, choices: int = 4) -> np.ndarray:
    grids = np.meshgrid(*[np.arange(choices)] * n_dims, indexing="ij")
    return np.stack([g.ravel() for g in grids], axis=1)


def test_posterior_believes_sources_that_predict_the_target() -> None:
    codes = _toy_codes()
    rng = np.random.default_rng(0)
    effect = rng.standard_normal((4, 4))
    truth = sum(effect[d][codes[:, d]] for d in range(4))
    z = np.stack([truth + 0.1 * rng.standard_normal(len(truth)) for _ in range(3)], axis=1)
    paid = list(rng.choice(len(truth), size=12, replace=False))
    good = TransferSurrogate(codes, z, np.ones(3)).posterior(paid, truth[paid])
    noise = rng.standard_normal(z.shape)
    bad = TransferSurrogate(codes, noise, np.ones(3)).posterior(paid, truth[paid])
    assert good.transfer_probability > 0.9
    assert bad.transfer_probability < 0.5
    # prior odds from the sources' own agreement: unrelated sources start out distrusted
    sceptic = TransferSurrogate(codes, noise, np.ones(3), odds="agreement").posterior(
        paid, truth[paid])
    assert sceptic.transfer_probability < bad.transfer_probability
    # what the good posterior predicts ranks the space like the truth
    assert np.corrcoef(good.mean, truth)[0, 1] > 0.9
    ei = good.expected_improvement()
    assert np.all(ei >= 0) and ei[paid].max() < ei.max()
    # the paid points are interpolated: the latent sd is small there
    assert good.sd[paid].max() < good.sd.mean()


def _dense_posterior(model: TransferSurrogate, paid: list[int], y: np.ndarray,
                     transfer: bool, shape: str, rho: float, signal: float, noise: float
                     ) -> tuple[np.ndarray, np.ndarray]:
    """The GP's mean and sd written out densely (the module docstring's K and mu)."""
    if shape == "learned":
        h = sum(delta[model.codes[:, None, d], model.codes[None, paid, d]]
                for d, delta in enumerate(model._deltas))
    else:
        h = (model.codes[:, None, :] != model.codes[None, paid, :]).sum(axis=2)
    corr = rho ** h
    if shape == "additive":  # the module docstring's main-effects mixture
        corr = (1 - ADDITIVE_SHARE) * corr + ADDITIVE_SHARE * (1 - h / model.dims)
    cross = CONSTANT + signal * corr
    prior = np.full(model.n, CONSTANT + signal)
    mu = np.zeros(model.n)
    if transfer:
        cross = cross + model.f @ model.f[paid].T
        prior = prior + (model.f ** 2).sum(axis=1)
        mu = model.b0 * model.m
    k = cross[paid] + noise * np.eye(len(paid))
    mean = mu + cross @ np.linalg.solve(k, normal_scores(y) - mu[paid])
    var = prior - np.einsum("ij,ji->i", cross, np.linalg.solve(k, cross.T))
    return mean, np.sqrt(np.maximum(var, 1e-12))


@pytest.mark.parametrize("hyperparameters", ["maximum", "average"])
@pytest.mark.parametrize("kernel", ["hamming", "sources", "additive"])
def test_kept_kernel_answers_like_a_fresh_fit(kernel: str, hyperparameters: str) -> None:
    """The kernel columns and solves kept across refits (a growing paid set, a batch's
    fantasies that are then replaced, hyperparameters that change) give the posterior a
    fresh surrogate and the dense formulas give; with the Hamming kernel, the choice
    distances learnt from the sources and the main-effects shape, for the
    maximum-likelihood grid point and for the grid's kept points (one component each)."""
    learned, additive = kernel == "sources", kernel == "additive"
    codes = _toy_codes()
    rng = np.random.default_rng(4)
    z = rng.standard_normal((len(codes), 2))
    y = z @ [0.7, 0.3] + 0.5 * rng.standard_normal(len(codes))
    dist = choice_distances([(codes, z[:, 0]), (codes, z[:, 1])], [0.5, 0.5], [4] * 4) \
        if learned else None

    def surrogate() -> TransferSurrogate:
        return TransferSurrogate(codes, z, np.ones(2), distances=dist, additive=additive,
                                 hyperparameters=hyperparameters)

    kept = surrogate()
    order = [int(i) for i in rng.choice(len(codes), size=30, replace=False)]
    sets = [order[:n] for n in (1, 2, 3, 6, 7, 12)]
    sets += [[*order[:12], 200, 201], [*order[:12], *order[12:14]], order[:5], order[:30]]
    most = 0
    for paid in sets:
        got = kept.posterior(paid, y[paid])
        fresh = surrogate().posterior(paid, y[paid])
        for a, b in zip(got.means + got.sds, fresh.means + fresh.sds, strict=True):
            assert np.allclose(a, b, rtol=1e-9, atol=1e-9)
        assert got.probs == pytest.approx(fresh.probs, rel=1e-9)
        assert sum(got.probs) == pytest.approx(1.0)
        assert np.allclose(got.mean, sum(p * m for p, m in zip(got.probs, got.means,
                                                                 strict=True)))
        assert len(kept._cross) == len(got.means)  # a cache per component, no more
        most = max(most, len(got.means))
        for k, (transfer, *hyper) in enumerate(kept._cross):
            mean, sd = _dense_posterior(kept, paid, y[paid], transfer, *hyper)
            assert np.allclose(got.means[k], mean, atol=1e-8)
            assert np.allclose(got.sds[k], sd, atol=1e-6)
    # one point per model, or several where the grid's posterior is spread
    assert most == 2 if hyperparameters == "maximum" else 2 < most <= 2 * AVERAGE_KEEP


def test_choice_distances_see_inert_dimensions_and_alike_choices() -> None:
    """Dimension 0 decides (choices 0 and 1 alike, 2 and 3 far from them), dimension 1
    is inert, dimension 2 matters a little; the distances say so, whatever the other
    dimensions' choices, and make a valid kernel."""
    codes = _toy_codes(n_dims=3)
    rng = np.random.default_rng(5)
    e0, e2 = np.array([0.0, 0.05, 2.0, -2.0]), 0.3 * rng.standard_normal(4)
    tables = []
    for _ in range(2):
        z = e0[codes[:, 0]] + e2[codes[:, 2]] + 0.01 * rng.standard_normal(len(codes))
        keep = rng.random(len(codes)) < 0.8  # sources measured part of the space
        tables.append((codes[keep], z[keep]))
    delta = choice_distances(tables, [0.7, 0.3], [4, 4, 4])
    off = ~np.eye(4, dtype=bool)
    assert np.mean(np.concatenate([d[off] for d in delta])) == pytest.approx(1.0)
    for d in delta:
        assert np.allclose(d, d.T) and np.all(np.diag(d) == 0) and np.all(d >= 0)
    assert delta[1][off].max() < 0.01 < delta[2][off].mean() < delta[0][off].mean()
    assert delta[0][0, 1] < 0.05 * delta[0][0, 2] and delta[0][2, 3] == delta[0][off].max()
    dist = sum(d[codes[:, None, i], codes[None, :, i]] for i, d in enumerate(delta))
    assert np.linalg.eigvalsh(0.5 ** dist).min() > -1e-9
    # a target ranked unlike the sources (choices 2 and 3 swapped) but with their shape
    # (which choices are alike, which dimension is inert): its likelihood prefers the
    # learned distances for the residual
    truth = e0[[0, 1, 3, 2]][codes[:, 0]] + e2[codes[:, 2]]
    z = np.stack([e0[codes[:, 0]] + e2[codes[:, 2]]] * 2, axis=1)
    paid = [int(i) for i in rng.choice(len(codes), size=16, replace=False)]
    y = truth[paid] + 0.1 * rng.standard_normal(16)
    assert TransferSurrogate(codes, z, np.ones(2), distances=delta).posterior(
        paid, y).kernel == "learned"
    assert TransferSurrogate(codes, z, np.ones(2)).posterior(paid, y).kernel == "hamming"
    # no source at all: every distinct pair is one edit, the Hamming kernel
    flat = choice_distances([], [], [3, 2])
    assert np.allclose(flat[0], 1 - np.eye(3)) and np.allclose(flat[1], 1 - np.eye(2))


def test_main_effects_shape_generalises_from_few_results() -> None:
    """A target whose score is the sum of its choices' effects, 12 paid of 256: with the
    main-effects shape both models pick it by likelihood, and the target-only model ranks
    the unpaid space like the truth better than with rho^h alone, which knows
    nothing of an architecture more than an edit or two from every paid one."""
    codes = _toy_codes()
    rng = np.random.default_rng(8)
    effects = rng.standard_normal((4, 4))
    truth = sum(effects[d][codes[:, d]] for d in range(4))
    paid = [int(i) for i in rng.choice(len(codes), size=12, replace=False)]
    y = truth[paid] + 0.05 * rng.standard_normal(12)
    z = rng.standard_normal((len(codes), 2))  # sources that know nothing of it
    unpaid = np.setdiff1d(np.arange(len(codes)), paid)
    fits = {a: TransferSurrogate(codes, z, np.ones(2), additive=a).posterior(paid, y)
            for a in (False, True)}
    assert fits[True].kernel == "additive" and fits[False].kernel == "hamming"
    assert fits[True].transfer_probability < 0.5
    rank = {a: np.corrcoef(fits[a].means[1][unpaid], truth[unpaid])[0, 1] for a in fits}
    assert rank[True] > 0.8 and rank[True] > rank[False] + 0.05


def test_rounding_noise_does_not_decide_between_tied_candidates() -> None:
    acq = np.array([0.5, 0.5 * (1 + 1e-14), 0.4, -np.inf, 0.5 * (1 + 1e-6)])
    tied = _tied(acq)
    assert tied[0] == tied[1] < tied[4]  # equal up to rounding: the seeded draw decides
    assert tied[2] < tied[0] and tied[3] == -np.inf
    assert np.array_equal(_tied(np.full(3, -np.inf)), np.full(3, -np.inf))


def test_without_transfer_the_sources_are_ignored() -> None:
    codes = _toy_codes(3)
    z = np.random.default_rng(1).standard_normal((len(codes), 2))
    a = TransferSurrogate(codes, z, np.ones(2), transfer=False).posterior([0, 5], [1.0, 2.0])
    b = TransferSurrogate(codes, -z, np.ones(2), transfer=False).posterior([0, 5], [1.0, 2.0])
    assert a.transfer_probability == 0.0
    assert np.allclose(a.mean, b.mean) and np.allclose(a.sd, b.sd)


def test_portfolio_covers_each_source() -> None:
    z = np.array([[3.0, -3.0], [-3.0, 3.0], [1.0, 1.0], [0.0, 0.0]])
    assert portfolio(z, np.ones(2), 1) == [2]  # the consensus best
    assert sorted(portfolio(z, np.ones(2), 3)[1:]) == [0, 1]


def test_pair_similarity_depends_on_the_pair_only() -> None:
    cora = {"nodes": 2708, "edges": 10556}
    a = pair_similarity(cora, {"nodes": 3327, "edges": 9104})
    assert a is not None and 0 < a <= 1
    assert pair_similarity(cora, cora) == 1.0
    assert pair_similarity(cora, {"other": 1.0}) is None


def test_a_handful_of_results_cannot_outweigh_a_full_table() -> None:
    target = TaskInfo(name="t", kind="node", metric="acc", split="valid_test")
    small = TaskInfo(name="small", kind="node", metric="acc", split="valid_test", results=3)
    full = TaskInfo(name="full", kind="node", metric="acc", split="valid_test",
                    results=26206)
    infos, features = prior_weights(target, [small, full], columns=40)
    w = {s.task: s.weight for s in infos}
    assert not features and w["full"] > 10 * w["small"]
    # adding an unrelated task changes no pair similarity of the others
    feats = {"nodes": 1000.0}
    tgt = target.model_copy(update={"features": feats})
    s1 = full.model_copy(update={"features": {"nodes": 2000.0}})
    karate = small.model_copy(update={"name": "karate", "features": {"nodes": 34.0}})
    one = prior_weights(tgt, [s1], 40)[0][0].similarity
    two = {s.task: s.similarity for s in prior_weights(tgt, [s1, karate], 40)[0]}
    assert one == two["full"]


# -- the loop ------------------------------------------------------------------------------

def test_deterministic_seeded_and_within_budget(related: InMemoryEvidence) -> None:
    a, b = run(related), run(related)
    strip = {"overhead_ms"}
    assert [s.model_dump(exclude=strip) for s in a.steps] == \
        [s.model_dump(exclude=strip) for s in b.steps]
    assert a.spent == 15 == len({s.uid for s in a.steps})
    assert [s.kind for s in a.steps[:2]] == ["design", "design"]
    assert all(s.kind == "search" for s in a.steps[2:])
    assert "t0" not in {s.task for s in a.sources}  # the target is never a source
    assert len(a.sources) == 4  # every other task of the space
    assert "no meta-features: equal prior weights of the sources" in a.notes
    thompson = [run(related, acquisition="thompson", seed=s) for s in (0, 1)]
    assert [s.uid for s in thompson[0].steps] != [s.uid for s in thompson[1].steps]


@pytest.mark.parametrize("kernel", ["hamming", "sources", "additive"])
def test_resume_replays_exactly(related: InMemoryEvidence, kernel: str) -> None:
    full = run(related, budget=12, kernel=kernel)
    paid = [s.evaluation() for s in full.steps[:6]]
    oracle = BenchmarkEvaluator(None, "t0", 12, table=related.oracle("t0"))
    oracle.restore(paid)
    resumed = run(related, budget=12, evaluator=oracle, kernel=kernel)
    assert [s.uid for s in resumed.steps] == [s.uid for s in full.steps]


def test_transfer_helps_when_tasks_agree(related: InMemoryEvidence) -> None:
    # median over targets: with sources that agree, 10 evaluations reach the top 1%,
    # which random search expects after 100
    shares = [share(related, run(related, budget=10, task=t), t) for t in ("t0", "t1", "t2")]
    assert float(np.median(shares)) <= 1.0
    blind = [share(related, run(related, budget=10, task=t, transfer=False), t)
             for t in ("t0", "t1", "t2")]
    assert float(np.median(shares)) < float(np.median(blind))


def test_safety_net_when_tasks_do_not_agree(unrelated: InMemoryEvidence) -> None:
    result = run(unrelated, budget=30)
    probs = [s.transfer_probability for s in result.steps if s.kind == "search"]
    assert probs[-1] < 0.5  # the posterior has stopped trusting the sources
    blind = run(unrelated, budget=30, transfer=False)
    assert share(unrelated, result) <= max(5 * share(unrelated, blind), 1.0)


def test_provenance_says_what_found_the_returned_architecture(
        related: InMemoryEvidence, unrelated: InMemoryEvidence) -> None:
    # sources that agree with the target: the first design is already the best of 10
    found = run(related, budget=10).found
    assert found is not None and (found.evaluation, found.kind) == (1, "design")
    assert found.led_by is None and found.describe() == "evaluation 1, a design step"
    # sources that do not: a search step the target-only model led found it
    result = run(unrelated, budget=10)
    found = result.found
    assert found is not None and found.kind == "search" and found.led_by == "target"
    assert [s.uid for s in result.steps][found.evaluation - 1] == result.best.uid
    assert found.transfer_probability is not None and found.transfer_probability < 0.5
    assert found.describe().endswith("the target-only model led")
    blind = run(unrelated, budget=10, transfer=False).found
    assert blind is not None and blind.led_by in (None, "target")  # never transfer-led
    # a free re-read (a resumed run's) spends no evaluation; the first payment counts
    steps = result.steps
    again = [steps[0], steps[1], steps[0].model_copy(update={"step": 2}), *steps[2:]]
    assert provenance(again, steps[2].uid).evaluation == 3
    assert provenance(again, "not paid") is None


def test_batches_and_trust_region(related: InMemoryEvidence) -> None:
    result = run(related, budget=12, batch=4)
    assert result.spent == 12 == len({s.uid for s in result.steps})
    local = run(related, budget=12, trust_radius=1)
    assert local.spent == 12


def test_walk_options_are_refused(related: InMemoryEvidence) -> None:
    with pytest.raises(InputError, match="--lookahead is an option of the walk"):
        run(related, lookahead=2)
    with pytest.raises(InputError, match="--max-params"):
        run(related, max_params=10.0)
    # every option the surrogate would otherwise ignore
    for over, flag in (({"sources": 5}, "--sources"), ({"start": "vote"}, "--start"),
                       ({"calibrate": False}, "--no-calibrate"),
                       ({"planner": "off"}, "--planner"), ({"expand": "current"}, "--expand"),
                       ({"window": 4}, "--window"), ({"ghn_pool": 8}, "--ghn-pool")):
        with pytest.raises(InputError, match=f"{flag} is an option of the walk"):
            run(related, **over)


def test_paid_anchors_weigh_the_sources(related: InMemoryEvidence,
                                        unrelated: InMemoryEvidence) -> None:
    """--similarity anchors: the anchors are paid first (they count against the budget
    and feed the surrogate), and a source that ranks them as the target does outweighs
    one that does not, although both hold a full table."""
    ev = InMemoryEvidence(family_space(), {"t0": related.tables["t0"],
                                            "near": related.tables["t1"],
                                            "far": unrelated.tables["t1"]})
    res = run(ev, budget=12, similarity="anchors", anchors=6)
    assert [s.kind for s in res.steps[:6]] == ["anchor"] * 6
    assert res.spent == 12 == len({s.uid for s in res.steps})
    w = {s.task: s for s in res.sources}
    assert w["near"].anchor_tau is not None and w["far"].anchor_tau is not None
    assert w["near"].anchor_tau > w["far"].anchor_tau
    assert w["near"].weight > w["far"].weight
    assert res.notes == []  # the anchors, not missing meta-features, set the weights
    plain = run(ev, budget=12)
    assert {s.task: s.weight for s in plain.sources} == {"near": 0.5, "far": 0.5}
    # "both" without meta-features says that the anchors alone set the weights
    assert "no meta-features: prior weights from the anchors only" in \
        run(ev, budget=8, similarity="both").notes
    # deterministic, and a resume after the anchors replays the run exactly
    oracle = BenchmarkEvaluator(None, "t0", 12, table=ev.oracle("t0"))
    oracle.restore([s.evaluation() for s in res.steps[:7]])
    again = run(ev, budget=12, evaluator=oracle, similarity="anchors", anchors=6)
    assert [s.uid for s in again.steps] == [s.uid for s in res.steps]


def test_surrogate_options_are_refused_by_the_walk(related: InMemoryEvidence) -> None:
    oracle = BenchmarkEvaluator(None, "t0", 5, table=related.oracle("t0"))
    for over, flag in (({"acquisition": "ei"}, "--acquisition"),
                       ({"kernel": "sources"}, "--kernel"),
                       ({"ucb_kappa": 1.0}, "--ucb-kappa"),
                       ({"transfer": False}, "--no-transfer"),
                       ({"portfolio": 3}, "--portfolio"),
                       ({"transfer_model": "select"}, "--transfer-model"),
                       ({"slope_prior": "sources"}, "--slope-prior"),
                       ({"hyperparameters": "average"}, "--hyperparameters")):
        with pytest.raises(InputError, match=f"{flag} is an option of --strategy surrogate"):
            refine(related, RefineConfig(task="t0", budget=5, **over), oracle)  # type: ignore[arg-type]
        assert oracle.spent == 0  # refused before anything was paid
    # the surrogate's defaults given explicitly are no error
    assert refine(related, RefineConfig(task="t0", budget=5, acquisition="ucb"), oracle).spent == 5


class _FormulaEvaluator(PaidEvaluator):
    """An evaluator of a space too large to tabulate: a known score function."""

    def __init__(self, space: DesignSpace, budget: int, score: object) -> None:
        super().__init__("big-target", budget)
        self.space, self.score = space, score

    def can_evaluate(self, uid: str) -> bool:
        return uid.startswith(self.space.name + "/")

    def _measure(self, uid: str) -> Evaluation:
        s = self.score(key_of(uid))  # type: ignore[operator]
        return Evaluation(uid=uid, score=s, valid=s, test=s)


def test_a_space_too_large_to_enumerate(monkeypatch: pytest.MonkeyPatch) -> None:
    """The candidate set is rebuilt every step around what the run paid; every rebuilt
    model keeps the sources' prior weights (the ledger's weights follow M1's posterior
    coefficients step by step, and fed back as prior weights they had compounded)."""
    from mdesign.refinement import transfer

    built: list[tuple[np.ndarray, dict[str, float]]] = []
    build = transfer._Surrogate._build_model

    def spy(self: transfer._Surrogate) -> None:
        build(self)
        built.append((self.w.copy(), {s.task: s.weight for s in self.sources}))

    monkeypatch.setattr(transfer._Surrogate, "_build_model", spy)
    dims = 8
    space = DesignSpace.from_dict({"name": "big", "dimensions": [
        {"name": f"x{i}", "choices": [f"c{j}" for j in range(8)]} for i in range(dims)]})
    assert space.size() == 8 ** 8  # 16.8 million architectures
    rng = np.random.default_rng(5)
    effect = rng.standard_normal((dims, 8))

    def score(key: str) -> float:
        ch = key_choices(key)
        return float(sum(effect[i][int(ch[f"x{i}"][1:])] for i in range(dims)))

    draw = random.Random(0)
    tables = {}
    for t in ("s1", "s2"):
        keys = {space.key({f"x{i}": f"c{draw.randrange(8)}" for i in range(dims)})
                for _ in range(400)}
        tables[t] = TaskTable(results={k: StoredResult(score=score(k)) for k in keys})
    tables["big-target"] = TaskTable()
    ev = InMemoryEvidence(space, tables)
    budget = 20
    res = refine(ev, RefineConfig(task="big-target", budget=budget, strategy="surrogate",
                                  space="big"),
                 _FormulaEvaluator(space, budget, score))
    assert res.spent == budget
    assert len(built) > budget // 2
    for w, prior in built:
        assert w.tolist() == [prior[t] for t in ("s1", "s2")]
    assert any(s.weights and s.weights != built[0][1] for s in res.steps)
    # far above what 20 random draws reach: the best of 2,000 random architectures
    sample = [score(space.key({f"x{i}": f"c{draw.randrange(8)}" for i in range(dims)}))
              for _ in range(2000)]
    assert res.best.score > max(sample)


def test_a_walk_stored_under_another_default_resumes(related: InMemoryEvidence) -> None:
    """A walk run stored when EI was the surrogate's default carries acquisition "ei";
    read back, it is the walk it was, not a refused surrogate option."""
    from mdesign.refinement.config import stored_config

    text = RefineConfig(task="t0", budget=5, acquisition="ei", portfolio=3).model_dump_json()
    config = stored_config(text)
    assert config.acquisition == "ucb" and config.portfolio == 2 and config.budget == 5
    oracle = BenchmarkEvaluator(None, "t0", 5, table=related.oracle("t0"))
    assert refine(related, config, oracle).spent == 5
    surrogate = RefineConfig(task="t0", budget=5, strategy="surrogate", acquisition="ei")
    assert stored_config(surrogate.model_dump_json()).acquisition == "ei"  # as it ran


def test_transfer_ceiling_measures_what_a_source_says_about_the_top() -> None:
    """benchmarks/transfer_ceiling.py: a source that ranks the space as the target does
    holds all of the target's top 1% inside its top 2% (lift 50) and pays a top-1%
    architecture first; an unrelated source holds about the base rate (lift ~1)."""
    from mdesign.benchmarks.transfer_ceiling import ceiling

    rng = np.random.default_rng(3)
    y = rng.uniform(0.70, 0.74, 5000)
    test = y + rng.normal(0, 0.0001, len(y))
    row = ceiling("arxiv", {"arxiv": y}, test, {"twin": y + 0.1,
                                                 "noise": rng.uniform(0, 1, len(y))})
    twin, noise = row["per_source"]["twin"], row["per_source"]["noise"]
    assert twin["lift"] == pytest.approx(50.0) and twin["evals_top1"] == 1
    assert noise["lift"] < 5 and noise["evals_top1"] > 1
    assert row["best_lift_source"] == "twin" and row["best_evals_source"] == "twin"
    # the bar of arxiv (73.36%) lies in the top 16% of this table: 20 draws from the
    # twin's top 2% reach it surely, 20 uniform draws with probability 1 - 0.84^20
    assert row["p_bar_20_best_source"] == pytest.approx(1.0)
    assert row["p_bar_20_random"] == pytest.approx(1 - (1 - row["share_at_bar"] / 100) ** 20)
    assert row["valid_test_rho_top10"] > 0.9


def test_the_selected_model_leaves_the_sources_uncertainty_out_of_the_acquisition(
        unrelated: InMemoryEvidence, related: InMemoryEvidence) -> None:
    """``--transfer-model select``: the acquisition scores the more probable model alone.
    Where the target-only model is the likelier, M1's uncertainty about the sources'
    coefficients (largest where the sources' scores are extreme) no longer raises UCB."""
    space = family_space()
    keys = [space.key(a) for a in space.enumerate()]
    codes = np.array([[int(p.split("=")[1][1:]) for p in k.split(",")] for k in keys])
    tables = {t: unrelated.oracle(t) for t in ("t1", "t2", "t3")}
    z = np.column_stack([normal_scores([table[unrelated.uid(k)].score for k in keys])
                         for table in tables.values()])
    model = TransferSurrogate(codes, z, np.ones(3))
    target = unrelated.oracle("t0")
    paid = [0, 500, 3000, 7000]
    post = model.posterior(paid, [target[unrelated.uid(keys[i])].score for i in paid])
    assert len(post.probs) == 2 and abs(sum(post.probs) - 1) < 1e-12
    chosen = post.selected()
    k = int(np.argmax(post.probs))
    assert np.array_equal(chosen.mean, post.means[k]) and chosen.probs == (1.0,)
    assert np.allclose(chosen.sd, post.sds[k], atol=1e-6)
    assert np.allclose(chosen.upper_bound(2.0), post.means[k] + 2 * post.sds[k], atol=1e-6)
    # the mixture's sd is never below either model's share of it: it adds their spread
    assert bool(np.all(post.sd >= np.minimum(post.sds[0], post.sds[1]) - 1e-9))
    assert chosen.transfer_probability == post.transfer_probability  # still reported
    # a run with it is deterministic and spends its budget, related or not
    for ev in (unrelated, related):
        a = run(ev, budget=8, transfer_model="select")
        b = run(ev, budget=8, transfer_model="select")
        assert a.spent == 8 and [s.uid for s in a.steps] == [s.uid for s in b.steps]


def test_slope_prior_from_the_sources_spread_of_agreement(
        unrelated: InMemoryEvidence, related: InMemoryEvidence) -> None:
    """``--slope-prior sources``: ``sb2 = max(SLOPE_FLOOR, mean_s (r_s - b0)^2)``, each
    ``r_s`` a source's correlation with the others' consensus. Sources that share nothing
    (or all the same) leave the slope nearly known, so the transfer model's sd no longer
    peaks at the consensus' extremes."""
    rng = np.random.default_rng(0)
    z = rng.standard_normal((400, 5))
    z[:, 1] += z[:, 0]
    w = np.array([0.1, 0.2, 0.3, 0.2, 0.2])
    r = np.array(source_agreements(z, w))
    rest = z[:, 1:] @ (w[1:] / 0.9)  # the others' consensus of source 0
    assert r.shape == (5,) and abs(r[0] - np.corrcoef(z[:, 0], rest)[0, 1]) < 1e-12
    b0 = transfer_prior(r.tolist())
    assert b0 == max(0.0, float(np.median(r)))
    assert slope_variance(r.tolist()) == pytest.approx(
        max(SLOPE_FLOOR, float(np.mean((r - b0) ** 2))))
    # one source: nothing to measure
    assert slope_variance(source_agreements(z[:, :1], w[:1])) == SLOPE_VAR
    same = np.repeat(z[:, :1], 4, axis=1)
    # full agreement: the floor
    assert slope_variance(source_agreements(same, np.ones(4))) == SLOPE_FLOOR
    space = family_space()
    keys = [space.key(a) for a in space.enumerate()]
    codes = np.array([[int(p.split("=")[1][1:]) for p in k.split(",")] for k in keys])
    for ev in (unrelated, related):
        tables = [ev.oracle(t) for t in ("t1", "t2", "t3", "t4")]
        zs = np.column_stack([normal_scores([table[ev.uid(k)].score for k in keys])
                              for table in tables])
        fixed = TransferSurrogate(codes, zs, np.ones(4))
        learned = TransferSurrogate(codes, zs, np.ones(4), slope="sources")
        assert learned.b0 == fixed.b0 and fixed.sb2 == SLOPE_VAR
        assert SLOPE_FLOOR <= learned.sb2 < SLOPE_VAR  # both families: sources agree alike
        target = ev.oracle("t0")
        paid = [0, 500, 3000]
        y = [target[ev.uid(keys[i])].score for i in paid]
        top = int(np.argmax(np.abs(fixed.m)))  # the consensus' most extreme architecture
        assert learned.posterior(paid, y).sds[0][top] < fixed.posterior(paid, y).sds[0][top]
    a = run(unrelated, budget=8, slope_prior="sources")
    b = run(unrelated, budget=8, slope_prior="sources")
    assert a.spent == 8 and [s.uid for s in a.steps] == [s.uid for s in b.steps]


def test_choice_codes_and_their_one_hot_rows_match_the_keys() -> None:
    """The fast paths of a large space's candidate sets: codes read from a key's parts
    in the space's order (any other order parsed in full), and one-hot rows made from
    the codes equal to :class:`OneHot` of the keys."""
    from mdesign.core.space import OneHot
    from mdesign.refinement.transfer import choice_codes

    space = family_space()
    rng = random.Random(4)
    keys = space.random_keys(rng, 50)
    assert len(keys) == 50 and all(space.parse_key(k) for k in keys)
    onehot = OneHot(space)
    codes = choice_codes(space, onehot, keys)
    shuffled = [",".join(reversed(k.split(","))) for k in keys]  # another order
    assert np.array_equal(choice_codes(space, onehot, shuffled), codes)
    assert np.array_equal(onehot.of_codes(codes), onehot(keys))
    # the same draws as the choices drawn one by one: a seeded run is unchanged
    again = random.Random(4)
    first = space.key({d.name: again.choice(d.choices) for d in space.dimensions})
    assert keys[0] == space.key(space.canonical_form(space.parse_key(first)))
    assert space.random_keys(random.Random(4), 3, keep=lambda k: k != keys[0]) == keys[1:4]


def test_averaged_hyperparameters_weigh_the_grid_by_its_posterior(
        unrelated: InMemoryEvidence, related: InMemoryEvidence) -> None:
    """``--hyperparameters average``: within a model, each grid point's weight is its
    likelihood over the kept points (the most probable, holding AVERAGE_MASS of the
    weight, at most AVERAGE_KEEP); a model's evidence is its grid's mean likelihood (a
    uniform prior over the points), which sets p(transfer); the maximum-likelihood point
    alone is the special case of one kept point."""
    rng = np.random.default_rng(2)
    codes = _toy_codes()
    z = rng.standard_normal((len(codes), 2))
    y = z @ [0.8, 0.2] + 0.4 * rng.standard_normal(len(codes))
    paid = [int(i) for i in rng.choice(len(codes), size=9, replace=False)]
    avg = TransferSurrogate(codes, z, np.ones(2), hyperparameters="average")
    post = avg.posterior(paid, y[paid])
    ys = normal_scores(y[paid])
    h, t = avg._kernel_parts(np.asarray(paid))
    grids = [avg._grid(True, ys, h, t, avg.b0 * avg.m[paid], np.asarray(paid)),
             avg._grid(False, ys, h, t, np.zeros(len(ys)), np.asarray(paid))]
    evidence, expected = [], []
    for fits in grids:
        logs = np.array([mo.log_ml for mo in fits])
        w = np.exp(logs - logs.max())
        evidence.append(logs.max() + math.log(w.mean()))
        w /= w.sum()
        order = np.argsort(-w, kind="stable")
        n_kept = min(AVERAGE_KEEP, int(np.searchsorted(np.cumsum(w[order]), AVERAGE_MASS)) + 1)
        expected.append(w[order[:n_kept]] / w[order[:n_kept]].sum())
    p1 = 1 / (1 + math.exp(evidence[1] - evidence[0]))
    assert post.transfer_probability == pytest.approx(p1, rel=1e-9)
    want = [p1 * w for w in expected[0]] + [(1 - p1) * w for w in expected[1]]
    assert list(post.probs) == pytest.approx(want, rel=1e-9)
    assert len(post.probs) > 2  # nine results leave the grid's posterior spread
    # the maximum-likelihood surrogate is the mixture of each model's best point
    best = TransferSurrogate(codes, z, np.ones(2)).posterior(paid, y[paid])
    assert len(best.probs) == 2
    tops = [max(fits, key=lambda mo: mo.log_ml) for fits in grids]
    assert best.probs[0] == pytest.approx(
        1 / (1 + math.exp(tops[1].log_ml - tops[0].log_ml)), rel=1e-9)
    # a run with it is deterministic and spends its budget, related or not
    for ev in (unrelated, related):
        a = run(ev, budget=8, hyperparameters="average")
        b = run(ev, budget=8, hyperparameters="average")
        assert a.spent == 8 and [s.uid for s in a.steps] == [s.uid for s in b.steps]


def test_ranking_losses_count_the_pairs_a_model_orders_wrongly() -> None:
    y = np.array([0.0, 1.0, 2.0, 3.0])
    predictions = np.column_stack([y, -y, [0.0, 2.0, 1.0, 3.0]])
    once = np.ones((1, 4))
    # ordered pairs (j, k) out of order: none, all 12, and the swap of 1 and 2 both ways
    assert ranking_losses(predictions, y, once).tolist() == [[0.0, 12.0, 2.0]]
    # a result drawn twice counts its pairs twice (with each copy of the other)
    twice = np.array([[2.0, 1.0, 1.0, 0.0]])
    assert ranking_losses(predictions, y, twice).tolist() == [[0.0, 10.0, 2.0]]


def test_ensemble_weights_go_to_the_model_that_orders_the_target() -> None:
    rng = np.random.default_rng(0)
    y = rng.standard_normal(30)
    good = y + 0.1 * rng.standard_normal(30)
    fair = y + 1.0 * rng.standard_normal(30)
    target = y + 0.5 * rng.standard_normal(30)
    w = ensemble_weights(np.column_stack([good, fair, target]), y, np.random.default_rng(1))
    assert w.sum() == pytest.approx(1.0)
    assert w[0] > 0.9 and w[0] > w[1] and w[0] > w[2]
    # unrelated sources: diluted (median loss above the target's 95th percentile)
    noise = rng.standard_normal((30, 4))
    w = ensemble_weights(np.column_stack([noise, target]), y, np.random.default_rng(1))
    assert w[-1] == 1.0
    assert 0 < ENSEMBLE_DILUTION < 100
    # a tie is shared evenly: two identical sources split what one alone would get
    alone = ensemble_weights(np.column_stack([good, target]), y, np.random.default_rng(2))
    both = ensemble_weights(np.column_stack([good, good, target]), y,
                            np.random.default_rng(2))
    assert both[0] == both[1] == pytest.approx(alone[0] / 2)


def test_leave_one_out_is_a_refit_without_the_result() -> None:
    rng = np.random.default_rng(3)
    codes = _toy_codes()
    model = TransferSurrogate(codes, np.zeros((len(codes), 0)), np.zeros(0), transfer=False)
    paid = [int(i) for i in rng.choice(len(codes), size=8, replace=False)]
    ys = normal_scores(rng.standard_normal(8))
    h, t = model._kernel_parts(np.asarray(paid))
    fit = model._grid(False, ys, h, t, np.zeros(8), np.asarray(paid))[5]
    chol = fit.chol
    k = chol @ chol.T
    loo = leave_one_out(fit, ys)
    for i in range(8):
        rest = [j for j in range(8) if j != i]
        mean = k[i, rest] @ np.linalg.solve(k[np.ix_(rest, rest)], ys[rest])
        assert loo[i] == pytest.approx(mean, rel=1e-8, abs=1e-10)


def _deterministic_and_resumes(ev: InMemoryEvidence, **cfg: object) -> RefinementResult:
    """A 12-evaluation run on t0, checked to repeat itself and to resume exactly from its
    first 6 results."""
    a = run(ev, budget=12, **cfg)
    b = run(ev, budget=12, **cfg)
    assert a.spent == 12 and [s.uid for s in a.steps] == [s.uid for s in b.steps]
    oracle = BenchmarkEvaluator(None, "t0", 12, table=ev.oracle("t0"))
    oracle.restore([s.evaluation() for s in a.steps[:6]])
    resumed = run(ev, budget=12, evaluator=oracle, **cfg)
    assert [s.uid for s in resumed.steps] == [s.uid for s in a.steps]
    return a


def test_ranking_weighted_ensemble_runs_follow_the_sources_that_order_the_target(
        related: InMemoryEvidence, unrelated: InMemoryEvidence) -> None:
    """``--transfer-model rgpe``: the mean is the sources' scores and the target-only
    model weighted by the ensemble; its weight on the sources is the run's
    p(transfer); deterministic, and resumes exactly."""
    rng = np.random.default_rng(4)
    codes = _toy_codes()
    z = rng.standard_normal((len(codes), 2))
    y = z[:, 0] + 0.1 * rng.standard_normal(len(codes))
    paid = [int(i) for i in rng.choice(len(codes), size=12, replace=False)]
    model = TransferSurrogate(codes, z, np.ones(2), ensemble="rgpe", seed=5)
    post = model.posterior(paid, y[paid])
    v = np.array([*post.source_coefficients, 1 - post.transfer_probability])
    assert v.sum() == pytest.approx(1.0) and v[0] > 0.5 > v[1]
    target_only = TransferSurrogate(codes, z, np.ones(2), transfer=False).posterior(
        paid, y[paid])
    assert post.mean == pytest.approx(z @ v[:2] + v[2] * target_only.mean)
    assert post.sds[0] == pytest.approx(np.maximum(v[2] * target_only.sd, 1e-12), abs=1e-9)
    a = _deterministic_and_resumes(related, transfer_model="rgpe")
    # sources that agree carry it; unrelated ones lose their weight to the target model
    related_p = [s.transfer_probability for s in a.steps if s.kind == "search"]
    assert min(related_p) >= 0.5
    late = [s.transfer_probability for s in run(unrelated, budget=30,
                                                transfer_model="rgpe").steps[-5:]]
    assert max(late) < 0.5
    # the transfer model's options that the ensemble does not have are refused
    for over, flag in (({"kernel": "sources"}, "--kernel sources"),
                       ({"slope_prior": "sources"}, "--slope-prior"),
                       ({"transfer_odds": "agreement"}, "--transfer-odds")):
        with pytest.raises(InputError, match=f"{flag} shapes the transfer model"):
            run(related, budget=4, transfer_model="rgpe", **over)
    assert run(related, budget=4, transfer_model="rgpe", kernel="additive").spent == 4


def test_ranking_weighted_prior_mean_is_the_target_model_around_the_ranked_sources(
        related: InMemoryEvidence, unrelated: InMemoryEvidence) -> None:
    """``--transfer-model ranked``: the target-only GP whose prior mean is the sources
    weighted by RGPE's weights. Its mean is that prior plus the GP's fit of the
    residuals, its sd the target-only model's own (not shrunk by the sources' weight);
    with no weight on the sources it is the target-only model; runs are deterministic,
    resume exactly, and the options of M1 are refused."""
    rng = np.random.default_rng(4)
    codes = _toy_codes()
    z = rng.standard_normal((len(codes), 2))
    y = z[:, 0] + 0.1 * rng.standard_normal(len(codes))
    paid = [int(i) for i in rng.choice(len(codes), size=12, replace=False)]
    pidx = np.asarray(paid)
    model = TransferSurrogate(codes, z, np.ones(2), ensemble="ranked", seed=5)
    post = model.posterior(paid, y[paid])
    ensemble = TransferSurrogate(codes, z, np.ones(2), ensemble="rgpe", seed=5)
    rgpe = ensemble.posterior(paid, y[paid])
    # the same ranking weights as the ensemble's
    assert post.source_coefficients == pytest.approx(rgpe.source_coefficients)
    assert post.transfer_probability == pytest.approx(rgpe.transfer_probability)
    assert post.transfer_probability > 0.5
    # the GP with that prior mean, refitted by hand at its chosen grid point
    prior = z @ post.source_coefficients
    ys = normal_scores(y[paid])
    h, t = model._kernel_parts(pidx)
    fits = model._grid(False, ys, h, t, prior[paid], pidx)
    best = max(fits, key=lambda mo: mo.log_ml)
    k_pp = best.chol @ best.chol.T
    corr = model.correlation(best.shape, best.rho)
    k_ap = CONSTANT + best.signal * corr[(codes[:, None, :] != codes[pidx][None, :, :])
                                          .sum(axis=2)]
    mean = prior + k_ap @ np.linalg.solve(k_pp, ys - prior[paid])
    assert post.mean == pytest.approx(mean, abs=1e-8)
    var = CONSTANT + best.signal - np.einsum("ij,ji->i", k_ap, np.linalg.solve(k_pp, k_ap.T))
    assert post.sd == pytest.approx(np.sqrt(np.maximum(var, 1e-12)), abs=1e-6)
    # the sd is the target model's, far wider than the ensemble's v_t sd_0 here
    assert post.sd.mean() > 2 * rgpe.sd.mean()
    # sources that order nothing of a target its own model learns: the weight goes to the
    # target model and the prior mean to 0, i.e. the target-only model (the safety net)
    noise = rng.standard_normal((len(codes), 2))
    y0 = (codes * rng.standard_normal(codes.shape[1])).sum(axis=1)
    paid0 = [int(i) for i in rng.choice(len(codes), size=30, replace=False)]
    alone = TransferSurrogate(codes, noise, np.ones(2), ensemble="ranked", seed=1).posterior(
        paid0, y0[paid0])
    target_only = TransferSurrogate(codes, noise, np.ones(2), transfer=False).posterior(
        paid0, y0[paid0])
    assert alone.transfer_probability == 0
    assert alone.mean == pytest.approx(target_only.mean)
    _deterministic_and_resumes(related, transfer_model="ranked")
    late = [s.transfer_probability for s in run(unrelated, budget=30,
                                                transfer_model="ranked").steps[-5:]]
    assert max(late) < 0.5
    with pytest.raises(InputError, match="--kernel sources shapes the transfer model"):
        run(related, budget=4, transfer_model="ranked", kernel="sources")


def _target_following(seed: int, source: int
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[int]]:
    """A toy space, 3 sources' scores, a target that follows one of them with noise, and
    10 paid candidates."""
    rng = np.random.default_rng(seed)
    codes = _toy_codes()
    z = rng.standard_normal((len(codes), 3))
    y = z[:, source] + 0.3 * rng.standard_normal(len(codes))
    return codes, z, y, [int(i) for i in rng.choice(len(codes), size=10, replace=False)]


def test_ranked_prior_mean_of_the_transfer_model(related: InMemoryEvidence) -> None:
    """``--prior-mean ranked``: M1's prior mean is ``b0 sum_s v_s z_s`` with RGPE's
    ranking weights of this step, its kernel M1's own (checked against the GP formulas
    by hand); the run's source weights start from those weights; runs are deterministic
    and resume exactly; the ranking-weighted transfer models refuse the option."""
    codes, z, y, paid = _target_following(seed=6, source=1)
    pidx = np.asarray(paid)
    model = TransferSurrogate(codes, z, np.ones(3), prior_mean="ranked", seed=2)
    post = model.posterior(paid, y[paid])
    ys = normal_scores(y[paid])
    h, t = model._kernel_parts(pidx)
    v, _ = model._ranking_weights(pidx, ys, h, t)
    assert v[1] == max(v)  # the source the target follows leads the weights
    m1 = model.b0 * (z @ v[:-1])
    fits = model._grid(True, ys, h, t, m1[paid], pidx)
    best = max(fits, key=lambda mo: mo.log_ml)
    corr = model.correlation(best.shape, best.rho)
    h_ap = (codes[:, None, :] != codes[pidx][None, :, :]).sum(axis=2)
    k_ap = CONSTANT + model.f @ model.f[pidx].T + best.signal * corr[h_ap]
    k_pp = best.chol @ best.chol.T
    assert post.means[0] == pytest.approx(m1 + k_ap @ np.linalg.solve(k_pp, ys - m1[paid]),
                                          abs=1e-8)
    # M1's own kernel: the sd does not depend on the prior mean
    prior_var = CONSTANT + best.signal + (model.f ** 2).sum(axis=1)
    var = prior_var - np.einsum("ij,ji->i", k_ap, np.linalg.solve(k_pp, k_ap.T))
    assert post.sds[0] == pytest.approx(np.sqrt(np.maximum(var, 1e-12)), abs=1e-6)
    plain = TransferSurrogate(codes, z, np.ones(3), seed=2).posterior(paid, y[paid])
    assert not np.allclose(post.means[0], plain.means[0])
    # the step's source weights: b0 v_s plus the regression's corrections
    assert post.source_coefficients[1] == max(post.source_coefficients)
    _deterministic_and_resumes(related, prior_mean="ranked")
    for model_name in ("rgpe", "ranked"):
        with pytest.raises(InputError, match="--prior-mean shapes the transfer model"):
            run(related, budget=4, transfer_model=model_name, prior_mean="ranked")


def test_both_prior_means_are_averaged_by_their_evidence(related: InMemoryEvidence) -> None:
    """``--prior-mean both``: M1 with the consensus prior mean, M1 with the ranked one and
    M0, averaged by marginal likelihood with prior 1/4, 1/4, 1/2; p(transfer) is the two
    M1s' share; runs are deterministic and resume exactly."""
    codes, z, y, paid = _target_following(seed=8, source=2)
    pidx = np.asarray(paid)
    both = TransferSurrogate(codes, z, np.ones(3), prior_mean="both", seed=3)
    post = both.posterior(paid, y[paid])
    ys = normal_scores(y[paid])
    h, t = both._kernel_parts(pidx)
    v, _ = both._ranking_weights(pidx, ys, h, t)
    mean_r = both.b0 * (z @ v[:-1])
    best = [max(fits, key=lambda mo: mo.log_ml) for fits in (
        both._grid(True, ys, h, t, both.b0 * both.m[paid], pidx),
        both._grid(True, ys, h, t, mean_r[paid], pidx, mean_r),
        both._grid(False, ys, h, t, np.zeros(10), pidx))]
    logs = np.array([mo.log_ml for mo in best]) + np.log([0.25, 0.25, 0.5])
    probs = np.exp(logs - logs.max())
    probs /= probs.sum()
    assert post.probs == pytest.approx(tuple(probs))
    assert post.transfer_probability == pytest.approx(probs[0] + probs[1])
    # each component is its own model's prediction: consensus M1 as the default's M1,
    # the ranked M1 as --prior-mean ranked's
    consensus = TransferSurrogate(codes, z, np.ones(3), seed=3).posterior(paid, y[paid])
    ranked = TransferSurrogate(codes, z, np.ones(3), prior_mean="ranked",
                               seed=3).posterior(paid, y[paid])
    assert post.means[0] == pytest.approx(consensus.means[0])
    assert post.means[1] == pytest.approx(ranked.means[0])
    assert post.means[2] == pytest.approx(consensus.means[1])
    assert post.mean == pytest.approx(sum(p * m for p, m in zip(probs, post.means,
                                                                 strict=True)))
    _deterministic_and_resumes(related, prior_mean="both")


def test_ucb_kappa_grows_with_what_is_paid(related: InMemoryEvidence) -> None:
    """``--ucb-schedule log``: UCB's kappa is ``kappa sqrt(ln(1 + n) / 2)`` at ``n`` paid
    results (``kappa`` itself at ``n = e^2 - 1``); the first search step is the fixed
    UCB's at that kappa; a shorter run is the start of a longer one; runs repeat, resume
    exactly, and another acquisition refuses UCB's options."""
    assert ucb_kappa(2.0, "fixed", 50) == 2.0
    assert ucb_kappa(2.0, "log", 0) == 0.0
    assert ucb_kappa(3.0, "log", 0) < ucb_kappa(3.0, "log", 2) < ucb_kappa(3.0, "log", 99)
    assert ucb_kappa(3.0, "log", math.e ** 2 - 1) == pytest.approx(3.0)  # type: ignore[arg-type]
    assert ucb_kappa(2.0, "log", 99) == pytest.approx(math.sqrt(2 * math.log(100)))
    grown = run(related, budget=12, ucb_schedule="log")
    # the portfolio pays 2, so the first search step scores with kappa 2 sqrt(ln 3 / 2)
    fixed = run(related, budget=3, ucb_kappa=2 * math.sqrt(math.log(3) / 2))
    assert [s.kind for s in grown.steps[:3]] == ["design", "design", "search"]
    assert [s.uid for s in grown.steps[:3]] == [s.uid for s in fixed.steps]
    assert grown.steps[2].acquisition == pytest.approx(fixed.steps[2].acquisition)
    # and not the default's kappa 2, whose bonus is larger
    default = run(related, budget=3)
    assert default.steps[2].acquisition > grown.steps[2].acquisition
    short = run(related, budget=7, ucb_schedule="log")
    assert [s.uid for s in short.steps] == [s.uid for s in grown.steps[:7]]
    _deterministic_and_resumes(related, ucb_schedule="log")
    for over, flag in (({"ucb_schedule": "log"}, "--ucb-schedule"),
                       ({"ucb_kappa": 1.0}, "--ucb-kappa")):
        with pytest.raises(InputError, match=f"{flag} shapes the ucb acquisition"):
            run(related, budget=4, acquisition="ei", **over)


def test_winsorised_source_scores(related: InMemoryEvidence) -> None:
    """``--source-scores winsorised``: each source's normal scores capped at
    ``+-WINSOR_CAP`` and rescaled to unit variance (the order kept below the cap, every
    architecture beyond it tied); the surrogate's columns are those, runs repeat and resume
    exactly, and the walk refuses the option."""
    values = np.random.default_rng(3).standard_normal(2_000)
    z, w = normal_scores(values), winsorised_scores(values)
    assert w.std() == pytest.approx(1.0) and w.mean() == pytest.approx(0.0, abs=1e-9)
    order = np.argsort(values)
    assert (np.diff(w[order]) >= -1e-12).all()  # the order is kept
    beyond = np.abs(z) >= WINSOR_CAP
    assert 0 < beyond.sum() < 0.1 * len(values)
    assert len(set(w[z >= WINSOR_CAP].round(12))) == 1  # the top tail is one tie
    inside = ~beyond
    assert np.allclose(w[inside] / z[inside], w[inside][0] / z[inside][0])  # one scale
    assert w.max() < z.max()
    # a source's columns: its top tail tied at the cap, below the uncapped maximum
    table = related.task_scores("t1", family_space().name)
    onehot = OneHot(family_space())
    normal = SourceScores(onehot, table).normal
    capped = SourceScores(onehot, table, "winsorised").normal
    top = max(capped.values())
    assert top < max(normal.values())
    assert {k for k, v in capped.items() if v == top} == \
        {k for k, v in normal.items() if v >= WINSOR_CAP}
    a = _deterministic_and_resumes(related, source_scores="winsorised")
    b = run(related, budget=12)
    assert a.config.source_scores == "winsorised" and b.config.source_scores == "normal"
    with pytest.raises(InputError, match="--source-scores is an option of --strategy "
                       "surrogate"):
        refine(related, RefineConfig(task="t0", budget=4, source_scores="winsorised"),
               BenchmarkEvaluator(None, "t0", 4, table=related.oracle("t0")))


def test_split_source_scores(related: InMemoryEvidence) -> None:
    """``--source-scores split``: the consensus (prior mean, slope term, ``b0``) and the
    portfolio read the winsorised scores, each source's own kernel term the normal ones;
    runs repeat and resume exactly."""
    from mdesign.refinement.transfer import _Surrogate

    captured: dict[str, TransferSurrogate] = {}
    real = _Surrogate._build_model

    def keep(self: _Surrogate) -> None:
        real(self)
        captured[self.cfg.source_scores] = self.model

    _Surrogate._build_model = keep  # type: ignore[method-assign]
    try:
        runs = {k: run(related, budget=6, source_scores=k)
                for k in ("normal", "winsorised", "split")}
    finally:
        _Surrogate._build_model = real  # type: ignore[method-assign]
    normal, capped, split = (captured[k] for k in ("normal", "winsorised", "split"))
    assert np.array_equal(split.z, normal.z) and not np.array_equal(split.z, capped.z)
    assert np.allclose(split.m, capped.m) and not np.allclose(split.m, normal.m)
    assert split.b0 == pytest.approx(capped.b0)
    # the per-source columns of the kernel are the normal scores, the slope's the capped
    assert np.allclose(split.f[:, 1:], normal.f[:, 1:])
    assert np.allclose(split.f[:, 0], capped.f[:, 0])
    # the first design is the winsorised run's
    assert [s.uid for s in runs["split"].steps[:2]] == \
        [s.uid for s in runs["winsorised"].steps[:2]]
    _deterministic_and_resumes(related, source_scores="split")


def test_switch_source_scores(related: InMemoryEvidence,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    """``--source-scores switch``: the winsorised run's steps until ``SWITCH_PAID`` paid
    results, then one model over the normal scores (its columns the normal run's); runs
    repeat and resume exactly across the switch."""
    from mdesign.refinement import transfer

    monkeypatch.setattr(transfer, "SWITCH_PAID", 8)
    built: list[tuple[int, np.ndarray]] = []
    real = transfer._Surrogate._build_model

    def keep(self: transfer._Surrogate) -> None:
        real(self)
        built.append((len(self.seen), self.model.z.copy()))

    monkeypatch.setattr(transfer._Surrogate, "_build_model", keep)
    switch = run(related, budget=14, source_scores="switch")
    after = built[-1]
    assert [n for n, _ in built] == [0, 8]  # built once at the start, once at the switch
    built.clear()
    capped = run(related, budget=14, source_scores="winsorised")
    run(related, budget=3)
    capped_z, normal_z = built[0][1], built[-1][1]
    assert np.array_equal(after[1], normal_z) and not np.array_equal(after[1], capped_z)
    uids = [s.uid for s in switch.steps]
    assert uids[:8] == [s.uid for s in capped.steps[:8]]
    assert uids[8:] != [s.uid for s in capped.steps[8:]]
    _deterministic_and_resumes(related, source_scores="switch")  # resumes from 6 of 12

"""The diffusion generator: the VE schedule and the forward process, the matrix encoding and
its attention masks, deterministic predictor-corrector sampling, validity and uniqueness of
what is returned, the direction of the guidance gradient, and, against the knowledge base,
training, storing with provenance, the CLI and refinement seeded by the generator."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from conftest import run_cli
from mdesign.core.space import DesignSpace
from mdesign.generation.encoding import ArchitectureMatrix
from mdesign.generation.generator import (
    ArchitectureGenerator,
    GenerationSettings,
    GeneratorConfig,
    anchor_block,
    generate,
    generate_for_task,
    known_keys,
    load_generator,
    train_generator,
)
from mdesign.generation.networks import ScoreNetwork
from mdesign.generation.sampling import guidance_gradient, sample
from mdesign.generation.sde import VESDE
from mdesign.kb import KnowledgeBase
from torch import nn

torch.set_num_threads(1)
SPACES = Path(__file__).resolve().parents[1] / "spaces"
NBG = DesignSpace.from_yaml(SPACES / "nas-bench-graph.yaml")
MATRIX = ArchitectureMatrix(NBG)


# -- the SDE ---------------------------------------------------------------------------------

def test_variance_schedule_is_geometric_from_sigma_max_to_sigma_min() -> None:
    sde = VESDE(sigma_min=0.1, sigma_max=5.0, steps=50)
    assert float(sde.sigma(torch.tensor(0.0))) == pytest.approx(0.1)
    assert float(sde.sigma(torch.tensor(1.0))) == pytest.approx(5.0)
    sig = sde.sigmas()
    assert sig.shape == (50,) and float(sig[0]) == pytest.approx(5.0)
    assert float(sig[-1]) == pytest.approx(0.1)
    ratios = sig[1:] / sig[:-1]  # a constant ratio: (0.1 / 5) ** (1 / 49)
    assert torch.allclose(ratios, torch.full_like(ratios, (0.1 / 5.0) ** (1 / 49)), atol=1e-5)
    # the network's time input is log sigma centred on the schedule
    assert float(sde.log_sigma(torch.tensor(0.5))) == pytest.approx(0.0, abs=1e-6)


def test_forward_process_has_the_schedule_variance() -> None:
    sde = VESDE()
    g = torch.Generator().manual_seed(0)
    x0 = MATRIX.encode([NBG.parse_key("link=0123,op1=gcn,op2=gat,op3=sage,op4=fc")] * 4000)
    for t in (0.1, 0.5, 0.9):
        tt = torch.full((x0.size(0),), t)
        noise = torch.randn(x0.shape, generator=g)
        xt = sde.perturb(x0, tt, noise)
        assert xt.shape == x0.shape
        assert float((xt - x0).std()) == pytest.approx(float(sde.sigma(torch.tensor(t))),
                                                       rel=0.02)
    prior = sde.prior((4000, MATRIX.rows, MATRIX.columns), g)
    assert float(prior.std()) == pytest.approx(5.0, rel=0.02)


class PointMassScore(nn.Module):
    """The exact score of data that is one matrix x*: grad log N(x; x*, sigma^2 I). It
    records the spread of the sampler's states around x* at each noise level it sees."""

    def __init__(self, target: torch.Tensor) -> None:
        super().__init__()
        self.target = target
        self.seen: list[tuple[float, float]] = []

    def forward(self, x: torch.Tensor, log_sigma: torch.Tensor, sigma: torch.Tensor,
                mask: torch.Tensor) -> torch.Tensor:
        diff = x - self.target
        self.seen.append((float(sigma[0]), float(diff[:, MATRIX.column_mask].std())))
        return -diff / sigma.view(-1, 1, 1) ** 2


def test_reverse_process_follows_the_variance_schedule_back_to_the_data() -> None:
    target = MATRIX.encode_keys(["link=0012,op1=gat,op2=gcn,op3=sage,op4=sage"])
    score = PointMassScore(target)
    sde = VESDE(steps=100)
    x = sample(score, MATRIX, sde, 512, torch.Generator().manual_seed(0))  # type: ignore[arg-type]
    assert x.shape == (512, MATRIX.rows, MATRIX.columns)
    # with the exact score, the state at noise level sigma spreads by sigma around x*
    # (corrector and predictor calls alike), and the last, noiseless step lands on x*
    assert len(score.seen) == 2 * sde.steps
    for sigma, spread in score.seen:
        assert spread == pytest.approx(sigma, rel=0.08), (sigma, spread)
    assert torch.allclose(x, target.expand_as(x), atol=1e-4)


# -- the encoding ----------------------------------------------------------------------------

def test_matrix_round_trips_and_pads_with_zeros() -> None:
    archs = [NBG.parse_key(k) for k in ("link=0000,op1=gat,op2=cheb,op3=arma,op4=gin",
                                        "link=0123,op1=sage,op2=graph,op3=fc,op4=gcn")]
    x = MATRIX.encode(archs)
    assert x.shape == (2, len(NBG.dimensions), MATRIX.columns)
    assert torch.all(x.sum(-1) == 1) and torch.all(x[:, ~MATRIX.column_mask] == 0)
    assert MATRIX.decode(x) == archs
    # padding never wins the rounding, even with a large value there
    noisy = x.clone()
    noisy[:, ~MATRIX.column_mask] = 100.0
    assert MATRIX.decode(noisy) == archs


def test_attention_follows_the_link_pattern_read_from_the_matrix() -> None:
    names = [d.name for d in NBG.dimensions]
    op = {o: names.index(o) for o in ("op1", "op2", "op3", "op4")}
    chain = MATRIX.attention_mask(MATRIX.encode_keys(
        ["link=0123,op1=gcn,op2=gcn,op3=gcn,op4=gcn"]))[0]
    star = MATRIX.attention_mask(MATRIX.encode_keys(
        ["link=0000,op1=gcn,op2=gcn,op3=gcn,op4=gcn"]))[0]
    assert torch.equal(chain, chain.T) and torch.all(chain[0]) and torch.all(chain.diagonal())
    # 0123: node k reads node k-1
    assert chain[op["op2"], op["op1"]] and chain[op["op4"], op["op3"]]
    assert not chain[op["op1"], op["op3"]]
    # 0000: every node reads the input only, so op rows see themselves and the link row
    assert int(star.sum()) == len(names) + 2 * (len(names) - 1)


# -- sampling --------------------------------------------------------------------------------

def _tiny_score() -> ScoreNetwork:
    torch.manual_seed(0)
    return ScoreNetwork(MATRIX.rows, MATRIX.columns, dim=16, layers=1, heads=2).eval()


def test_sampling_with_a_seed_is_deterministic() -> None:
    net, sde = _tiny_score(), VESDE(steps=12)
    a = sample(net, MATRIX, sde, 6, torch.Generator().manual_seed(3))
    b = sample(net, MATRIX, sde, 6, torch.Generator().manual_seed(3))
    c = sample(net, MATRIX, sde, 6, torch.Generator().manual_seed(4))
    assert a.shape == (6, MATRIX.rows, MATRIX.columns)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.all(a[:, ~MATRIX.column_mask] == 0)


@pytest.mark.parametrize("space_file", ["nas-bench-graph.yaml", "graphgym.yaml"])
def test_returned_architectures_are_valid_canonical_unique_and_new(space_file: str) -> None:
    space = DesignSpace.from_yaml(SPACES / space_file)
    matrix = ArchitectureMatrix(space)
    assert matrix.linked == (space_file == "nas-bench-graph.yaml")
    model = ArchitectureGenerator(matrix.rows, matrix.columns, dim=16, layers=1, heads=2,
                                  guide_dim=16, guide_layers=1, anchors=0, guided=0)
    exclude = {space.key(a) for a in list(space.enumerate())[:50]}
    settings = GenerationSettings(n=40, steps=10, batch=32, rounds=4, seed=1)
    found, counts = generate(model, space, VESDE(), settings, exclude=exclude)
    keys = [f.key for f in found]
    assert len(keys) == 40 and len(set(keys)) == 40 and not set(keys) & exclude
    assert [f.rank for f in found] == list(range(1, 41))
    for k in keys:
        arch = space.parse_key(k)
        assert not space.violation(arch) and space.key(space.canonical_form(arch)) == k
    assert counts["samples"] >= len(keys) and counts["valid"] <= counts["samples"]
    again, _ = generate(model, space, VESDE(), settings, exclude=exclude)
    assert [f.key for f in again] == keys


class ToyPredictor(nn.Module):
    """f(X) = sum of the entries of one column of the op rows: it likes one operation."""

    def __init__(self, column: int) -> None:
        super().__init__()
        self.column = column

    def forward(self, x: torch.Tensor, log_sigma: torch.Tensor, mask: torch.Tensor,
                task: torch.Tensor) -> torch.Tensor:
        return x[:, 1:, self.column].sum(-1)


def test_guidance_gradient_moves_the_predictor_score_up() -> None:
    sde = VESDE(steps=30)
    toy = ToyPredictor(column=2)
    grad = guidance_gradient(toy, MATRIX, sde, torch.zeros(1, 3))  # type: ignore[arg-type]
    g = torch.Generator().manual_seed(0)
    x = torch.randn(8, MATRIX.rows, MATRIX.columns, generator=g)
    t = torch.full((8,), 0.5)
    d = grad(x, t)
    before = toy(x, t, None, None)  # type: ignore[arg-type]
    after = toy(x + 0.1 * d, t, None, None)  # type: ignore[arg-type]
    assert torch.all(after > before)
    # guided sampling prefers the liked operation far more often than unguided sampling
    net = _tiny_score()
    plain = MATRIX.indices(sample(net, MATRIX, sde, 32, torch.Generator().manual_seed(1)))
    guided = MATRIX.indices(sample(net, MATRIX, sde, 32, torch.Generator().manual_seed(1),
                                   guide=grad, scale=2.0))
    share = [float((idx[:, 1:] == 2).float().mean()) for idx in (plain, guided)]
    assert share[1] > 0.9 and share[1] > share[0] + 0.3


def test_anchor_block_standardises_present_anchors_only() -> None:
    scores = torch.tensor([[0.5, 0.7, 0.9, 0.0], [0.5, 0.0, 0.0, 0.0]])
    present = torch.tensor([[True, True, True, False], [True, False, False, False]])
    out = anchor_block(scores, present)
    z, flags = out[:, :4], out[:, 4:]
    assert z[0, :3].tolist() == pytest.approx([-math.sqrt(1.5), 0.0, math.sqrt(1.5)],
                                              abs=1e-4)
    assert z[0, 3] == 0 and flags[0].tolist() == [1, 1, 1, 0]
    assert torch.all(out[1] == 0)  # one anchor alone says nothing about the ranking


# -- the knowledge base ----------------------------------------------------------------------

def test_generator_train_store_generate_and_refine(nbg: KnowledgeBase) -> None:
    cfg = GeneratorConfig(name="gen-test", exclude=["cora"], dim=16, layers=1, heads=2,
                          guide_dim=16, guide_layers=1, anchors=4, score_steps=30,
                          guide_steps=30, batch_size=32)
    model, meta = train_generator(nbg, cfg)
    assert meta.type == "generator" and "cora" not in meta.tasks and len(meta.tasks) == 8
    assert len(meta.metrics["anchors"]) == 4
    loaded, _ = load_generator(nbg, "gen-test")
    for a, b in zip(model.state_dict().values(), loaded.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    row = next(r for r in nbg.query("generator_list") if r["name"] == "gen-test")
    assert row["tasks"] == 8 and row["spaces"] == ["nas-bench-graph"]

    settings = GenerationSettings(n=5, steps=10, batch=32, seed=2)
    known = set(known_keys(nbg, "nas-bench-graph", "cora"))
    assert len(known) == 26206  # NAS-Bench-Graph measured every architecture on cora
    first = generate_for_task(nbg, "gen-test", "cora", settings, save=False)
    assert len(first.architectures) == 5
    exclude = {a.key for a in first.architectures[:3]}
    res = generate_for_task(nbg, "gen-test", "cora", settings, exclude=exclude)
    assert len(res.architectures) == 5 and all(a.predicted is not None
                                               for a in res.architectures)
    assert not {a.key for a in res.architectures} & exclude
    assert [a.key for a in res.architectures][:2] == [a.key for a in first.architectures][3:]
    stored = nbg.query("generations", task="cora", limit=1)
    assert [r["uid"] for r in stored] == [a.uid for a in res.architectures]
    assert {r["generator"] for r in stored} == {"gen-test"} and stored[0]["rank"] == 1
    (prov,) = nbg.query("generation_get", id=res.id)
    assert (prov["task"], prov["generator"], prov["seed"], prov["valid"], prov["proposed"]) \
        == ("cora", "gen-test", 2, res.valid, 5)
    assert "cora" not in prov["guide_tasks"] and len(prov["guide_tasks"]) == 8

    out = run_cli("generate", "--task", "cora", "-n", "3", "--generator", "gen-test",
                  "--steps", "10", "--seed", "5", "--json")
    assert out.returncode == 0, out.stderr
    import json

    printed = json.loads(out.stdout)
    assert len(printed["architectures"]) == 3 and printed["task"] == "cora"
    assert nbg.query("generations", task="cora", limit=1)[0]["generation"] == printed["id"]
    for args, message in [
        (("generate", "--task", "cora", "--generator", "nope"), "no predictor named 'nope'"),
        (("generate", "--task", "no-such-task", "--generator", "gen-test"), "no-such-task"),
        (("generate", "--task", "cora", "--generator", "gen-test", "--scale", "-1"),
         "--scale: input should be greater than or equal to 0"),
        (("generator", "train", "--space", "no-such-space"), "no-such-space"),
        (("refine", "--task", "cora", "--budget", "5", "--generator", "nope"),
         "no predictor named 'nope'"),
    ]:
        bad = run_cli(*args)
        assert bad.returncode == 2 and message in bad.stderr, bad.stderr
        assert len(bad.stderr.strip().splitlines()) == 1

    from mdesign.refinement.evaluators import BenchmarkEvaluator
    from mdesign.refinement.refine import RefineConfig, refine

    cfg_r = RefineConfig(task="cora", budget=8, generator="gen-test", generated=3)
    result = refine(nbg, cfg_r, BenchmarkEvaluator(nbg, "cora", 8))
    kinds = [s.kind for s in result.steps]
    assert kinds[:4] == ["generated"] * 3 + ["start"] and result.spent == 8
    again = refine(nbg, cfg_r, BenchmarkEvaluator(nbg, "cora", 8))
    assert [s.uid for s in again.steps] == [s.uid for s in result.steps]
    # with patience 2, a later proposal is paid for only after 2 evaluations in a row
    # without a new best
    cfg_p = cfg_r.model_copy(update={"budget": 16, "generated": 1, "generator_patience": 2})
    steps = refine(nbg, cfg_p, BenchmarkEvaluator(nbg, "cora", 16)).steps
    later = [i for i, s in enumerate(steps) if s.kind == "generated" and i >= 3]
    assert later and steps[0].kind == "generated" and steps[1].kind == "start"
    for i in later:
        assert steps[i - 1].best_uid == steps[i - 2].best_uid == steps[i - 3].best_uid
    assert len({s.uid for s in steps}) == 16

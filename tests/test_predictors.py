"""The performance predictor: computation graphs, augmentations, losses, proxies, and the
trained predictor against the real knowledge base (checkpoint round trip, CLI, embeddings
in Neo4j)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from conftest import run_cli
from mdesign.core.errors import InputError
from mdesign.core.space import DesignSpace
from mdesign.kb import KnowledgeBase
from mdesign.predictors.augment import drop_edges, mask_ops, view
from mdesign.predictors.graph import OP_VOCAB, architecture_graph, example_graph, trace
from mdesign.predictors.training import info_nce, rank_targets
from torch import nn

torch.set_num_threads(1)
SPACES = Path(__file__).resolve().parents[1] / "spaces"


class Residual(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.lin(x)) + x


class DataDependent(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.sum() > 0:  # Python control flow on a tensor's value: not traceable
            return self.lin(x)
        return x


def test_graphs_of_known_modules() -> None:
    mlp = trace(nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)),
                (torch.randn(3, 4),))
    assert mlp.ops == ["input", "Linear", "ReLU", "Linear", "output"]
    assert mlp.shapes == [[3, 4], [3, 8], [3, 8], [3, 2], [3, 2]]
    assert mlp.params == [0, 40, 0, 18, 0]
    assert mlp.edges == [(0, 1), (1, 2), (2, 3), (3, 4)]

    res = trace(Residual(), (torch.randn(2, 4),))
    assert res.ops == ["input", "Linear", "relu", "add", "output"]
    assert res.edges == [(0, 1), (0, 3), (1, 2), (2, 3), (3, 4)]  # the skip is an edge


def test_graph_of_a_nas_bench_graph_cell() -> None:
    """Link 0000 (every op reads the input, 4 leaves), 4 GCNs, node head: input, getattr
    x and edge_index, pre Linear + relu, 4 x (Dropout, GCNConv, relu), stack, sum, head
    Linear, output = 21 nodes; 27 edges (counted in the comments)."""
    space = DesignSpace.from_yaml(SPACES / "nas-bench-graph.yaml")
    g = architecture_graph(space, space.parse_key("link=0000,op1=gcn,op2=gcn,op3=gcn,op4=gcn"))
    assert g.num_nodes == 21
    assert g.ops.count("GCNConv") == 4 and g.ops.count("Dropout") == 4
    assert g.ops.count("relu") == 5 and g.ops.count("getattr") == 2
    # input->x, input->edge_index, x->pre, pre->relu, relu->4 dropouts, 4 dropout->conv,
    # edge_index->4 convs, 4 conv->relu, 4 relu->stack, stack->sum, sum->head, head->out
    assert len(g.edges) == 2 + 1 + 1 + 4 + 4 + 4 + 4 + 4 + 1 + 1 + 1 == 27
    assert all(a < b for a, b in g.edges)  # topological order
    conv = g.ops.index("GCNConv")
    assert g.shapes[conv] == [12, 128] and g.params[conv] == 128 * 128 + 128
    # a skip op is an Identity with no relu after it; a chain has one leaf (no stack input
    # but the last op)
    chain = architecture_graph(space, space.parse_key(
        "link=0123,op1=gcn,op2=skip,op3=fc,op4=gat"))
    assert chain.ops.count("Identity") == 1 and chain.ops.count("relu") == 4
    assert sum(1 for a, b in chain.edges if chain.ops[b] == "stack") == 1


def test_graphs_of_graphgym_models_and_graph_heads() -> None:
    space = DesignSpace.from_yaml(SPACES / "graphgym.yaml")
    arch = next(iter(space.enumerate()))
    g = architecture_graph(space, arch, kind="graph")
    assert g.ops[-3:] == ["pool", "Linear", "output"]
    assert g.shapes[-2] == [2, 8]  # two graphs in the example batch, 8 outputs
    data = g.to_data()
    assert data.x.shape == (g.num_nodes, len(OP_VOCAB) + 4)
    assert torch.equal(data.x[:, : len(OP_VOCAB)].sum(1), torch.ones(g.num_nodes))


def test_untraceable_module_gives_one_clear_line() -> None:
    with pytest.raises(InputError) as err:
        trace(DataDependent(), (torch.randn(2, 4),))
    msg = str(err.value)
    assert msg.startswith("cannot trace module DataDependent") and "\n" not in msg
    with pytest.raises(InputError, match="does not run on the example input"):
        trace(nn.Linear(4, 2), (torch.randn(2, 5),))


def test_augmentations_keep_graphs_valid() -> None:
    space = DesignSpace.from_yaml(SPACES / "nas-bench-graph.yaml")
    g = architecture_graph(space, space.parse_key(
        "link=0012,op1=gat,op2=sage,op3=skip,op4=arma")).to_data()
    gen = torch.Generator().manual_seed(0)
    for _ in range(20):
        for v in (mask_ops(g, 0.5, gen), drop_edges(g, 0.5, gen), view(g, gen)):
            assert v.num_nodes == g.num_nodes and v.x.shape == g.x.shape
            assert torch.isfinite(v.x).all()
            assert torch.equal(v.x[:, len(OP_VOCAB):], g.x[:, len(OP_VOCAB):])
            assert (v.x[:, : len(OP_VOCAB)].sum(1) <= 1).all()
            ei = v.edge_index
            assert ei.min() >= 0 and ei.max() < g.num_nodes
            assert (ei[0] < ei[1]).all()  # still forward: a DAG
            pairs = set(map(tuple, ei.t().tolist()))
            assert len(pairs) == ei.size(1) and pairs <= set(map(tuple, g.edge_index.t().tolist()))
            assert all((0, b) in pairs for a, b in g.edge_index.t().tolist() if a == 0)
    # and they do change something
    assert not torch.equal(mask_ops(g, 0.5, gen).x, g.x)
    assert drop_edges(g, 0.5, gen).edge_index.size(1) < g.edge_index.size(1)


def test_info_nce_and_rank_targets_by_hand() -> None:
    z = torch.randn(8, 16, generator=torch.Generator().manual_seed(0))
    aligned = info_nce(z, z + 0.01 * torch.randn(8, 16))
    shuffled = info_nce(z, z[torch.randperm(8, generator=torch.Generator().manual_seed(1))])
    assert aligned < shuffled
    # two identical views of n orthogonal rows at tau: -log(e^(1/tau) / (e^(1/tau) + n-1))
    eye = torch.eye(4)
    assert float(info_nce(eye, eye, tau=0.5)) == pytest.approx(
        -math.log(math.e ** 2 / (math.e ** 2 + 3)), rel=1e-5)
    s = torch.tensor([[0.5, 1.0], [0.1, float("nan")], [0.5, 3.0], [0.9, 2.0]])
    r = rank_targets(s)
    # column 0: ranks 0.1 -> 0, the two 0.5 share (1 + 2) / 2, 0.9 -> 3; divided by 3
    assert r[:, 0].tolist() == pytest.approx([0.5, 0.0, 0.5, 1.0])
    assert math.isnan(float(r[1, 1]))
    assert [float(r[i, 1]) for i in (0, 2, 3)] == pytest.approx([0.0, 1.0, 0.5])


def test_ridge_loo_matches_refitting_without_each_point() -> None:
    """The closed-form leave-one-out error of :func:`ridge_loo` equals refitting the
    ridge (unpenalised intercept, same standardised columns) n times, and the chosen
    penalty is the one with the least of it."""
    from mdesign.predictors.adaptation import ridge_loo

    g = torch.Generator().manual_seed(0)
    x = torch.randn(30, 5, generator=g, dtype=torch.float64) * torch.tensor(
        [1.0, 10.0, 0.1, 3.0, 1.0], dtype=torch.float64)
    y = x[:, 0] - 0.05 * x[:, 1] + 0.3 * torch.randn(30, generator=g, dtype=torch.float64)
    errors = {}
    for lam in (0.1, 10.0, 1000.0):
        fitted = ridge_loo(x, y, penalties=[lam])
        z = (x - fitted.mean) / fitted.scale
        design = torch.cat([torch.ones(30, 1, dtype=torch.float64), z], 1)
        penalty = lam * torch.eye(6, dtype=torch.float64)
        penalty[0, 0] = 0.0  # the intercept is not shrunk
        brute = []
        for i in range(30):
            keep = [k for k in range(30) if k != i]
            a, b = design[keep], y[keep]
            w = torch.linalg.solve(a.T @ a + penalty, a.T @ b)
            brute.append(float(y[i] - design[i] @ w) ** 2)
        assert fitted.loo_mse == pytest.approx(sum(brute) / 30, rel=1e-9)
        errors[lam] = fitted.loo_mse
    assert ridge_loo(x, y, penalties=list(errors)).penalty == min(errors, key=errors.get)
    # the fit itself: with a tiny penalty it is least squares
    exact = ridge_loo(x, y, penalties=[1e-9])
    assert float((exact(x) - y).pow(2).mean()) < 0.3 ** 2 * 1.5


def test_adaptations_move_only_their_parameters_and_learn_the_shots() -> None:
    """Few-shot adaptation: ``task`` moves only the task embedding's offset, ``heads`` the
    task and score heads, ``full`` everything but the contrastive projection; the ridge
    heads (``transfer``, ``probe``) leave the model alone; ``ensemble`` is the mean of
    ``full``, ``transfer`` and ``probe``; ``auto`` picks the best by cross-validation on
    the shots; every one ranks the shots better than the model did."""
    import copy

    from mdesign.cli.predictors import ADAPT_CHOICES
    from mdesign.core.stats import spearman
    from mdesign.predictors.adaptation import ADAPTATIONS, ENSEMBLE, adapt
    from mdesign.predictors.encoder import TASK_DIM, PerformancePredictor
    from mdesign.predictors.training import predict

    assert set(ADAPT_CHOICES) == {*ADAPTATIONS, "auto"}
    space = DesignSpace.from_yaml(SPACES / "nas-bench-graph.yaml")
    archs = sorted(space.enumerate(), key=space.key)[::997][:24]
    graphs = [architecture_graph(space, a).to_data() for a in archs]
    # a score the encoder can see: how many GAT layers the architecture has
    scores = torch.tensor([sum(a[f"op{i}"] == "gat" for i in range(1, 5)) + 0.01 * n
                           for n, a in enumerate(archs)], dtype=torch.float64)
    g = torch.Generator().manual_seed(0)
    task, seen = torch.rand(TASK_DIM, generator=g), torch.rand(3, TASK_DIM, generator=g)
    torch.manual_seed(0)
    base = PerformancePredictor(dim=16, layers=2, task_dim=8)
    untouched = copy.deepcopy(base.state_dict())
    before = spearman(predict(base, graphs, task[None])[:, 0].tolist(), scores.tolist())
    moved, outputs = {}, {}
    for how in ADAPTATIONS:
        adapted = adapt(base, graphs, scores, task, seen=seen, how=how)
        assert adapted.how == how and adapted.cv == {}
        outputs[how] = adapted.predict(graphs)
        assert spearman(outputs[how].tolist(), scores.tolist()) > before
        tuned = adapted.model.state_dict() if adapted.model is not None else untouched
        moved[how] = {n for n, p in tuned.items() if not torch.equal(p, untouched[n])}
    assert all(torch.equal(p, untouched[n]) for n, p in base.state_dict().items())
    assert moved["task"] == {"task.2.bias"}
    assert moved["heads"] == {n for n, _ in base.named_parameters()
                              if n.startswith(("task.", "head."))}
    assert moved["full"] == {n for n, _ in base.named_parameters()
                             if not n.startswith(("projection.", "task.0", "task.2.weight"))}
    assert moved["transfer"] == moved["probe"] == set()
    assert torch.allclose(outputs["ensemble"],
                          torch.stack([outputs[c] for c in ENSEMBLE]).mean(0))
    auto = adapt(base, graphs, scores, task, seen=seen, how="auto")
    assert set(auto.cv) == set(ADAPTATIONS) and auto.how == max(auto.cv, key=auto.cv.get)
    with pytest.raises(ValueError, match="unknown adaptation"):
        adapt(base, graphs, scores, task, how="magic")


def test_zero_cost_proxies() -> None:
    from mdesign.models.builder import build_model
    from mdesign.predictors import proxies

    space = DesignSpace.from_yaml(SPACES / "nas-bench-graph.yaml")
    data = example_graph(16, "node", nodes=40)
    data.y = torch.randint(0, 4, (40,), generator=torch.Generator().manual_seed(0))
    torch.manual_seed(0)
    model = build_model(space, space.parse_key("link=0000,op1=gcn,op2=gcn,op3=gcn,op4=gcn"),
                        16, 4, "node")
    before = [p.clone() for p in model.parameters()]
    got = proxies.compute(model, data)
    assert set(got) == set(proxies.PROXIES)
    assert got["params"] == sum(p.numel() for p in model.parameters())
    assert all(math.isfinite(v) for v in got.values())
    assert got["grad_norm"] > 0
    # the proxies work on copies: the model is untouched
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    # synflow grows with width (more paths): a wider pre-process layer scores higher
    wide = build_model(space, space.parse_key("link=0000,op1=gcn,op2=gcn,op3=gcn,op4=gcn"),
                       16, 4, "node", dim=256)
    assert proxies.synflow(wide, data) > got["synflow"]


def test_train_save_load_predict_embed(nbg: KnowledgeBase, tmp_path: Path) -> None:
    """A small predictor on the real knowledge base: stored with its links, reloaded with
    the same weights, queried from the CLI, embeddings written and searched in Neo4j."""
    from mdesign.predictors import store
    from mdesign.predictors.predictor import (
        PredictorConfig,
        predict_scores,
        sample_keys,
        train_predictor,
    )
    from mdesign.predictors.training import predict

    cfg = PredictorConfig(name="tiny", tasks=["cora", "citeseer", "photo"], archs=80,
                          pretrain_archs=40, pretrain_epochs=2, epochs=3)
    meta = train_predictor(nbg, cfg)
    assert meta.tasks == ["cora", "citeseer", "photo"] and meta.spaces == ["nas-bench-graph"]
    row = nbg.query("predictor_get", name="tiny")[0]
    assert sorted(row["tasks"]) == ["citeseer", "cora", "photo"]
    assert row["spaces"] == ["nas-bench-graph"]
    folder = Path(row["props"]["path"])
    assert (folder / "model.pt").exists() and (folder / "meta.json").exists()
    assert not list(folder.glob("*.tmp"))

    keys = sample_keys(nbg, "nas-bench-graph", 12, 5)
    scores = predict_scores(nbg, "tiny", "pubmed", "nas-bench-graph", keys)
    assert len(scores) == 12 and len(set(scores)) > 1
    model, loaded = store.load(nbg, "tiny")
    assert loaded == meta
    from mdesign.predictors.encoder import task_vector

    pub = nbg.task("pubmed")
    again = predict(model, store.space_graphs(nbg.space("nas-bench-graph"), keys),
                    task_vector(pub.features, pub.kind)[None])[:, 0].tolist()
    assert again == pytest.approx(scores, abs=1e-6)
    tuned = predict_scores(nbg, "tiny", "pubmed", "nas-bench-graph", keys, finetune_on=20)
    assert tuned != pytest.approx(scores, abs=1e-6)

    out = run_cli("predict", "--task", "pubmed", "--predictor", "tiny",
                  "--arch", keys[0], "--arch", f"nas-bench-graph/{keys[1]}", "--json")
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert [r["uid"] for r in rows] == [f"nas-bench-graph/{k}" for k in keys[:2]]
    assert [r["predicted"] for r in rows] == pytest.approx(scores[:2], abs=1e-3)
    table = run_cli("predict", "--task", "pubmed", "--predictor", "tiny", "--arch", keys[0])
    assert "predicted" in table.stdout and keys[0] in table.stdout
    # adapted to 20 of pubmed's results (the default: ensemble), as from Python
    out = run_cli("--format", "csv", "predict", "--task", "pubmed", "--predictor", "tiny",
                  "--finetune", "20", "--arch", keys[0], "--arch", keys[1])
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert lines[0] == "uid,predicted"
    got = [float(ln.split(",")[-1]) for ln in lines[1:]]
    assert got == pytest.approx(tuned[:2], abs=1e-3)
    bad = run_cli("predict", "--task", "pubmed", "--predictor", "tiny", "--finetune", "20",
                  "--adapt", "magic", "--arch", keys[0])
    assert bad.returncode == 2 and "magic" in bad.stderr

    cli = run_cli("predictor", "train", "--name", "cli-tiny", "--tasks", "cora,citeseer",
                  "--archs", "30", "--pretrain-archs", "20", "--pretrain-epochs", "1",
                  "--epochs", "1")
    assert cli.returncode == 0, cli.stderr
    assert "predictor cli-tiny: 30 architectures of nas-bench-graph on 2 tasks" in cli.stdout
    listed = json.loads(run_cli("predictor", "list", "--json").stdout)
    assert {"cli-tiny", "tiny"} <= {r["name"] for r in listed}
    assert next(len(r["tasks"]) for r in listed if r["name"] == "cli-tiny") == 2
    assert "cli-tiny" in run_cli("predictor", "list").stdout
    bad = run_cli("predictor", "train", "--name", "x", "--tasks", "no-such-task")
    assert bad.returncode == 2 and "no-such-task" in bad.stderr

    emb = run_cli("predictor", "embed", "--name", "tiny", "--archs", "60")
    assert emb.returncode == 0 and "60 embeddings" in emb.stdout, emb.stderr
    uid = f"nas-bench-graph/{sample_keys(nbg, 'nas-bench-graph', 60, 0)[0]}"
    like = run_cli("predictor", "like", uid, "-k", "5", "--json")
    assert like.returncode == 0, like.stderr
    sims = [r["similarity"] for r in json.loads(like.stdout)]
    assert len(sims) == 5 and sims == sorted(sims, reverse=True)
    assert uid not in like.stdout and all(-1 <= s <= 1 + 1e-9 for s in sims)
    # deleting: the wrong kind is refused; the predictor goes with its folder
    wrong = run_cli("ghn", "delete", "cli-tiny", "--yes")
    assert wrong.returncode == 2 and "no graph hypernetwork named 'cli-tiny'" in wrong.stderr
    folder = Path(nbg.predictors.get("cli-tiny")["props"]["path"])
    gone = run_cli("predictor", "delete", "cli-tiny", "--yes")
    assert gone.returncode == 0 and "predictor cli-tiny deleted" in gone.stdout, gone.stderr
    assert nbg.predictors.get("cli-tiny") is None and not folder.exists()
    assert "tiny" in {r["name"] for r in nbg.predictors.list()}  # the other one stays

    # refinement: proteins measured only 2,021 architectures, so as a source of cora most
    # of its gains are missing; the predictor fills every one of them in
    from mdesign.refinement.evaluators import BenchmarkEvaluator
    from mdesign.refinement.refine import RefineConfig, refine

    missing = {}
    for name in (None, "tiny"):
        cfg = RefineConfig(task="cora", budget=4, sources=8, planner="off", predictor=name)
        res = refine(nbg, cfg, BenchmarkEvaluator(nbg, "cora", 4))
        assert "proteins" in {s.task for s in res.sources}
        gains = [s.source_gains.get("proteins") for s in res.steps if s.kind == "edit"]
        missing[name] = sum(g is None for g in gains)
    assert missing[None] > 0 and missing["tiny"] == 0
    with pytest.raises(InputError, match="no predictor named 'nope'"):
        refine(nbg, RefineConfig(task="cora", budget=2, predictor="nope"),
               BenchmarkEvaluator(nbg, "cora", 2))

    for args, message in [
        (("predict", "--task", "cora", "--predictor", "nope", "--arch", keys[0]),
         "no predictor named 'nope'"),
        (("predict", "--task", "cora", "--predictor", "tiny", "--arch", "op1=zzz"),
         "is not an architecture of 'nas-bench-graph'"),
        (("predictor", "like", "nas-bench-graph/no-such", "-k", "3"), "has no stored embedding"),
    ]:
        bad = run_cli(*args)
        assert bad.returncode == 2 and message in bad.stderr, bad.stderr
        assert len(bad.stderr.strip().splitlines()) == 1


def test_refinement_predictor_ablation(nbg: KnowledgeBase) -> None:
    """The benchmark's `mdesign-predictor` variant: a predictor per target that never saw
    the target, reused when it exists, and gains of proteins (a source of photo that
    measured 2,021 architectures) filled in only with it."""
    from mdesign.benchmarks import loo, protocol
    from mdesign.predictors import store

    small = {"archs": 60, "pretrain_archs": 30, "pretrain_epochs": 1, "epochs": 2}
    made = loo.ensure_loo_predictors(nbg, ["photo"], settings=small)
    assert made["photo"].startswith("trained")
    _, meta = store.load_meta(nbg, "loo-photo")
    assert "photo" not in meta.tasks and "proteins" in meta.tasks
    assert loo.ensure_loo_predictors(nbg, ["photo"], settings=small) == \
        {"photo": "reused"}
    out = protocol.run_protocol(nbg, ["photo"], [6], ["mdesign", "mdesign-predictor"], 1,
                                predictor_settings=small)
    assert out["predictors"] == {"photo": "reused"}
    rows = {r["method"]: r for r in out["rows"]}
    assert set(rows) == {"mdesign", "mdesign-predictor"}
    assert all(r["budget"] == 6 for r in rows.values())

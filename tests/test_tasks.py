"""Tasks from user data: formats, bad input as a new user would try it, meta-features,
`mdesign task add`, and refinement with real training feeding the knowledge base."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import run_cli
from mdesign.core.errors import InputError
from mdesign.kb import KnowledgeBase
from mdesign.tasks.features import meta_features
from mdesign.tasks.loaders import load_task_data
from torch_geometric.data import Data

torch.set_num_threads(1)


def triangle_pair() -> Data:
    # two triangles joined by one edge; labels = triangle
    e = [(0, 1), (1, 2), (0, 2), (3, 4), (4, 5), (3, 5), (2, 3)]
    src = [a for a, b in e] + [b for a, b in e]
    dst = [b for a, b in e] + [a for a, b in e]
    return Data(x=torch.eye(6), edge_index=torch.tensor([src, dst]),
                y=torch.tensor([0, 0, 0, 1, 1, 1]))


def test_meta_features_by_hand() -> None:
    f = meta_features(load_task_data_from(triangle_pair(), "node"))
    assert f["nodes"] == 6 and f["edges"] == 14 and f["avg_degree"] == pytest.approx(14 / 6)
    assert f["density"] == pytest.approx(14 / 30)
    assert f["edge_homophily"] == pytest.approx(12 / 14)  # the bridge joins two classes
    assert f["max_degree"] == 3 and f["classes"] == 2 and f["features"] == 6


def load_task_data_from(d: Data, kind: str, tmp: Path | None = None):
    import tempfile

    folder = Path(tmp or tempfile.mkdtemp())
    path = folder / "g.pt"
    torch.save(d, path)
    return load_task_data(str(path), kind)


def write_csv(folder: Path, *, labels: bool = True, bad_edge: bool = False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "nodes.csv").write_text("id,f1,f2\n" + "".join(
        f"n{i},{i % 2},{i / 10}\n" for i in range(8)))
    edges = [(i, (i + 1) % 8) for i in range(8)] + ([(0, 99)] if bad_edge else [])
    (folder / "edges.csv").write_text("source,target\n" + "".join(
        f"n{a},n{b}\n" for a, b in edges))
    if labels:
        (folder / "labels.csv").write_text("id,label\n" + "".join(
            f"n{i},{'ab'[i // 4]}\n" for i in range(8)))
    (folder / "splits.csv").write_text("id,split\n" + "".join(
        f"n{i},{['train', 'train', 'val', 'test'][i % 4]}\n" for i in range(8)))
    return folder


def test_csv_folder_and_tu_folder_and_saved_files(tmp_path: Path) -> None:
    task = load_task_data(str(write_csv(tmp_path / "csv")), "node")
    g = task.graph
    assert g.num_nodes == 8 and g.edge_index.size(1) == 16 and g.y.tolist() == [0] * 4 + [1] * 4
    assert g.train_mask.sum() == 4 and g.val_mask.sum() == 2 and g.test_mask.sum() == 2
    link = load_task_data(str(write_csv(tmp_path / "csv2", labels=False)), "link")
    assert link.kind == "link" and set(link.link) == {"train", "val", "test"}
    from mdesign.tasks.loaders import mutag_folder

    mutag = load_task_data(str(mutag_folder()), "graph")
    assert len(mutag.graphs) == 188 and mutag.num_features == 7 and mutag.num_outputs == 2
    graphs = [triangle_pair() for _ in range(12)]
    for i, gr in enumerate(graphs):
        gr.y = torch.tensor([i % 2])
    path = tmp_path / "graphs.pt"
    torch.save(graphs, path)
    assert len(load_task_data(str(path), "graph").graphs) == 12


@pytest.mark.parametrize(("make", "kind", "message"), [
    (lambda p: str(p / "missing.pt"), "node", "does not exist"),
    (lambda p: str(p), "node", "neither a TU-format folder"),
    (lambda p: "builtin:karate", "edge", "unknown task kind 'edge'"),
    (lambda p: "builtin:nope", "node", "unknown built-in task"),
    (lambda p: "builtin:mutag", "node", "graph classification task"),
    (lambda p: str(write_csv(p / "c", bad_edge=True)), "node", "not in nodes.csv"),
    (lambda p: str(write_csv(p / "c", labels=False)), "node", "no labels.csv"),
])
def test_bad_sources(tmp_path: Path, make, kind: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        load_task_data(make(tmp_path), kind)


@pytest.mark.parametrize("spec", ["3", "3:x", "1:50", "3:0:50", "3:50:0.2", "3:50:0:0.1",
                                  "3:50:0.2:1.5", "3:50:0.2:nan", "3:50:0.2:0.1:-1",
                                  "3:50:0.2:0.1:0.5:7"])
def test_bad_sbm_parameters_are_refused_with_the_grammar(spec: str) -> None:
    with pytest.raises(InputError, match=r"BLOCKS:SIZE\[:P_IN:P_OUT\[:SIGNAL\]\] with"):
        load_task_data(f"builtin:sbm:{spec}", "node")


def test_sbm_parameters_set_the_graph() -> None:
    # the defaults are unchanged by the longer form; p_in / p_out and the signal shape it
    default = load_task_data("builtin:sbm:3:100", "node").graph
    same = load_task_data("builtin:sbm:3:100:0.2:0.02:0.5", "node").graph
    assert torch.equal(default.edge_index, same.edge_index) and torch.equal(default.x, same.x)
    hard = load_task_data("builtin:sbm:5:200:0.05:0.01:0.3", "node").graph
    assert hard.num_nodes == 1000 and int(hard.y.max()) == 4
    src, dst = hard.edge_index
    inside = (hard.y[src] == hard.y[dst]).float().mean().item()
    # expected neighbours: 0.05 * 199 inside, 0.01 * 800 outside -> 55% inside
    assert 0.5 < inside < 0.6
    blocks = torch.arange(1000) // 200
    gap = hard.x[torch.arange(1000), blocks].mean() - hard.x[:, 5:].mean()
    assert 0.2 < gap.item() < 0.4  # the block's own column carries the 0.3 signal


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda d: setattr(d, "y", torch.tensor([0, 1, 0])), "y has 3 labels for 6 nodes"),
    (lambda d: setattr(d, "edge_index", torch.tensor([[0, 7], [7, 0]])),
     "refers to node 7 but x has 6 rows"),
    (lambda d: d.x.__setitem__((0, 0), float("nan")), "1 NaN or infinite values"),
    (lambda d: setattr(d, "edge_index", torch.zeros(2, 0, dtype=torch.long)),
     "has no edges"),
    (lambda d: (setattr(d, "x", torch.zeros(0, 6)), setattr(d, "y", torch.zeros(0))),
     "empty"),
    (lambda d: setattr(d, "y", None), "no labels"),
])
def test_bad_graphs(tmp_path: Path, mutate, message: str) -> None:
    d = triangle_pair()
    mutate(d)
    with pytest.raises(InputError, match=message):
        load_task_data_from(d, "node", tmp_path)


def test_task_add_cli_stores_data_and_features(kb: KnowledgeBase, tmp_path: Path) -> None:
    out = run_cli("task", "add", "csv-task", "--data", str(write_csv(tmp_path / "c")),
                  "--kind", "node")
    assert out.returncode == 0, out.stderr
    t = kb.task("csv-task")
    assert t.kind == "node" and t.metric == "accuracy" and t.features["nodes"] == 8
    again = run_cli("task", "add", "csv-task", "--data", str(tmp_path / "c"), "--kind", "node")
    assert again.returncode == 0  # same source: idempotent
    clash = run_cli("task", "add", "csv-task", "--data", "builtin:karate", "--kind", "node")
    assert clash.returncode == 2 and "already exists" in clash.stderr
    bad = run_cli("task", "add", "nan-task", "--data", str(tmp_path / "nope"), "--kind", "node")
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
    assert "nan-task" not in {x.name for x in kb.tasks()}  # nothing stored


def test_refine_with_real_training_feeds_the_knowledge_base(nbg: KnowledgeBase,
                                                            tmp_path: Path) -> None:
    assert run_cli("task", "add", "sbm-train", "--data", "builtin:sbm:2:30",
                   "--kind", "node").returncode == 0
    out = run_cli("refine", "--task", "sbm-train", "--budget", "3", "--evaluator", "train",
                  "--epochs", "15", "--train-seeds", "1", "--out", str(tmp_path))
    assert out.returncode == 0, out.stderr
    run_id = next(ln.split()[1].rstrip(":") for ln in out.stdout.splitlines()
                  if ln.startswith("run "))
    report = json.loads((tmp_path / f"{run_id}.json").read_text())
    assert report["spent"] == 3 and report["config"]["space"] == "nas-bench-graph"
    assert report["config"]["train"]["epochs"] == 15
    stored = nbg.best_architectures("sbm-train", 10)
    assert len(stored) == 3 and {r.source for r in stored} == {"mdesign:train"}
    prov = nbg.run_autocommit("observation_provenance", task="sbm-train")
    assert {p["code_version"] for p in prov} and all(p["hp"] for p in prov)
    assert nbg.task("sbm-train").results == 3
    # a space the builder cannot realise is refused before any training
    from mdesign.core.space import DesignSpace
    from mdesign.kb.importers.table import import_table
    from tables import write_toy

    space_file, csv = write_toy(tmp_path, "toy-notrain", {"nt-a": "node"})
    import_table(nbg, csv, DesignSpace.from_yaml(space_file))
    assert run_cli("task", "add", "sbm-new", "--data", "builtin:sbm", "--kind",
                   "node").returncode == 0
    bad = run_cli("refine", "--task", "sbm-new", "--budget", "2", "--evaluator", "train",
                  "--space", "toy-notrain")
    assert bad.returncode == 2 and "cannot realise design space 'toy-notrain'" in bad.stderr
    assert not [r for r in nbg.query("run_list", limit=1000) if r["task"] == "sbm-new"]


def test_batched_parallel_training_matches_sequential(nbg: KnowledgeBase) -> None:
    """The same refinement in this process, on 2 local processes, and on a private Ray
    instance: same architectures, same scores, budget exact; Ray is shut down after."""
    import ray
    from mdesign.refinement.refine import RefineConfig, refine
    from mdesign.tasks.store import add_task, load_task
    from mdesign.training.config import TrainConfig
    from mdesign.training.evaluator import TrainEvaluator

    add_task(nbg, "sbm-par", "builtin:sbm:2:20", "node")
    space = nbg.space("nas-bench-graph")
    cfg = TrainConfig(epochs=8, seeds=1)
    results = []
    for executor, workers in (("local", 1), ("local", 2), ("ray", 2)):
        ev = TrainEvaluator(load_task(nbg, "sbm-par"), "sbm-par", 5, space, cfg,
                            workers=workers, executor=executor)
        if executor == "ray":  # the private instance listens on loopback only
            assert [n["NodeManagerAddress"] for n in ray.nodes()] == ["127.0.0.1"]
            assert ray.get_runtime_context().gcs_address.startswith("127.0.0.1:")
        try:
            results.append(refine(nbg, RefineConfig(task="sbm-par", budget=5, batch=2,
                                                    space=space.name), ev))
        finally:
            ev.close()
        assert ev.spent == 5
        assert len({e.uid for e in ev.evaluations()}) == 5
    assert not ray.is_initialized()
    assert ray._private.ray_constants.ENABLE_RAY_CLUSTER  # set back for other clusters
    seq = results[0]
    for other in results[1:]:
        assert [s.uid for s in other.steps] == [s.uid for s in seq.steps]
        assert [s.score for s in other.steps] == pytest.approx([s.score for s in seq.steps])


def test_executor_bad_input(nbg: KnowledgeBase) -> None:
    """A dead Ray head node, a malformed address, an address without Ray, executor options
    on the benchmark oracle: one line each, exit 2, quickly, and no run stored."""
    from mdesign.tasks.store import add_task

    add_task(nbg, "sbm-exec", "builtin:sbm:2:20", "node")
    before = len(nbg.query("run_list", limit=1000))
    base = ("refine", "--task", "sbm-exec", "--budget", "2", "--evaluator", "train",
            "--epochs", "2", "--train-seeds", "1", "--quiet")
    cases = [
        (("--executor", "ray", "--address", "127.0.0.1:1"),
         "no Ray head node answers at 127.0.0.1:1"),
        (("--executor", "ray", "--address", "head-without-port"), "is not host:port"),
        (("--address", "127.0.0.1:6379"), "--address is for the Ray executor"),
    ]
    for extra, message in cases:
        bad = run_cli(*base, *extra)
        assert bad.returncode == 2, bad.stderr
        assert message in bad.stderr
        assert len(bad.stderr.strip().splitlines()) == 1, bad.stderr
    bad = run_cli("refine", "--task", "cora", "--budget", "2", "--workers", "2")
    assert bad.returncode == 2 and "are for real training" in bad.stderr
    assert len(nbg.query("run_list", limit=1000)) == before


def test_batches_keep_the_budget_exact(nbg: KnowledgeBase) -> None:
    from mdesign.refinement.evaluators import BenchmarkEvaluator
    from mdesign.refinement.refine import RefineConfig, refine

    ev = BenchmarkEvaluator(nbg, "photo", 7)
    res = refine(nbg, RefineConfig(task="photo", budget=7, batch=3), ev)
    assert ev.spent == res.spent == 7 == len({s.uid for s in res.steps})
    parents = [s.parent for s in res.steps if s.kind == "edit"]
    assert parents[0] == parents[1] == parents[2]  # one batch of 3 around one centre

"""`mdesign export`: a standalone module that imports and trains without mdesign, and
computes what mdesign's own model computes; a YAML design config."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from conftest import run_cli
from mdesign.kb import KnowledgeBase
from mdesign.models.builder import build_model
from mdesign.refinement import runs
from mdesign.refinement.evaluators import BenchmarkEvaluator
from mdesign.refinement.refine import RefineConfig
from torch_geometric.data import Data


def test_export_a_benchmark_run(nbg: KnowledgeBase, tmp_path: Path) -> None:
    done = runs.execute(nbg, RefineConfig(task="cora", budget=4),
                        BenchmarkEvaluator(nbg, "cora", 4))
    py, yml = tmp_path / "best.py", tmp_path / "best.yaml"
    assert run_cli("export", done.run_id, "--out", str(py)).returncode == 0
    out = run_cli("export", done.run_id, "--format", "yaml", "--out", str(yml))
    assert out.returncode == 0, out.stderr
    config = yaml.safe_load(yml.read_text())
    assert config["architecture_uid"] == done.best.uid and config["family"] == "nas-bench-graph"
    assert (config["in_dim"], config["out_dim"]) == (1433, 7)  # cora's meta-features
    assert "import mdesign" not in py.read_text() and "from mdesign" not in py.read_text()
    # runs with mdesign made unimportable
    smoke = subprocess.run(
        [sys.executable, "-c", "import sys, runpy; sys.modules['mdesign'] = None; "
         f"runpy.run_path({str(py)!r}, run_name='__main__')"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert smoke.returncode == 0, smoke.stderr[-1000:]
    assert "trained 5 epochs; output (40, 7)" in smoke.stdout
    # the same weights give the same outputs as mdesign's model
    spec = importlib.util.spec_from_file_location("exported", py)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    theirs = module.build().eval()
    ours = build_model(nbg.space("nas-bench-graph"), config["architecture"], 1433, 7,
                       "node", dim=config["hyperparameters"]["dim"]).eval()
    theirs.load_state_dict(ours.state_dict())
    torch.manual_seed(0)
    data = Data(x=torch.randn(30, 1433), edge_index=torch.randint(0, 30, (2, 90)))
    assert torch.allclose(theirs(data), ours(data), atol=1e-5)


def test_export_errors(nbg: KnowledgeBase) -> None:
    out = run_cli("export", "no-such-run")
    assert out.returncode == 2 and "unknown run 'no-such-run'" in out.stderr


def test_graphgym_module_matches(tmp_path: Path) -> None:
    from mdesign.core.space import load_space
    from mdesign.refinement.export import to_module

    space = load_space("graphgym")
    arch = {"pre_layers": "1", "mp_layers": "2", "post_layers": "2", "stage": "skipconcat",
            "conv": "gin", "agg": "max", "act": "prelu", "batchnorm": "true",
            "dropout": "0.3", "hidden": "64"}
    config = {"run_id": "r", "task": "t", "kind": "graph", "metric": "accuracy",
              "space": "graphgym", "family": "graphgym", "architecture_uid": "graphgym/x",
              "architecture": arch, "in_dim": 5, "out_dim": 3,
              "hyperparameters": {"dim": 128, "dropout": 0.5, "lr": 0.01,
                                  "weight_decay": 0.0005, "epochs": 100},
              "scores": {"selection": 0.9, "valid": 0.9, "test": None}}
    py = tmp_path / "gym.py"
    py.write_text(to_module(config, "test"))
    spec = importlib.util.spec_from_file_location("gym_exported", py)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    theirs = module.build().eval()
    ours = build_model(space, space.parse(arch), 5, 3, "graph").eval()
    theirs.load_state_dict(ours.state_dict())
    from torch_geometric.data import Batch

    torch.manual_seed(1)
    batch = Batch.from_data_list([Data(x=torch.randn(8, 5),
                                       edge_index=torch.randint(0, 8, (2, 20)))
                                  for _ in range(3)])
    assert torch.allclose(theirs(batch), ours(batch), atol=1e-5)


def test_export_with_trained_weights_reproduces_the_stored_score(nbg: KnowledgeBase,
                                                                 tmp_path: Path) -> None:
    from mdesign.tasks.store import add_task, load_task
    from mdesign.training.config import TrainConfig
    from mdesign.training.trainer import _loops

    add_task(nbg, "exp-karate", "builtin:karate", "node")
    out = run_cli("refine", "--task", "exp-karate", "--budget", "2", "--space",
                  "nas-bench-graph", "--evaluator", "train", "--epochs", "20",
                  "--train-seeds", "1", "--quiet", "--out", str(tmp_path))
    assert out.returncode == 0, out.stderr
    run_id = next(ln.split()[1].rstrip(":") for ln in out.stdout.splitlines()
                  if ln.startswith("run "))
    py = tmp_path / "trained.py"
    done = run_cli("export", run_id, "--out", str(py))
    assert done.returncode == 0, done.stderr
    assert "trained weights of seed 0" in done.stdout
    assert (tmp_path / "trained.pt").exists()
    spec = importlib.util.spec_from_file_location("exported_trained", py)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    model = module.build()  # the weights beside it, loaded
    task = load_task(nbg, "exp-karate")
    _, score = _loops(model.eval(), task, TrainConfig(), torch.device("cpu"))
    with torch.no_grad():
        valid = score("val")
    run = runs.load_run(nbg, run_id)
    best = next(s for s in run.steps if s.uid == run.best_uid)
    assert valid == pytest.approx(best.valid, abs=1e-9)
    untrained = module.build(weights=False)
    assert not all(torch.equal(a, b) for a, b in zip(untrained.state_dict().values(),
                                                     model.state_dict().values(),
                                                     strict=True))
    # a benchmark run trained nothing: the export says so and writes no weights
    bench = runs.execute(nbg, RefineConfig(task="cora", budget=2),
                         BenchmarkEvaluator(nbg, "cora", 2))
    said = run_cli("export", bench.run_id, "--out", str(tmp_path / "bench.py"))
    assert said.returncode == 0 and "no trained weights" in said.stdout
    assert not (tmp_path / "bench.pt").exists()
    # leave the shared store as found: no extra task in the space for later tests
    assert run_cli("task", "delete", "exp-karate", "--yes").returncode == 0

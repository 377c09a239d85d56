"""Tabular model bases: import, canonical merging, evidence, single metrics, features."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_cli
from mdesign.core.space import DesignSpace
from mdesign.kb import KnowledgeBase, gain_property
from mdesign.kb.importers.table import import_table
from mdesign.kb.importers.task_features import import_task_features
from tables import SINGLE_YAML, toy_score, write_toy


def test_import_table_results_evidence_and_idempotence(kb: KnowledgeBase, tmp_path: Path
                                                      ) -> None:
    space_file, table = write_toy(tmp_path, "toy-a", {"toy-a1": "node", "toy-a2b": "graph"})
    out = run_cli("kb", "import", "table", str(table), "--space", str(space_file), "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    # 18 raw rows per task; layers=1 merges relu/tanh -> 15 architectures
    assert report["counts"]["architectures"] == 15
    assert report["counts"]["results"] == 30
    tasks = {t.name: t for t in kb.tasks()}
    assert tasks["toy-a1"].kind == "node" and tasks["toy-a2b"].kind == "graph"
    best = kb.best_architectures("toy-a2b", limit=1)[0]
    assert best.key == "agg=mean,layers=4,act=tanh"
    assert best.score == toy_score("toy-a2b", "mean", 4, "tanh")
    assert best.valid_std == 0.01 and best.params == 4000
    merged = [r for r in kb.best_architectures("toy-a1", 20)
              if r.key.startswith("agg=add,layers=1")]
    assert len(merged) == 1
    assert merged[0].score == pytest.approx((toy_score("toy-a1", "add", 1, "relu")
                                             + toy_score("toy-a1", "add", 1, "tanh")) / 2)
    # evidence: every neighbour pair's gain is the difference of the two scores
    scores = {r.uid: r.score for r in kb.best_architectures("toy-a1", 100)}
    for u, s in scores.items():
        for n in kb.neighbours(u, ["toy-a1"]):
            assert n.gains["toy-a1"] == pytest.approx(scores[n.uid] - s)
    space = DesignSpace.from_yaml(space_file)
    expected_pairs = {tuple(sorted((space.key(a), k)))
                      for a in space.enumerate() for *_, k in space.neighbour_keys(a)}
    assert kb.query("space_counts", space="toy-a")[0]["edits"] == len(expected_pairs)
    assert kb.task("toy-a1").evidence_edits == len(expected_pairs)
    # second run: nothing changes
    before = kb.query("checksum_evidence", task="toy-a1")
    again = run_cli("kb", "import", "table", str(table), "--space", str(space_file), "--json")
    assert json.loads(again.stdout)["status"] == "up-to-date"
    assert kb.query("checksum_evidence", task="toy-a1") == before


def test_single_metric_table_with_task_override(kb: KnowledgeBase, tmp_path: Path) -> None:
    space_file = tmp_path / "single.yaml"
    space_file.write_text(SINGLE_YAML.format(name="toy-single"))
    table = tmp_path / "single.csv"
    table.write_text("agg,layers,mae\nadd,1,0.50\nadd,2,0.40\nmean,2,0.30\n")
    report = import_table(kb, table, DesignSpace.from_yaml(space_file), task="toy-mae")
    assert report.counts["results"] == 3
    t = kb.task("toy-mae")
    assert (t.split, t.metric, t.higher_is_better, t.kind) == ("single", "mae", False, "graph")
    best = kb.best_architectures("toy-mae", 3)
    # lower MAE is better: the score is oriented (-mae), valid and test hold the metric
    assert [b.score for b in best] == [-0.30, -0.40, -0.50]
    assert best[0].valid == best[0].test == 0.30
    n = {x.uid: x for x in kb.neighbours(best[1].uid, ["toy-mae"])}
    assert n[best[0].uid].gains["toy-mae"] == pytest.approx(0.10)


def test_parquet_and_evidence_rebuild_methods_agree(kb: KnowledgeBase, tmp_path: Path) -> None:
    import pandas as pd

    space_file, table = write_toy(tmp_path, "toy-p", {"toy-p1": "node"})
    parquet = tmp_path / "toy-p.parquet"
    pd.read_csv(table).to_parquet(parquet)
    import_table(kb, parquet, DesignSpace.from_yaml(space_file))
    key = gain_property("toy-p1")
    snapshot = kb.query("checksum_evidence", task="toy-p1")
    from mdesign.kb import evidence

    for method in ("cypher", "python"):
        rep = evidence.build(kb, "toy-p", ["toy-p1"], method=method)
        assert rep.gains["toy-p1"] == snapshot[0]["gains"]
        assert kb.query("checksum_evidence", task="toy-p1") == snapshot
    assert key == "gain:toy-p1"


def test_task_features_csv_and_json(kb: KnowledgeBase, tmp_path: Path) -> None:
    space_file, table = write_toy(tmp_path, "toy-f", {"toy-f1": "node", "toy-f2": "node"})
    import_table(kb, table, DesignSpace.from_yaml(space_file))
    csv_file = tmp_path / "features.csv"
    csv_file.write_text("task,nodes,homophily\ntoy-f1,100,0.8\ntoy-f2,250,\n")
    out = run_cli("kb", "import", "task-features", str(csv_file))
    assert out.returncode == 0, out.stderr
    assert kb.task("toy-f1").features == {"nodes": 100.0, "homophily": 0.8}
    assert kb.task("toy-f2").features == {"nodes": 250.0}
    json_file = tmp_path / "features.json"
    json_file.write_text(json.dumps([{"task": "toy-f2", "diameter": 7}]))
    import_task_features(kb, json_file)
    assert kb.task("toy-f2").features == {"nodes": 250.0, "diameter": 7.0}

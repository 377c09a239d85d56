"""The CI configuration of the refinement benchmark runs end to end on the full NBG base."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from mdesign.kb import KnowledgeBase

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "refine_nasbenchgraph.py"


def test_small_refinement_benchmark(nbg: KnowledgeBase, tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, str(SCRIPT), "--small", "--out-dir", str(tmp_path)],
                         capture_output=True, text=True, timeout=1200)
    assert out.returncode == 0, out.stderr[-2000:]
    o = json.loads((tmp_path / "refine_nasbenchgraph_small.json").read_text())
    assert o["tasks"] == ["cora", "proteins"] and o["budgets"] == [10, 20]
    methods = {r["method"] for r in o["rows"]}
    assert {"mdesign", "mdesign-reference-nocal", "retrieval", "random", "regevo",
            "tpe"} <= methods
    # every deterministic variant replayed identically; stochastic ones ran 3 seeds
    assert o["deterministic"] and all(o["deterministic"].values())
    assert all(r["runs"] == 3 for r in o["rows"] if r["method"] in ("random", "tpe"))
    for r in o["rows"]:
        assert 0 < r["valid_mean"] <= 100 and 0 < r["top_pct"] <= 100
    md = (tmp_path / "refine_nasbenchgraph_small.md").read_text()
    assert "| cora | 10 | mdesign |" in md
    assert (tmp_path / "refine_nasbenchgraph_small.png").stat().st_size > 10_000

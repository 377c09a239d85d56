"""The CI configuration of the refinement benchmark runs end to end on the full NBG base."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
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


def test_an_interrupted_benchmark_resumes_where_it_stopped(
        nbg: KnowledgeBase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each finished run is kept in the checkpoint as it ends; after an interruption the
    same benchmark runs only the missing ones (a torn last line among them) and reports
    what an uninterrupted run reports; the checkpoint goes when it is complete."""
    from mdesign.benchmarks import protocol

    args = (nbg, ["citeseer"], [5, 8], ["mdesign-surrogate", "random", "regevo"], 2)
    full = protocol.run_protocol(*args)
    ck = tmp_path / "bench.partial.jsonl"
    real = protocol.run_method
    calls: list[str] = []

    def interrupted_after_four(*a: object, **k: object) -> protocol.Trajectory:
        if len(calls) == 4:
            raise KeyboardInterrupt
        calls.append(str(a[2]))
        return real(*a, **k)  # type: ignore[arg-type]

    monkeypatch.setattr(protocol, "run_method", interrupted_after_four)
    with pytest.raises(KeyboardInterrupt):
        protocol.run_protocol(*args, checkpoint=ck)
    assert len(ck.read_text().splitlines()) == 1 + 4  # the header and four runs
    with ck.open("a") as f:
        f.write('{"key": "valid|citeseer|regevo|8|1", "pa')  # torn by the interruption
    calls.clear()

    def counted(*a: object, **k: object) -> protocol.Trajectory:
        calls.append(str(a[2]))
        return real(*a, **k)  # type: ignore[arg-type]

    monkeypatch.setattr(protocol, "run_method", counted)
    resumed = protocol.run_protocol(*args, checkpoint=ck)
    assert len(calls) == 8 - 4  # 2 surrogate + 2 random + 2 x 2 regevo runs in all
    assert not ck.exists()

    def strip(o: dict) -> list[dict]:
        return [{k: v for k, v in r.items() if k != "overhead_ms_per_step"}
                for r in o["rows"]]

    assert strip(resumed) == strip(full) and resumed["curves"] == full["curves"]

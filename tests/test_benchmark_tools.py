"""Pieces of the benchmark library that need no server: the checkpoint that lets a long
benchmark resume, and the synthetic benchmark's paired "within noise" verdicts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from mdesign.benchmarks.protocol import Checkpoint
from mdesign.benchmarks.refine_synthetic import bootstrap_interval, paired


def _rows_checkpoint(path: Path, fp: str, said: list[str]) -> Checkpoint[dict]:
    return Checkpoint(path, fp, said.append, encode=lambda row: {"row": row},
                      decode=lambda r: r["row"])


def test_checkpoint_keeps_any_json_value_and_resumes(tmp_path: Path) -> None:
    path, said = tmp_path / "b.partial.jsonl", []
    made: list[str] = []

    def make(key: str) -> dict:
        made.append(key)
        return {"valid": len(key) / 10, "key": key}

    first = _rows_checkpoint(path, "code-1", said)
    a = first.run("mutag|0|random", lambda: make("mutag|0|random"))
    first.run("mutag|0|tpe", lambda: make("mutag|0|tpe"))
    with path.open("a") as f:
        f.write('{"key": "mutag|1|random", "ro')  # torn by an interruption
    again = _rows_checkpoint(path, "code-1", said)
    assert said[-1].startswith("resuming: 2 finished runs")
    assert again.run("mutag|0|random", lambda: make("never")) == a
    again.run("mutag|1|random", lambda: make("mutag|1|random"))  # the torn one runs again
    assert made == ["mutag|0|random", "mutag|0|tpe", "mutag|1|random"]
    # other code or another knowledge base: nothing is read back, and it says so
    other = _rows_checkpoint(path, "code-2", said)
    assert other.runs == {} and "starting afresh" in said[-1]
    other.done()
    assert not path.exists()


def test_paired_verdicts_need_the_whole_interval_on_one_side() -> None:
    def row(method: str, shares: dict[str, list[float]]) -> dict:
        return {"shared": 0.0, "method": method, "budget": 5, "per_target": shares}

    base = {f"0/t{i}": [10.0, 10.0] for i in range(6)}
    worse = {t: [v * 3 for v in vs] for t, vs in base.items()}      # 3x the share each time
    mixed = {f"0/t{i}": [10.0 * (3 if i % 2 else 1 / 3)] * 2 for i in range(6)}
    for shares, verdict in ((worse, "behind"), (mixed, "within noise")):
        (p,) = paired([row("a", shares), row("b", base)], "a", "b")
        assert p["verdict"] == verdict and p["targets"] == 6
    (p,) = paired([row("a", base), row("b", worse)], "a", "b")
    assert p["verdict"] == "ahead" and abs(p["mean_log10_diff"] + np.log10(3)) < 1e-12
    lo, hi = bootstrap_interval(np.array([0.1, 0.2, 0.3, 0.4]))
    assert 0.1 <= lo < 0.25 < hi <= 0.4
    assert (lo, hi) == bootstrap_interval(np.array([0.1, 0.2, 0.3, 0.4]))  # seeded

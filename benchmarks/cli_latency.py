"""How fast `mdesign` answers a mistake: wall time of commands that must fail on their
input before torch is imported (issue: "fast mistakes", under 2 s on 2 cores).

    python benchmarks/cli_latency.py [--repeats 5]

Each command runs ``--repeats`` times in a fresh process; the median wall time is
reported with the exit code and the first line of the error. Commands that reach the
knowledge base need the managed server running (`scripts/quickstart.sh`). Writes
``benchmarks/results/cli_latency.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from mdesign.benchmarks.report import RESULTS, machine

COMMANDS = [
    ["task", "add", "x", "--data", "builtin:karate", "--kind", "nodes"],
    ["ghn", "score", "--name", "no-such-ghn", "--arch", "x"],
    ["predict", "--task", "cora", "--predictor", "no-such-predictor", "--arch", "x"],
    ["refine", "--task", "cora", "--budget", "0"],
    ["refine", "--task", "no-such-task", "--budget", "5"],
    ["query", "improving_paths", "--param", "uid=x", "--param", "task=cora", "--param", "k=9"],
    ["--version"],
]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    exe = shutil.which("mdesign") or str(Path(sys.executable).parent / "mdesign")
    rows = []
    for cmd in COMMANDS:
        walls, out = [], None
        for _ in range(args.repeats):
            t = time.perf_counter()
            out = subprocess.run([exe, *cmd], capture_output=True, text=True, timeout=120)
            walls.append(time.perf_counter() - t)
        assert out is not None
        said = (out.stderr or out.stdout).strip().splitlines()
        rows.append({"command": "mdesign " + " ".join(cmd), "rc": out.returncode,
                     "median_s": round(statistics.median(walls), 3),
                     "max_s": round(max(walls), 3),
                     "answer": said[-1][:120] if said else ""})
        print(rows[-1], flush=True)
    o = {"machine": machine(), "repeats": args.repeats, "rows": rows}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "cli_latency.json").write_text(json.dumps(o, indent=2) + "\n")
    m = o["machine"]
    lines = ["# How fast mdesign answers a mistake", "",
             f"Machine: {m.get('cpu', '?')}, {m.get('cores', '?')} cores; {args.repeats} "
             "runs per command, each a fresh process; median and max wall time.", "",
             "| command | exit | median s | max s | answer |", "|---|---|---|---|---|"]
    for r in rows:
        answer = r["answer"].replace("|", "\\\\|")
        lines.append(f"| `{r['command']}` | {r['rc']} | {r['median_s']} | {r['max_s']} | "
                     f"{answer} |")
    (RESULTS / "cli_latency.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

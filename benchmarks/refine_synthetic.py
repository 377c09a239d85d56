"""Refinement on synthetic tasks with controlled transfer (docs/refinement.md,
"Synthetic transfer"): the surrogate's advantage should shrink to that of knowledge-free
Bayesian optimisation as the shared share of the tasks' scores goes from 1 to 0, and
never fall below it by more than noise.

    python benchmarks/refine_synthetic.py          # 5 shares, 3 targets, 5 seeds
    python benchmarks/refine_synthetic.py --seeds 3 --methods \
        mdesign-surrogate,mdesign-surrogate-notransfer,mdesign,random,tpe  # run on 2 cores

Families of :mod:`mdesign.benchmarks.transfer_family` with seed 0 (the development
protocol used seeds 100 and up), 9 tasks each; every target ``t0``-``t2`` is refined with
the other 8 as sources, in memory (no server). Writes
``benchmarks/results/refine_synthetic.{json,md,png}``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from typing import Any

import numpy as np
from mdesign.benchmarks import baselines
from mdesign.benchmarks.report import RESULTS, machine
from mdesign.benchmarks.transfer_family import family
from mdesign.core.space import split_uid
from mdesign.refinement.evaluators import BenchmarkEvaluator
from mdesign.refinement.refine import RefineConfig, refine

SHARES = (1.0, 0.75, 0.5, 0.25, 0.0)
BUDGETS = (5, 10, 20, 50)
TARGETS = ("t0", "t1", "t2")
METHODS = {"mdesign-surrogate": {"strategy": "surrogate"},
           "mdesign-surrogate-notransfer": {"strategy": "surrogate", "transfer": False},
           "mdesign": {}, "random": None, "tpe": None}


def paid_scores(ev: Any, method: str, task: str, seed: int, budget: int) -> list[float]:
    table = ev.oracle(task)
    oracle = BenchmarkEvaluator(None, task, budget, table=table)
    over = METHODS[method]
    if over is not None:
        res = refine(ev, RefineConfig(task=task, budget=budget, seed=seed, **over), oracle)
        seen: dict[str, float] = {}
        for s in res.steps:
            seen.setdefault(s.uid, s.score)
        return list(seen.values())
    uids = sorted(table)
    space = ev.space(split_uid(uids[0])[0])
    if method == "random":
        baselines.random_search(space, oracle, seed, uids=uids)
    else:
        baselines.tpe(space, oracle, seed, uids=uids)
    return [e.score for e in oracle.evaluations()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--methods", default=",".join(METHODS))
    args = ap.parse_args()
    methods = args.methods.split(",")
    import torch

    torch.set_num_threads(1)
    t_all = time.perf_counter()
    rows = []
    for share in SHARES:
        ev = family(share, tasks=9, seed=0)
        for method in methods:
            stochastic = method != "mdesign"
            shares: dict[int, list[float]] = {b: [] for b in BUDGETS}
            for task in TARGETS:
                vals = np.array([e.score for e in ev.oracle(task).values()])
                for seed in range(args.seeds if stochastic else 1):
                    paid = paid_scores(ev, method, task, seed, max(BUDGETS))
                    for b in BUDGETS:
                        shares[b].append(float((vals >= max(paid[:b])).mean() * 100))
            for b in BUDGETS:
                rows.append({"shared": share, "method": method, "budget": b,
                             "runs": len(shares[b]),
                             "top_pct_mean": statistics.mean(shares[b]),
                             "top_pct_median": statistics.median(shares[b])})
            print(share, method, [round(r["top_pct_mean"], 3) for r in rows[-len(BUDGETS):]],
                  file=sys.stderr, flush=True)
    out = {"machine": machine(), "seeds": args.seeds, "targets": list(TARGETS),
           "budgets": list(BUDGETS), "shares": list(SHARES), "rows": rows,
           "wall_s": round(time.perf_counter() - t_all, 1)}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "refine_synthetic.json").write_text(json.dumps(out, indent=1) + "\n")
    (RESULTS / "refine_synthetic.md").write_text(markdown(out))
    plot(out)
    print(markdown(out))


def markdown(o: dict[str, Any]) -> str:
    m = o["machine"]
    get = {(r["shared"], r["method"], r["budget"]): r for r in o["rows"]}
    methods = list(dict.fromkeys(r["method"] for r in o["rows"]))
    lines = ["# Refinement on synthetic tasks with controlled transfer", "",
             f"Machine: {m['cpu']}, {m['cores']} cores; wall time {o['wall_s']} s. 7,776 "
             "architectures per task; shared = the share of each task's score that all "
             f"tasks have in common. Targets {', '.join(o['targets'])}, each with the other 8 "
             f"tasks as sources; stochastic methods {o['seeds']} seeds per target, mdesign "
             "(the walk, deterministic) one. Cell: mean share (%) of the space at least as "
             "good as the returned architecture (lower is better; 0.013% = the best).", "",
             "| shared | budget | " + " | ".join(methods) + " |",
             "|---|---|" + "---|" * len(methods)]
    for s in o["shares"]:
        for b in o["budgets"]:
            lines.append(f"| {s} | {b} | " + " | ".join(
                f"{get[(s, mm, b)]['top_pct_mean']:.3f}" for mm in methods) + " |")
    return "\n".join(lines) + "\n"


def plot(o: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    get = {(r["shared"], r["method"], r["budget"]): r for r in o["rows"]}
    methods = list(dict.fromkeys(r["method"] for r in o["rows"]))
    fig, axes = plt.subplots(1, len(o["budgets"]), figsize=(4 * len(o["budgets"]), 3.4),
                             squeeze=False)
    for ax, b in zip(axes[0], o["budgets"], strict=True):
        for mm in methods:
            ax.plot(o["shares"], [get[(s, mm, b)]["top_pct_mean"] for s in o["shares"]],
                    marker="o", label=mm, lw=2.2 if mm == "mdesign-surrogate" else 1.2)
        ax.set_yscale("log")
        ax.invert_xaxis()
        ax.set_xlabel("shared share of the tasks' scores")
        ax.set_ylabel("top % reached (lower is better)")
        ax.set_title(f"budget {b}")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(methods), fontsize=8)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    fig.savefig(RESULTS / "refine_synthetic.png", dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()

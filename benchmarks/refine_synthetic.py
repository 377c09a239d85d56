"""Refinement on synthetic tasks with controlled transfer (docs/refinement.md,
"Synthetic transfer"): the surrogate's advantage should shrink to that of knowledge-free
Bayesian optimisation as the shared share of the tasks' scores goes from 1 to 0, and
never fall below it by more than noise.

    python benchmarks/refine_synthetic.py          # 5 shares, 5 families, 3 targets, 5 seeds
    python benchmarks/refine_synthetic.py --families 1 --seeds 3   # the first run (2026-12-03)

Families of :mod:`mdesign.benchmarks.transfer_family` with seeds ``0 .. families - 1``
(the development protocol used seeds 100 and up), 9 tasks each; every target ``t0``-``t2``
is refined with the other 8 as sources, in memory (no server).

"More than noise" is measured: for each family and target, the mean over seeds of
``log10 share(surrogate) - log10 share(knowledge-free BO)`` (share: of the space at least
as good as the returned architecture) is one paired difference; a cell of the comparison
table gives their mean and a 95% percentile-bootstrap interval over the ``3 x families``
targets (the unit of replication: the surrogate's seed only breaks ties, so its runs on
one target are not independent). "behind" means the whole interval is above 0. Writes
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
from mdesign.benchmarks.report import RESULTS, log_panels, machine
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
    ap.add_argument("--families", type=int, default=5)
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--report", action="store_true",
                    help="rewrite the markdown and the plot from the JSON, running nothing")
    args = ap.parse_args()
    if args.report:
        out = json.loads((RESULTS / "refine_synthetic.json").read_text())
        out["paired"] = against_floor(out["rows"])
        write(out)
        return
    methods = args.methods.split(",")
    import torch

    torch.set_num_threads(1)
    t_all = time.perf_counter()
    rows = []
    # (shared, method, budget) -> {(family, target): [share % per seed]}
    runs: dict[tuple[float, str, int], dict[str, list[float]]] = {}
    for share in SHARES:
        for method in methods:
            stochastic = method != "mdesign"
            shares: dict[int, list[float]] = {b: [] for b in BUDGETS}
            for fam in range(args.families):
                ev = family(share, tasks=9, seed=fam)
                for task in TARGETS:
                    vals = np.array([e.score for e in ev.oracle(task).values()])
                    for seed in range(args.seeds if stochastic else 1):
                        paid = paid_scores(ev, method, task, seed, max(BUDGETS))
                        for b in BUDGETS:
                            pct = float((vals >= max(paid[:b])).mean() * 100)
                            shares[b].append(pct)
                            runs.setdefault((share, method, b), {}).setdefault(
                                f"{fam}/{task}", []).append(pct)
            for b in BUDGETS:
                rows.append({"shared": share, "method": method, "budget": b,
                             "runs": len(shares[b]),
                             "top_pct_mean": statistics.mean(shares[b]),
                             "top_pct_median": statistics.median(shares[b]),
                             "per_target": runs[(share, method, b)]})
            print(share, method, [round(r["top_pct_mean"], 3) for r in rows[-len(BUDGETS):]],
                  file=sys.stderr, flush=True)
    out = {"machine": machine(), "seeds": args.seeds, "families": args.families,
           "targets": list(TARGETS), "budgets": list(BUDGETS), "shares": list(SHARES),
           "rows": rows, "paired": against_floor(rows),
           "wall_s": round(time.perf_counter() - t_all, 1)}
    write(out)


FLOOR = "mdesign-surrogate-notransfer"
TRANSFER = ("mdesign-surrogate", "mdesign")  # compared with the floor, in this order


def against_floor(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Each transfer method present, paired with knowledge-free BO."""
    present = {r["method"] for r in rows}
    return {m: paired(rows, m, FLOOR) for m in TRANSFER if m in present and FLOOR in present}


def write(out: dict[str, Any]) -> None:
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "refine_synthetic.json").write_text(json.dumps(out, indent=1) + "\n")
    (RESULTS / "refine_synthetic.md").write_text(markdown(out))
    plot(out)
    print(markdown(out))


def bootstrap_interval(x: np.ndarray, draws: int = 10_000) -> tuple[float, float]:
    """The 95% percentile-bootstrap interval of the mean of ``x`` (seeded: the same
    numbers give the same interval)."""
    rng = np.random.default_rng(0)
    means = x[rng.integers(0, len(x), size=(draws, len(x)))].mean(axis=1)
    return float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))


def interval_verdict(lo: float, hi: float) -> str:
    """A paired difference's verdict from its interval (negative: ``a`` ahead)."""
    return "behind" if lo > 0 else "ahead" if hi < 0 else "within noise"


def paired(rows: list[dict[str, Any]], a: str, b: str) -> list[dict[str, Any]]:
    """Per shared share and budget: the mean over targets of the per-target mean
    ``log10 share(a) - log10 share(b)`` with a 95% bootstrap interval (negative: ``a``
    ahead)."""
    get = {(r["shared"], r["method"], r["budget"]): r for r in rows}
    out = []
    for (shared, method, budget), r in get.items():
        other = get.get((shared, b, budget))
        if method != a or other is None:
            continue
        diffs = [statistics.mean(np.log10(r["per_target"][t]))
                 - statistics.mean(np.log10(other["per_target"][t]))
                 for t in r["per_target"] if t in other["per_target"]]
        mean = float(statistics.mean(diffs))
        lo, hi = bootstrap_interval(np.array(diffs))
        verdict = interval_verdict(lo, hi)
        out.append({"shared": shared, "budget": budget, "targets": len(diffs),
                    "ahead_on": int(sum(d < 0 for d in diffs)),
                    "mean_log10_diff": mean, "ci95": [lo, hi], "verdict": verdict})
    return out


def markdown(o: dict[str, Any]) -> str:
    m = o["machine"]
    get = {(r["shared"], r["method"], r["budget"]): r for r in o["rows"]}
    methods = list(dict.fromkeys(r["method"] for r in o["rows"]))
    lines = ["# Refinement on synthetic tasks with controlled transfer", "",
             f"Machine: {m['cpu']}, {m['cores']} cores; wall time {o['wall_s']} s. 7,776 "
             "architectures per task; shared = the share of each task's score that all "
             f"tasks have in common. Targets {', '.join(o['targets'])}, each with the other 8 "
             f"tasks as sources, in {o.get('families', 1)} families (seeds 0-"
             f"{o.get('families', 1) - 1}); stochastic methods {o['seeds']} seeds per target, "
             "mdesign (the walk, deterministic) one. Cell: mean share (%) of the space at "
             "least as good as the returned architecture (lower is better; 0.013% = the "
             "best).", "",
             "| shared | budget | " + " | ".join(methods) + " |",
             "|---|---|" + "---|" * len(methods)]
    for s in o["shares"]:
        for b in o["budgets"]:
            lines.append(f"| {s} | {b} | " + " | ".join(
                f"{get[(s, mm, b)]['top_pct_mean']:.3f}" for mm in methods) + " |")
    for method, cells in (o.get("paired") or {}).items():
        name = "the surrogate" if method == "mdesign-surrogate" else \
            "the walk (the default strategy)"
        lines += ["", f"## {name[0].upper() + name[1:]} against knowledge-free BO "
                  "(same targets)", "",
                  f"Mean over targets of log10 share({method}) - log10 share({FLOOR}) "
                  f"(negative: {method} ahead; -1 = a 10x smaller share), with its 95% "
                  "bootstrap interval over the targets; \"behind\" only where the whole "
                  "interval is above 0.", "",
                  "| shared | budget | targets | ahead on | difference | 95% interval | "
                  "verdict |", "|---|---|---|---|---|---|---|"]
        for p in cells:
            lo, hi = p["ci95"]
            lines.append(f"| {p['shared']} | {p['budget']} | {p['targets']} | "
                         f"{p.get('ahead_on', '')} | {p['mean_log10_diff']:+.2f} | "
                         f"[{lo:+.2f}, {hi:+.2f}] | {p['verdict']} |")
        behind = [p for p in cells if p["verdict"] == "behind"]
        lines += ["", f"Cells where {name} is behind knowledge-free BO by more than "
                  f"noise: **{len(behind)} of {len(cells)}**" + (
                      " (" + ", ".join(f"shared {p['shared']} at {p['budget']}"
                                       for p in behind) + ")" if behind else "") + "."]
    return "\n".join(lines) + "\n"


def plot(o: dict[str, Any]) -> None:
    get = {(r["shared"], r["method"], r["budget"]): r for r in o["rows"]}
    methods = list(dict.fromkeys(r["method"] for r in o["rows"]))
    log_panels(RESULTS / "refine_synthetic.png",
               [(f"budget {b}", o["shares"],
                 {mm: [get[(s, mm, b)]["top_pct_mean"] for s in o["shares"]]
                  for mm in methods}) for b in o["budgets"]],
               "shared share of the tasks' scores", "top % reached (lower is better)",
               invert_x=True)


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()

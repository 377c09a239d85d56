"""The development protocol of the surrogate's defaults (docs/refinement.md, "Development
protocol"): synthetic families only, never a reported benchmark.

    python benchmarks/dev_protocol.py
    python benchmarks/dev_protocol.py --tasks 9 --families 5   # round 8's check (9 tasks)
    python benchmarks/dev_protocol.py --families 5 --targets 7 --only ...   # more power

Each configuration is also paired with the default by target (a family's task held out):
the mean difference of the criterion over the targets with a 95% bootstrap interval, so a
file with many targets tells which margins are larger than the targets' noise.

Families of :mod:`mdesign.benchmarks.transfer_family` with seeds 100 (shared share 0),
105 (0.5) and 110 (1.0), 7 tasks each; targets t0-t2 (``--targets N``: t0 .. t(N-1)) with
the other 6 as sources; 2 seeds; budgets 5/10/20/50 read from one run at 50. Criterion:
the mean over all runs and budgets of log10 of the share (%) of the space at least as good
as the returned architecture.
Writes ``benchmarks/results/dev_protocol.{json,md}`` (with other ``--tasks``,
``--families`` or ``--only``: ``dev_protocol_<T>tasks_<F>families.{json,md}``, and
``_<N>targets`` with other ``--targets``).
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from mdesign.benchmarks.refine_synthetic import bootstrap_interval, interval_verdict
from mdesign.benchmarks.report import RESULTS, machine
from mdesign.benchmarks.transfer_family import family
from mdesign.refinement.evaluators import BenchmarkEvaluator
from mdesign.refinement.refine import RefineConfig, refine

SHARES = {0.0: 100, 0.5: 105, 1.0: 110}  # shared share -> family seed
BUDGETS = (5, 10, 20, 50)
DEFAULT = "UCB, portfolio 2 (default)"
CONFIGS: dict[str, dict[str, Any]] = {
    "EI, portfolio 2 (the first default)": {"strategy": "surrogate", "acquisition": "ei"},
    "EI, portfolio 1": {"strategy": "surrogate", "acquisition": "ei", "portfolio": 1},
    "EI, portfolio 4": {"strategy": "surrogate", "acquisition": "ei", "portfolio": 4},
    "UCB, portfolio 2 (default)": {"strategy": "surrogate", "acquisition": "ucb"},
    "Thompson, portfolio 2": {"strategy": "surrogate", "acquisition": "thompson"},
    "EI, portfolio 2, trust radius 1": {"strategy": "surrogate", "acquisition": "ei",
                                        "trust_radius": 1},
    "EI, portfolio 2, trust radius 2": {"strategy": "surrogate", "acquisition": "ei",
                                        "trust_radius": 2},
    "EI, portfolio 2, agreement odds": {"strategy": "surrogate", "acquisition": "ei",
                                        "transfer_odds": "agreement"},
    "EI, portfolio 2, kernel from the sources": {"strategy": "surrogate",
                                                 "acquisition": "ei", "kernel": "sources"},
    "UCB, portfolio 2, kernel from the sources": {"strategy": "surrogate",
                                                  "acquisition": "ucb", "kernel": "sources"},
    "without transfer (EI)": {"strategy": "surrogate", "acquisition": "ei",
                              "transfer": False},
    "without transfer (UCB)": {"strategy": "surrogate", "acquisition": "ucb",
                               "transfer": False},
    "the walk (defaults)": {},
    "UCB, portfolio 2, additive kernel": {"strategy": "surrogate", "acquisition": "ucb",
                                          "kernel": "additive"},
    "without transfer (UCB, additive kernel)": {"strategy": "surrogate",
                                                "acquisition": "ucb", "transfer": False,
                                                "kernel": "additive"},
    "UCB, portfolio 2, selected model": {"strategy": "surrogate", "acquisition": "ucb",
                                         "transfer_model": "select"},
    "UCB, portfolio 2, agreement odds": {"strategy": "surrogate", "acquisition": "ucb",
                                         "transfer_odds": "agreement"},
    "UCB, portfolio 2, slope prior from the sources": {"strategy": "surrogate",
                                                       "acquisition": "ucb",
                                                       "slope_prior": "sources"},
    "UCB, portfolio 2, averaged hyperparameters": {"strategy": "surrogate",
                                                   "acquisition": "ucb",
                                                   "hyperparameters": "average"},
    "without transfer (UCB, averaged hyperparameters)": {"strategy": "surrogate",
                                                         "acquisition": "ucb",
                                                         "transfer": False,
                                                         "hyperparameters": "average"},
    "UCB, portfolio 2, ranking-weighted ensemble": {"strategy": "surrogate",
                                                    "acquisition": "ucb",
                                                    "transfer_model": "rgpe"},
    "EI, portfolio 2, ranking-weighted ensemble": {"strategy": "surrogate",
                                                   "acquisition": "ei",
                                                   "transfer_model": "rgpe"},
    "UCB, portfolio 2, ranking-weighted prior mean": {"strategy": "surrogate",
                                                      "acquisition": "ucb",
                                                      "transfer_model": "ranked"},
    "EI, portfolio 2, ranking-weighted prior mean": {"strategy": "surrogate",
                                                     "acquisition": "ei",
                                                     "transfer_model": "ranked"},
    "UCB, portfolio 2, ranked prior mean of M1": {"strategy": "surrogate",
                                                  "acquisition": "ucb",
                                                  "prior_mean": "ranked"},
    "UCB, portfolio 2, both prior means of M1": {"strategy": "surrogate",
                                                 "acquisition": "ucb",
                                                 "prior_mean": "both"},
    "UCB, portfolio 2, kappa growing with the paid": {
        "strategy": "surrogate", "acquisition": "ucb", "ucb_schedule": "log"},
    "UCB, portfolio 2, winsorised source scores": {
        "strategy": "surrogate", "acquisition": "ucb", "source_scores": "winsorised"},
    "UCB, portfolio 2, split source scores": {
        "strategy": "surrogate", "acquisition": "ucb", "source_scores": "split"},
    "UCB, portfolio 2, capped scores for the first 20 paid": {
        "strategy": "surrogate", "acquisition": "ucb", "source_scores": "switch"},
}


def _target_runs(share: float, seed: int, target: str, tasks: int, names: list[str]
                 ) -> dict[str, list[list[float]]]:
    """One target of one family: per configuration, per method seed (0 and 1), the share
    (%) of the space at least as good as the best paid at each of :data:`BUDGETS`."""
    import torch

    torch.set_num_threads(1)
    ev = family(share, tasks=tasks, seed=seed)
    table = ev.oracle(target)
    vals = np.array([e.score for e in table.values()])
    out: dict[str, list[list[float]]] = {}
    for name in names:
        out[name] = []
        for s in (0, 1):
            oracle = BenchmarkEvaluator(None, target, max(BUDGETS), table=table)
            res = refine(ev, RefineConfig(task=target, budget=max(BUDGETS), seed=s,
                                          **CONFIGS[name]), oracle)
            scores = [st.score for st in res.steps]
            out[name].append([float((vals >= max(scores[:b])).mean() * 100)
                              for b in BUDGETS])
    return out


def paired_with_default(per_target: dict[str, dict[str, float]]) -> list[dict[str, Any]]:
    """Each configuration against :data:`DEFAULT`, paired by target: the mean difference
    of the criterion, its 95% bootstrap interval over the targets and the verdict
    (negative: ahead of the default), and the mean difference per shared share."""
    base = per_target[DEFAULT]
    out = []
    for name, values in per_target.items():
        if name == DEFAULT:
            continue
        diffs = {k: values[k] - base[k] for k in base}
        x = np.array(list(diffs.values()))
        lo, hi = bootstrap_interval(x)
        out.append({"config": name, "diff": float(x.mean()), "lo": lo, "hi": hi,
                    "verdict": interval_verdict(lo, hi), "lower": int((x < 0).sum()),
                    "higher": int((x > 0).sum()),
                    "by_share": {str(sh): statistics.mean(
                        d for k, d in diffs.items() if k.split("|")[0] == str(sh))
                        for sh in SHARES}})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=7, help="tasks per family (7: the "
                    "protocol; 9: the size of the reported synthetic benchmark)")
    ap.add_argument("--families", type=int, default=1, help="families per shared share, "
                    "seeds SEED .. SEED + N - 1 (1: the protocol; at most 5)")
    ap.add_argument("--targets", type=int, default=3, help="targets per family, its first "
                    "tasks t0 .. t(N-1), each with the others as sources (3: the protocol)")
    ap.add_argument("--jobs", type=int, default=1, help="processes, one target each at a "
                    "time (the results do not depend on it)")
    ap.add_argument("--rewrite", action="store_true", help="re-derive the markdown and plot "
                    "from the JSON of the same options")
    ap.add_argument("--only", action="append", default=[], help="a configuration to run "
                    "(repeatable; default: all)")
    args = ap.parse_args()
    if not 1 <= args.families <= 5:
        sys.exit("error: --families must be 1 to 5; fix: the seeds of the next share "
                 "start 5 later")
    if not 1 <= args.targets <= args.tasks:
        sys.exit(f"error: --targets must be 1 to --tasks ({args.tasks}); fix: a target is "
                 "one of the family's tasks")
    if unknown := [c for c in args.only if c not in CONFIGS]:
        sys.exit(f"error: --only names {unknown[0]!r}, no configuration of the protocol; "
                 "fix: use a name of benchmarks/dev_protocol.py's CONFIGS")
    configs = {c: CONFIGS[c] for c in args.only} if args.only else CONFIGS
    # the protocol's own file only for the protocol itself
    name = "dev_protocol" if (args.tasks, args.families, args.targets, args.only) == \
        (7, 1, 3, []) else f"dev_protocol_{args.tasks}tasks_{args.families}families" + \
        (f"_{args.targets}targets" if args.targets != 3 else "")
    if args.rewrite:
        path = RESULTS / f"{name}.json"
        if not path.exists():
            sys.exit(f"error: {path} does not exist; fix: run the protocol (drop --rewrite)")
        write(json.loads(path.read_text()), name)
        return
    t_all = time.perf_counter()
    shares: dict[str, list[float]] = {c: [] for c in configs}
    # (config, shared share, budget) -> log10 shares, for the table by share
    cells: dict[tuple[str, float, int], list[float]] = {}
    # config -> "share|family seed|target" -> its criterion (mean over seeds and budgets)
    per_target: dict[str, dict[str, float]] = {c: {} for c in configs}
    items = [(share, first + fam, f"t{i}") for (share, first), fam, i in itertools.product(
        SHARES.items(), range(args.families), range(args.targets))]
    with ProcessPoolExecutor(args.jobs) as pool:
        results = pool.map(_target_runs, *zip(*items, strict=True),
                           itertools.repeat(args.tasks), itertools.repeat(list(configs)))
        for done, ((share, seed, target), runs) in enumerate(zip(items, results, strict=True),
                                                             1):
            for config, by_seed in runs.items():
                logs = [math.log10(pct) for pcts in by_seed for pct in pcts]
                for pcts in by_seed:
                    shares[config] += pcts
                    for b, pct in zip(BUDGETS, pcts, strict=True):
                        cells.setdefault((config, share, b), []).append(math.log10(pct))
                per_target[config][f"{share}|{seed}|{target}"] = statistics.mean(logs)
            print(f"dev_protocol: {done}/{len(items)} targets (shared {share}, family "
                  f"{seed}, {target})", file=sys.stderr, flush=True)
    rows = [{"config": config, "runs": len(v), "mean_share": statistics.mean(v),
             "mean_log10_share": statistics.mean(math.log10(x) for x in v),
             "by_share": {str(sh): [statistics.mean(cells[(config, sh, b)]) for b in BUDGETS]
                          for sh in SHARES}}
            for config, v in shares.items()]
    out = {"machine": machine(), "wall_s": round(time.perf_counter() - t_all, 1),
           "tasks": args.tasks, "families": args.families, "targets": args.targets,
           "rows": rows, "per_target": per_target,
           "paired": paired_with_default(per_target) if DEFAULT in per_target else []}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(out, indent=1) + "\n")
    write(out, name)


def write(out: dict[str, Any], name: str) -> None:
    """``results/<name>.md`` (and ``.png``, the paired differences, when the run holds the
    default) from the run ``out``."""
    text = markdown(out)
    (RESULTS / f"{name}.md").write_text(text)
    if out.get("paired"):
        plot_paired(out, RESULTS / f"{name}.png")
    print(text, end="")


def markdown(out: dict[str, Any]) -> str:
    seeds = "/".join("-".join(str(s + f) for f in sorted({0, out["families"] - 1}))
                     for s in SHARES.values())
    lines = ["# Development protocol of the surrogate's defaults", "",
             f"Machine: {out['machine']['cpu']}, {out['machine']['cores']} cores; wall time "
             f"{out['wall_s']} s. Synthetic families only ({out['tasks']} tasks, seeds "
             f"{seeds}, shared share 0/0.5/1), {out.get('targets', 3)} targets x 2 seeds x budgets "
             "5/10/20/50 per configuration. Lower is better.", "",
             "| configuration | mean share % | mean log10 share |", "|---|---|---|"]
    lines += [f"| {r['config']} | {r['mean_share']:.3f} | {r['mean_log10_share']:.3f} |"
              for r in out["rows"]]
    lines += ["", "Mean log10 share by shared share, at budgets "
              + "/".join(map(str, BUDGETS)) + ":", "",
              "| configuration | " + " | ".join(f"shared {sh}" for sh in SHARES) + " |",
              "|---|" + "---|" * len(SHARES)]
    lines += [f"| {r['config']} | " + " | ".join(
        " / ".join(f"{v:+.2f}" for v in r["by_share"][str(sh)]) for sh in SHARES) + " |"
        for r in out["rows"]]
    if out.get("paired"):
        lines += ["", f"Paired with the default by target ({len(out['per_target'][DEFAULT])} "
                  "targets: a family's task; each the mean over its 2 seeds and 4 budgets): "
                  "mean difference of the criterion (negative: ahead of the default), its 95% "
                  "bootstrap interval over the targets, targets where it is lower / higher, "
                  "and the mean difference by shared share.", "",
                  "| configuration | difference | 95% interval | verdict | lower / higher | "
                  + " | ".join(f"shared {sh}" for sh in SHARES) + " |",
                  "|---|---|---|---|---|" + "---|" * len(SHARES)]
        lines += [f"| {p['config']} | {p['diff']:+.3f} | [{p['lo']:+.3f}, {p['hi']:+.3f}] | "
                  f"{p['verdict']} | {p['lower']} / {p['higher']} | "
                  + " | ".join(f"{p['by_share'][str(sh)]:+.3f}" for sh in SHARES) + " |"
                  for p in out["paired"]]
    return "\n".join(lines) + "\n"


def plot_paired(out: dict[str, Any], path: Path) -> None:
    """Each configuration's paired difference from the default with its 95% interval,
    sorted, coloured by verdict: what the run can and cannot tell apart."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = sorted(out["paired"], key=lambda p: p["diff"], reverse=True)
    colour = {"ahead": "tab:green", "within noise": "tab:gray", "behind": "tab:red"}
    fig, ax = plt.subplots(figsize=(8, 0.28 * len(rows) + 1.4))
    for y, p in enumerate(rows):
        ax.errorbar(p["diff"], y, xerr=[[p["diff"] - p["lo"]], [p["hi"] - p["diff"]]],
                    fmt="o", color=colour[p["verdict"]], capsize=2, ms=4)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(range(len(rows)), [p["config"] for p in rows], fontsize=7)
    ax.set_xlabel("mean log10 share minus the default's (negative: ahead of it)")
    ax.set_title(f"Paired with {DEFAULT} over {len(out['per_target'][DEFAULT])} targets\n"
                 "95% bootstrap intervals; red: behind, grey: within noise, green: ahead",
                 fontsize=9)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)

if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()

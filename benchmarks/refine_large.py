"""Refinement in a space too large to enumerate (issue 20, "Candidates"): 16.8 million
architectures, sources that measured a sample of it, a target paid one architecture at
a time.

    python benchmarks/refine_large.py              # 3 shares x 2 families x 3 targets, 3 seeds
    python benchmarks/refine_large.py --report     # the markdown and the plot from the JSON

The space has 8 dimensions of 8 choices (``8^8 = 16,777,216``), above the surrogate's
``--enumerate-limit`` (300,000), so the surrogate scores a candidate set rebuilt each
step (the 2-edit balls of its three best paid, each source's 20 best, 2,000 seeded random
draws; docs/refinement.md). A task's score is the transfer family's formula
(:mod:`mdesign.benchmarks.transfer_family`) over this space without the per-architecture
noise: ``sqrt(r) f_shared + sqrt(1 - r) f_t``, each ``f`` standard normal main effects
plus 0.5 x pairwise interactions, standardised on a fixed sample of 100,000. Each of the
8 sources holds 2,000 results at seeded random architectures (a knowledge base never
holds a complete table of such a space); the target holds none and is paid through a
formula evaluator. The benchmark itself computes the target's score of every one of the
16.8 million architectures (numpy, in chunks) only to report the exact share of the
space at least as good as the returned architecture; no method sees it.

Methods: the surrogate, the surrogate without transfer (knowledge-free BO), random
search (seeded uniform draws) and TPE; the walk (the default strategy) needs stored
neighbours of what it paid to retrieve edits from, which a 2,000-sample table of 16.8
million architectures almost never has, so it is not run here. Writes
``benchmarks/results/refine_large.{json,md,png}``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import statistics
import sys
import time
from typing import Any

import numpy as np
from mdesign.benchmarks import baselines
from mdesign.benchmarks.refine_synthetic import paired
from mdesign.benchmarks.report import RESULTS, log_panels, machine
from mdesign.core.evaluation import Evaluation, PaidEvaluator
from mdesign.core.space import DesignSpace, key_choices, key_of
from mdesign.refinement.memory import InMemoryEvidence, StoredResult, TaskTable
from mdesign.refinement.refine import RefineConfig, refine

DIMS, CHOICES = 8, 8
SOURCES, SOURCE_RESULTS = 8, 2_000
TARGETS = ("t0", "t1", "t2")
SHARES = (1.0, 0.5, 0.0)
BUDGETS = (10, 20, 50)
METHODS = ("mdesign-surrogate", "mdesign-surrogate-notransfer", "random", "tpe")
SPACE = "synthetic-large"


def large_space() -> DesignSpace:
    return DesignSpace.from_dict({
        "name": SPACE,
        "dimensions": [{"name": f"d{i}", "choices": [f"c{j}" for j in range(CHOICES)]}
                       for i in range(DIMS)]})


class Effects:
    """``f(a) = sum_d alpha_d[a_d] + 0.5 sum_{d<e} beta_de[a_d, a_e]``, standardised."""

    PAIRS = tuple(itertools.combinations(range(DIMS), 2))

    def __init__(self, rng: np.random.Generator) -> None:
        self.main = rng.standard_normal((DIMS, CHOICES))
        self.pair = 0.5 * rng.standard_normal((len(self.PAIRS), CHOICES, CHOICES))
        sample = np.random.default_rng(0).integers(0, CHOICES, (100_000, DIMS))
        raw = self._raw(sample)
        self.mean, self.sd = float(raw.mean()), float(raw.std())

    def _raw(self, codes: np.ndarray) -> np.ndarray:
        f = np.zeros(len(codes))
        for d in range(DIMS):
            f += self.main[d][codes[:, d]]
        for p, (d, e) in enumerate(self.PAIRS):
            f += self.pair[p][codes[:, d], codes[:, e]]
        return f

    def __call__(self, codes: np.ndarray) -> np.ndarray:
        return (self._raw(codes) - self.mean) / self.sd


class Task:
    """One task of a family: ``sqrt(r) shared + sqrt(1 - r) own`` (accuracy-like)."""

    def __init__(self, shared: Effects, own: Effects, r: float) -> None:
        self.shared, self.own, self.r = shared, own, r

    def __call__(self, codes: np.ndarray) -> np.ndarray:
        score = np.sqrt(self.r) * self.shared(codes) + np.sqrt(1 - self.r) * self.own(codes)
        return 0.75 + 0.05 * score

    def of_key(self, key: str) -> float:
        return float(self(codes_of([key]))[0])

    def every_score(self) -> np.ndarray:
        """The sorted scores of all ``CHOICES^DIMS`` architectures (float32, in chunks)."""
        out = np.empty(CHOICES ** DIMS, dtype=np.float32)
        chunk = CHOICES ** (DIMS - 2)
        tail = np.array(list(itertools.product(range(CHOICES), repeat=DIMS - 2)))
        for i, (a, b) in enumerate(itertools.product(range(CHOICES), repeat=2)):
            codes = np.column_stack([np.full(chunk, a), np.full(chunk, b), tail])
            out[i * chunk:(i + 1) * chunk] = self(codes)
        out.sort()
        return out


def codes_of(keys: list[str]) -> np.ndarray:
    return np.array([[int(key_choices(k)[f"d{i}"][1:]) for i in range(DIMS)] for k in keys])


def family(r: float, seed: int) -> dict[str, Task]:
    """The tasks ``t0 .. t{SOURCES}`` of one family (any of them a target, the others
    its sources)."""
    rng = np.random.default_rng([seed, 104_729])
    shared = Effects(rng)
    return {f"t{t}": Task(shared, Effects(rng), r) for t in range(SOURCES + 1)}


def evidence_for(space: DesignSpace, tasks: dict[str, Task], target: str,
                 seed: int) -> InMemoryEvidence:
    """What the refinement of ``target`` reads: every other task's 2,000 sampled
    results, the target none."""
    tables = {target: TaskTable()}
    for name, task in tasks.items():
        if name == target:
            continue
        draw = np.random.default_rng([seed, int(name[1:]), 1]).integers(
            0, CHOICES, (SOURCE_RESULTS, DIMS))
        keys = [space.key({f"d{i}": f"c{c}" for i, c in enumerate(row)}) for row in draw]
        scores = task(draw)
        tables[name] = TaskTable(results={k: StoredResult(score=float(s), valid=float(s),
                                                          test=float(s))
                                          for k, s in zip(keys, scores, strict=True)})
    return InMemoryEvidence(space, tables)


class FormulaEvaluator(PaidEvaluator):
    """Pays for an architecture of the large space by its task's formula."""

    def __init__(self, space: DesignSpace, target: str, task: Task, budget: int) -> None:
        super().__init__(target, budget)
        self.space, self.formula = space, task

    def can_evaluate(self, uid: str) -> bool:
        return uid.startswith(self.space.name + "/")

    def _measure(self, uid: str) -> Evaluation:
        s = self.formula.of_key(key_of(uid))
        return Evaluation(uid=uid, score=s, valid=s, test=s)


def run(method: str, space: DesignSpace, ev: InMemoryEvidence, target: str, task: Task,
        seed: int, budget: int) -> tuple[list[float], list[float]]:
    """The paid scores in order and the per-step overheads (ms; the surrogate only)."""
    oracle = FormulaEvaluator(space, target, task, budget)
    if method.startswith("mdesign-surrogate"):
        cfg = RefineConfig(task=target, budget=budget, seed=seed, strategy="surrogate",
                           space=SPACE, transfer=method == "mdesign-surrogate")
        res = refine(ev, cfg, oracle)
        seen: dict[str, float] = {}
        for s in res.steps:
            seen.setdefault(s.uid, s.score)
        over = [s.overhead_ms for s in res.steps if s.overhead_ms is not None]
        return list(seen.values()), over
    if method == "random":
        rng = random.Random(seed)
        while oracle.spent < budget:  # a repeated draw is a free re-read
            oracle.evaluate(space.uid({d.name: rng.choice(d.choices)
                                       for d in space.dimensions}))
    else:
        baselines.tpe(space, oracle, seed, accept=oracle.can_evaluate)
    return [e.score for e in oracle.evaluations()], []


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--families", type=int, default=2)
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--report", action="store_true",
                    help="rewrite the markdown and the plot from the JSON, running nothing")
    args = ap.parse_args()
    if args.report:
        write(json.loads((RESULTS / "refine_large.json").read_text()))
        return
    import torch

    torch.set_num_threads(1)
    methods = args.methods.split(",")
    t_all = time.perf_counter()
    # (shared, method, budget) -> {family/target: [share % per seed]}
    shares: dict[str, dict[str, list[float]]] = {}
    overheads: dict[str, list[float]] = {m: [] for m in methods}
    walls: dict[str, list[float]] = {m: [] for m in methods}
    for r in SHARES:
        for fam in range(args.families):
            space, tasks = large_space(), family(r, fam)
            for target in TARGETS:
                every = tasks[target].every_score()
                ev = evidence_for(space, tasks, target, fam)
                for method in methods:
                    for seed in range(args.seeds):
                        t0 = time.perf_counter()
                        paid, over = run(method, space, ev, target, tasks[target], seed,
                                         max(BUDGETS))
                        walls[method].append(time.perf_counter() - t0)
                        overheads[method] += over
                        for b in BUDGETS:
                            best = np.float32(max(paid[:b]))
                            at_least = len(every) - int(np.searchsorted(every, best,
                                                                        side="left"))
                            shares.setdefault(f"{r}|{method}|{b}", {}).setdefault(
                                f"{fam}/{target}", []).append(100 * at_least / len(every))
                    cell = shares[f"{r}|{method}|{max(BUDGETS)}"][f"{fam}/{target}"]
                    print(r, fam, target, method, [round(x, 5) for x in cell],
                          file=sys.stderr, flush=True)
    rows = []
    for key, per_target in shares.items():
        r, method, b = key.split("|")
        flat = [x for xs in per_target.values() for x in xs]
        rows.append({"shared": float(r), "method": method, "budget": int(b),
                     "runs": len(flat), "top_pct_mean": statistics.mean(flat),
                     "top_pct_median": statistics.median(flat),
                     "log10_mean": statistics.mean(np.log10(flat).tolist()),
                     "per_target": per_target})
    out = {"machine": machine(), "space_size": CHOICES ** DIMS, "seeds": args.seeds,
           "families": args.families, "targets": list(TARGETS), "budgets": list(BUDGETS),
           "shares": list(SHARES), "sources": SOURCES, "source_results": SOURCE_RESULTS,
           "rows": rows,
           "overhead_ms": {m: {"median": statistics.median(v), "steps": len(v),
                               "p90": float(np.quantile(v, 0.9))}
                           for m, v in overheads.items() if v},
           "wall_s_per_run": {m: statistics.median(v) for m, v in walls.items() if v},
           "wall_s": round(time.perf_counter() - t_all, 1)}
    write(out)


def write(out: dict[str, Any]) -> None:
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "refine_large.json").write_text(json.dumps(out, indent=1) + "\n")
    (RESULTS / "refine_large.md").write_text(markdown(out))
    plot(out)
    print(markdown(out))


def markdown(o: dict[str, Any]) -> str:
    m = o["machine"]
    get = {(r["shared"], r["method"], r["budget"]): r for r in o["rows"]}
    methods = list(dict.fromkeys(r["method"] for r in o["rows"]))
    lines = ["# Refinement in a space too large to enumerate", "",
             f"Machine: {m['cpu']}, {m['cores']} cores; 1 torch thread; wall time "
             f"{o['wall_s']} s. {o['space_size']:,} architectures (8 dimensions x 8 "
             f"choices); {o['sources']} sources with {o['source_results']:,} results each "
             f"at random architectures; targets {', '.join(o['targets'])} in "
             f"{o['families']} families, {o['seeds']} seeds per method and target. Cell: "
             "mean share (%) of the whole space at least as good as the best paid "
             "architecture (exact: every architecture's score is computed for the report; "
             "lower is better; 1 architecture = 0.000006%); in brackets the mean of "
             "log10 of that share.", "",
             "| shared | budget | " + " | ".join(methods) + " |",
             "|---|---|" + "---|" * len(methods)]
    for s in o["shares"]:
        for b in o["budgets"]:
            lines.append(f"| {s} | {b} | " + " | ".join(
                f"{get[(s, mm, b)]['top_pct_mean']:.4f} ({get[(s, mm, b)]['log10_mean']:+.2f})"
                for mm in methods) + " |")
    lines += ["", "Overhead per step of the surrogate outside evaluation (candidate "
              "rebuild, source predictions, refits, acquisition), over every step of "
              "every run:", "", "| method | steps | median ms | p90 ms | median s per run |",
              "|---|---|---|---|---|"]
    for mm, v in o["overhead_ms"].items():
        lines.append(f"| {mm} | {v['steps']} | {v['median']:.1f} | {v['p90']:.1f} | "
                     f"{o['wall_s_per_run'][mm]:.1f} |")
    floor = "mdesign-surrogate-notransfer"
    if {"mdesign-surrogate", floor} <= set(methods):
        lines += ["", "The surrogate against knowledge-free BO, paired by target: mean over "
                  "targets of the per-target mean log10 share difference (negative: the "
                  "surrogate ahead), its 95% bootstrap interval over the targets, and the "
                  "targets where the surrogate is ahead:", "",
                  "| shared | budget | difference | 95% interval | ahead on | verdict |",
                  "|---|---|---|---|---|---|"]
        for p in paired(o["rows"], "mdesign-surrogate", floor):
            lo, hi = p["ci95"]
            lines.append(f"| {p['shared']} | {p['budget']} | {p['mean_log10_diff']:+.2f} | "
                         f"[{lo:+.2f}, {hi:+.2f}] | {p['ahead_on']} of {p['targets']} | "
                         f"{p['verdict']} |")
    return "\n".join(lines) + "\n"


def plot(o: dict[str, Any]) -> None:
    get = {(r["shared"], r["method"], r["budget"]): r for r in o["rows"]}
    methods = list(dict.fromkeys(r["method"] for r in o["rows"]))
    log_panels(RESULTS / "refine_large.png",
               [(f"shared share {s}", o["budgets"],
                 {mm: [get[(s, mm, b)]["top_pct_mean"] for b in o["budgets"]]
                  for mm in methods}) for s in o["shares"]],
               "evaluations", "top % of 16.8M reached (lower is better)")


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()

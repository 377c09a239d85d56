"""The default refinement and the surrogate strategy with real training, against random
search and TPE (issue 20's target 6).

    python benchmarks/train_transfer.py              # 3 tasks, budget 12, 5 seeds
    python benchmarks/train_transfer.py --tasks bench-sbm-hetero --out train_transfer_hetero
    python benchmarks/train_transfer.py --seeds 3    # a shorter run

Needs a knowledge base holding NAS-Bench-Graph (`scripts/quickstart.sh`); adds the tasks
`bench-mutag` (builtin:mutag, graph classification) and `bench-sbm` (builtin:sbm:3:100, a
3-block SBM node task) as `benchmarks/train.py` does, and `bench-sbm-hard`
(builtin:sbm:5:200:0.05:0.01:0.3: 5 blocks of 200 nodes, about 10 neighbours inside the
block and 8 outside, a weak feature signal: architectures differ by tens of points on
it). It records nothing (``refine()``, not ``runs.execute``). The sources are the 9
NAS-Bench-Graph node tasks: for MUTAG they are another kind of task, which is where the
safety net has to carry the run. A seed sets the training seeds of every method and the
methods' own draws. For each run it keeps the surrogate's last posterior probability that
the sources predict the target, which says whether transfer or the target-only model
carried it; ``mdesign-surrogate-notransfer`` (knowledge-free BO) is the safety net's
floor. Each run also keeps which evaluation paid for the returned architecture and how
that step chose it (:func:`found_by`), so the report can say whether the sources' first
design, a search step led by transfer, or one led by the target-only model found it.
``bench-sbm-hetero`` (builtin:sbm:5:200:0.01:0.05:1.0: about 2 neighbours inside the block
and 40 outside, a strong feature signal) is a task where the neighbourhood misleads,
unlike the 9 sources, so the safety net has to carry it; it is run on its own (second
command). Every finished run is kept in ``benchmarks/results/OUT.partial.jsonl``
(:class:`~mdesign.benchmarks.protocol.Checkpoint`): an interrupted run is resumed by the
same command. Writes ``benchmarks/results/OUT.{json,md}`` (OUT: ``--out``, default
``train_transfer``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import time
import warnings
from functools import partial
from pathlib import Path
from typing import NoReturn

from mdesign.benchmarks.protocol import found_label
from mdesign.benchmarks.report import RESULTS, at_least, machine
from mdesign.refinement.config import TRANSFER_LED, Provenance, RefinementStep, provenance

EPOCHS = 50
# bench-sbm saturates (every method reaches 100% validation), and MUTAG's 19 validation
# graphs put a ceiling that random search reaches in 12 draws; bench-sbm-hard is a node task
# on which architectures differ. Its parameters were fixed before any refinement ran on it,
# by training the same 12 seeded random architectures (50 epochs, 1 seed) on 3 candidates
# and taking the widest validation spread: 5:200:0.02:0.01:0.3 gave 22.0-34.5,
# 5:200:0.03:0.01:0.5 32.0-49.5, 5:200:0.05:0.01:0.3 26.5-55.0 (chance: 20).
TASKS = {"bench-mutag": ("builtin:mutag", "graph"), "bench-sbm": ("builtin:sbm:3:100", "node"),
         "bench-sbm-hard": ("builtin:sbm:5:200:0.05:0.01:0.3", "node"),
         # fixed the same way over 2 heterophilous candidates: 5:200:0.01:0.05:1.0 gave
         # 23.0-65.0, 5:200:0.01:0.03:0.7 21.5-48.5
         "bench-sbm-hetero": ("builtin:sbm:5:200:0.01:0.05:1.0", "node")}
DEFAULT_TASKS = ("bench-mutag", "bench-sbm", "bench-sbm-hard")
ISSUE_TASKS = ("bench-mutag", "bench-sbm")
# mdesign: the defaults of `mdesign refine` (the walk)
METHODS = ("mdesign", "mdesign-surrogate", "mdesign-surrogate-notransfer", "random", "tpe")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--budget", type=int, default=12)
    ap.add_argument("--tasks", default=",".join(DEFAULT_TASKS),
                    help=f"comma-separated, of {', '.join(TASKS)}")
    ap.add_argument("--out", default="train_transfer", help="file name stem")
    ap.add_argument("--methods", default=",".join(METHODS),
                    help="comma-separated methods to run; the others' runs are read from "
                    "the previous OUT.json (for a change that only they see)")
    args = ap.parse_args()
    tasks = args.tasks.split(",")
    if unknown := [t for t in tasks if t not in TASKS]:
        ap.error(f"unknown task(s) {', '.join(unknown)}: use {', '.join(TASKS)}")
    methods = args.methods.split(",")
    if unknown := [m for m in methods if m not in METHODS]:
        ap.error(f"unknown method(s) {', '.join(unknown)}: use {', '.join(METHODS)}")
    previous = kept_rows(RESULTS / f"{args.out}.json", tasks, methods, args.seeds,
                         args.budget) if len(methods) < len(METHODS) else {}
    warnings.filterwarnings("ignore", category=FutureWarning)
    logging.getLogger("neo4j").setLevel(logging.CRITICAL)
    import torch

    torch.set_num_threads(1)
    from mdesign.benchmarks import baselines
    from mdesign.benchmarks.protocol import Checkpoint, fingerprint
    from mdesign.kb import KnowledgeBase
    from mdesign.kb.observations import forget_observations
    from mdesign.refinement.refine import RefineConfig, refine
    from mdesign.tasks.store import add_task, load_task
    from mdesign.training.config import TrainConfig
    from mdesign.training.evaluator import TrainEvaluator

    cfg = TrainConfig(epochs=EPOCHS, seeds=1, threads=1)
    out: dict = {"machine": machine(), "epochs": EPOCHS, "budget": args.budget,
                 "seeds": args.seeds, "tasks": {}, "ran": methods}
    t_all = time.perf_counter()
    with KnowledgeBase.connect() as kb:
        space = kb.space("nas-bench-graph")
        for task in tasks:
            spec, kind = TASKS[task]
            add_task(kb, task, spec, kind)
            forget_observations(kb, task)
        kept: Checkpoint[dict] = Checkpoint(
            RESULTS / f"{args.out}.partial.jsonl",
            fingerprint(kb) + f"|{EPOCHS}|{args.budget}", lambda m: print(m, file=sys.stderr),
            encode=lambda row: {"row": row}, decode=lambda r: r["row"])

        def run(task: str, seed: int, method: str) -> dict:
            seeded = cfg.model_copy(update={"first_seed": seed})
            ev = TrainEvaluator(load_task(kb, task), task, args.budget, space, seeded)
            t = time.perf_counter()
            extra: dict = {}
            if method.startswith("mdesign"):
                over = {} if method == "mdesign" else {"strategy": "surrogate"}
                if method == "mdesign-surrogate-notransfer":
                    over["transfer"] = False
                r = refine(kb, RefineConfig(task=task, budget=args.budget, seed=seed,
                                            space=space.name, **over), ev)
                best = r.best
                extra.update(found_by(r.steps, best.uid))
                probs = [s.transfer_probability for s in r.steps
                         if s.transfer_probability is not None]
                if method == "mdesign-surrogate":
                    extra["transfer_probability"] = probs[-1] if probs else None
            else:
                found = (baselines.random_search if method == "random" else
                         baselines.tpe)(space, ev, seed)
                best = found.best
                extra["found_at"] = found.paid.index(best.uid) + 1
            return {"valid": best.valid, "test": best.test,
                    "wall_s": round(time.perf_counter() - t, 1), **extra}

        for task in tasks:
            rows: dict[str, list[dict]] = {m: [] for m in METHODS}
            for seed in range(args.seeds):
                for method in METHODS:
                    if method not in methods:
                        rows[method].append(previous[task][method][seed])
                        continue
                    rows[method].append(kept.run(f"{task}|{seed}|{method}",
                                                 partial(run, task, seed, method)))
                    print(task, seed, method, rows[method][-1], file=sys.stderr, flush=True)
            out["tasks"][task] = {m: summary(v) for m, v in rows.items()}
    out["wall_s"] = round(time.perf_counter() - t_all, 1)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{args.out}.json").write_text(json.dumps(out, indent=2) + "\n")
    (RESULTS / f"{args.out}.md").write_text(markdown(out))
    kept.done()
    print(markdown(out))


def kept_rows(path: Path, tasks: list[str], methods: list[str], seeds: int, budget: int
              ) -> dict[str, dict[str, list[dict]]]:
    """The previous file's runs of the methods that this run does not run (``--methods``),
    per task and method; exits with one line if the file cannot provide them."""
    def fail(problem: str) -> NoReturn:
        sys.exit(f"error: {path} {problem}; fix: run every method (drop --methods)")

    if not path.exists():
        fail("does not exist")
    old = json.loads(path.read_text())
    if (old.get("budget"), old.get("seeds"), old.get("epochs")) != (budget, seeds, EPOCHS):
        fail(f"holds budget {old.get('budget')}, {old.get('seeds')} seeds, "
             f"{old.get('epochs')} epochs")
    out: dict[str, dict[str, list[dict]]] = {}
    for task in tasks:
        per = old.get("tasks", {}).get(task, {})
        missing = [m for m in METHODS if m not in methods and m not in per]
        if missing:
            fail(f"holds no run of {missing[0]} on {task}")
        out[task] = {m: per[m]["runs"] for m in METHODS if m not in methods}
    return out


def found_by(steps: list[RefinementStep], uid: str) -> dict:
    """Which evaluation paid for ``uid``, the kind of step that chose it (the surrogate's
    ``design``: its first design, a portfolio best across the sources; ``search``: its
    acquisition; the walk's ``start``, ``edit``, ...) and the surrogate's p(transfer) when
    it chose it (None for a first design and for the walk): the product's
    :func:`~mdesign.refinement.config.provenance`, as the benchmark's JSON keeps it."""
    found = provenance(steps, uid)
    if found is None:
        raise ValueError(f"{uid} is not among the run's {len(steps)} paid steps")
    return {"found_at": found.evaluation, "found_by": found.kind,
            "p_at_choice": found.transfer_probability}


def carried_by(run: dict) -> str:
    """What found a surrogate run's returned architecture, in the report's words."""
    if run["found_by"] == "design":
        return "first design"
    return found_label(Provenance(evaluation=run["found_at"], kind=run["found_by"],
                                  transfer_probability=run["p_at_choice"]))


def summary(runs: list[dict]) -> dict:
    def sd(xs: list[float]) -> float:
        return statistics.stdev(xs) if len(xs) > 1 else 0.0

    valid = [r["valid"] * 100 for r in runs]
    test = [r["test"] * 100 for r in runs]
    out = {"valid_mean": statistics.mean(valid), "valid_sd": sd(valid),
           "test_mean": statistics.mean(test), "test_sd": sd(test), "runs": runs}
    probs = [r["transfer_probability"] for r in runs if r.get("transfer_probability")
             is not None]
    if probs:
        out["transfer_probability_mean"] = statistics.mean(probs)
    return out


def reran(o: dict) -> str:
    """What the header says when only some methods ran (``--methods``)."""
    ran = o.get("ran", list(METHODS))
    if set(ran) >= set(METHODS):
        return ""
    return (f" for {', '.join(ran)} (the other methods' runs read from earlier runs "
            "of this file)")


def markdown(o: dict) -> str:
    m = o["machine"]
    lines = ["# Refinement with real training", "",
             f"Machine: {m['cpu']}, {m['cores']} cores; 1 torch thread; {o['epochs']} "
             f"epochs, 1 training seed per architecture; budget {o['budget']}; "
             f"{o['seeds']} seeds (mean ± sd); wall time {o['wall_s']} s{reran(o)}. "
             "Scores in %: the "
             "returned architecture's validation / test. p(transfer): the surrogate's last "
             "posterior probability that the sources (the 9 NAS-Bench-Graph node tasks) "
             "predict the target: near 1, transfer carried the run; near 0, the "
             "target-only model (the safety net) did.", "",
             "- mdesign = the defaults of `mdesign refine` (the walk); mdesign-surrogate = "
             "`--strategy surrogate`; mdesign-surrogate-notransfer = the same with "
             "`--no-transfer` (knowledge-free BO: the floor the safety net falls back to).",
             "- MUTAG's validation split has 19 graphs: one graph is 5.26 points; "
             "bench-sbm-hard's and bench-sbm-hetero's have 200 nodes (0.5 points each).", ""]
    for method in ("mdesign", "mdesign-surrogate"):
        if not all(method in per for per in o["tasks"].values()):
            continue
        ok = [task for task, per in o["tasks"].items()
              if all(at_least(per[method]["valid_mean"], per[b]["valid_mean"])
                     for b in ("random", "tpe") if b in per)]
        issue = [t for t in o["tasks"] if t in ISSUE_TASKS]  # target 6 names these two
        met = [t for t in ok if t in ISSUE_TASKS]
        extra = [t for t in o["tasks"] if t not in ISSUE_TASKS]
        parts = ([f"on MUTAG and SBM: **{len(met)}/{len(issue)}** "
                  f"({', '.join(met) or 'none'})"] if issue else [])
        parts += [f"on {t}: {'yes' if t in ok else 'no'}" for t in extra]
        lines.append(f"- Target 6, {method} not behind random search or TPE (mean valid over "
                     f"the seeds) {'; '.join(parts)}")
    lines.append("")
    for task, per in o["tasks"].items():
        # a task where most runs reach the same best cannot tell the methods apart
        top = max(r["valid"] for v in per.values() for r in v["runs"])
        at = {m: sum(abs(r["valid"] - top) < 1e-9 for r in v["runs"]) for m, v in per.items()}
        lines.append(f"- {task}: highest validation of any run {100 * top:.2f}; runs that "
                     "returned it: " + ", ".join(f"{m} {n}/{len(per[m]['runs'])}"
                                                  for m, n in at.items()))
    lines += ["", f"What found the returned architecture ({o['seeds']} runs each): for "
              "mdesign-surrogate, *first design*: its first evaluations (a portfolio, "
              "best across the sources); *transfer-led "
              f"search*: an acquisition step taken with p(transfer) >= {TRANSFER_LED}; "
              "*target-led search*: one taken below it (the target-only model held most "
              "of the posterior). For the other refinements, the kind of step (without "
              "transfer, the first design is a seeded random draw). *found at*: the "
              "evaluation that paid for it, per seed.", ""]
    for task, per in o["tasks"].items():
        for method, r in per.items():
            runs = r["runs"]
            if not all("found_at" in x for x in runs):
                continue  # written before this was recorded
            at = ", ".join(str(x["found_at"]) for x in runs)
            kinds = [carried_by(x) if method == "mdesign-surrogate" else
                     x.get("found_by") for x in runs]
            by = "; ".join(f"{k} {kinds.count(k)}" for k in dict.fromkeys(kinds) if k)
            lines.append(f"- {task}, {method}: found at {at}" + (f"; by {by}" if by else ""))
    lines += ["", "| task | method | valid | test | p(transfer) |", "|---|---|---|---|---|"]
    for task, per in o["tasks"].items():
        for method, r in per.items():
            p = r.get("transfer_probability_mean")
            lines.append(f"| {task} | {method} | {r['valid_mean']:.2f} ± {r['valid_sd']:.2f} "
                         f"| {r['test_mean']:.2f} ± {r['test_sd']:.2f} | "
                         f"{'' if p is None else f'{p:.2f}'} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()

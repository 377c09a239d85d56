"""mdesign's Optuna sampler on NAS-Bench-Graph, leave one dataset out.

    python benchmarks/optuna_sampler.py            # 9 datasets, budgets 5-100, 5 seeds
    python benchmarks/optuna_sampler.py --small    # 2 datasets, budgets 5-20, 2 seeds

For each dataset (the other 8 are the sources, the target's stored results the oracle)
and seed, three runs of 100 evaluations:

* ``refine``: :func:`~mdesign.refinement.refine.refine` (the default strategy, the walk);
* ``sampler``: an Optuna study whose objective reads the oracle, sampled by
  :class:`~mdesign.integrations.optuna.MdesignSampler` with the same configuration
  (nothing stored);
* ``tpe``: Optuna's TPE through the benchmark protocol's baseline (the same as in
  ``refine_nasbenchgraph``).

Reported per dataset and budget (5, 10, 20, 30, 50, 100): the mean validation of the
best paid by validation, whether the sampler's trials are the architectures ``refine``
paid for, in the same order, and the sampler's own time per trial (``sample_relative`` +
``after_trial``, outside the objective; Optuna's in-memory storage). Writes
``benchmarks/results/optuna_sampler{,_small}.{json,md}``. Needs the knowledge base of
``scripts/quickstart.sh``.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import time
from typing import Any

import optuna
from mdesign.benchmarks import baselines
from mdesign.benchmarks.protocol import task_context
from mdesign.benchmarks.report import RESULTS, machine
from mdesign.core.space import split_uid
from mdesign.integrations.optuna import MdesignSampler
from mdesign.kb.knowledge_base import KnowledgeBase
from mdesign.refinement.asktell import Refinement
from mdesign.refinement.evaluators import BenchmarkEvaluator
from mdesign.refinement.refine import RefineConfig

DATASETS = ["cora", "citeseer", "pubmed", "cs", "physics", "photo", "computers", "arxiv",
            "proteins"]
BUDGETS = [5, 10, 20, 30, 50, 100]


class _TimedSampler(MdesignSampler):
    """The sampler, timing its own part of every trial."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.times: dict[int, float] = {}

    def sample_relative(self, study: Any, trial: Any, search_space: Any) -> Any:
        t = time.perf_counter()
        try:
            return super().sample_relative(study, trial, search_space)
        finally:
            self.times[trial.number] = self.times.get(trial.number, 0.0) + \
                time.perf_counter() - t

    def after_trial(self, study: Any, trial: Any, state: Any, values: Any) -> None:
        t = time.perf_counter()
        try:
            super().after_trial(study, trial, state, values)
        finally:
            self.times[trial.number] = self.times.get(trial.number, 0.0) + \
                time.perf_counter() - t


def _best_at(paid: list[tuple[str, float]], budget: int) -> str:
    return max(paid[:budget], key=lambda p: (p[1], p[0]))[0]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--small", action="store_true")
    args = ap.parse_args()
    logging.getLogger("neo4j").setLevel(logging.ERROR)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    tasks = DATASETS[:2] if args.small else DATASETS
    budgets = [b for b in BUDGETS if b <= 20] if args.small else BUDGETS
    seeds = range(2 if args.small else 5)
    top = max(budgets)
    t_all = time.perf_counter()
    rows: list[dict[str, Any]] = []
    same, runs, overheads = 0, 0, []
    with KnowledgeBase.connect() as kb:
        for task in tasks:
            ctx = task_context(kb, task)
            space = kb.space(split_uid(ctx.uids[0])[0])
            valid = {u: e.valid if e.valid is not None else e.score
                     for u, e in ctx.table.items()}
            paid: dict[str, list[list[tuple[str, float]]]] = {"refine": [], "sampler": [],
                                                              "tpe": []}
            for seed in seeds:
                cfg = RefineConfig(task=task, budget=top, seed=seed, space=space.name)
                # as `mdesign refine` runs it: driven through ask/tell
                res = Refinement(kb, cfg, store=False, evaluator=BenchmarkEvaluator(
                    None, task, top, table=ctx.table)).drive()
                paid["refine"].append([(s.uid, s.score) for s in
                                       {s.uid: s for s in res.steps}.values()])
                sampler = _TimedSampler(kb, task, config=cfg.model_copy(
                    update={"budget": 10_000}), store=False)
                study = optuna.create_study(direction="maximize", sampler=sampler)

                def objective(trial: optuna.Trial, s: MdesignSampler = sampler,
                              sp: Any = space, table: Any = ctx.table) -> float:
                    arch = sp.canonical_form(sp.parse(s.suggest_architecture(trial)))
                    return table[sp.uid(arch)].score

                study.optimize(objective, n_trials=top)
                sampler.close()
                trials = [(t.user_attrs["mdesign_uid"], t.value) for t in study.trials]
                paid["sampler"].append(trials)
                overheads += [v * 1000 for v in sampler.times.values()]
                runs += 1
                same += [u for u, _ in trials] == [u for u, _ in paid["refine"][-1]]
                ev = BenchmarkEvaluator(None, task, top, table=ctx.table)
                baselines.tpe(space, ev, seed, restrict=ctx.restrict, uids=ctx.uids)
                paid["tpe"].append([(e.uid, e.score) for e in ev.evaluations()])
                print(task, seed, "same" if same == runs else "DIFFERENT", flush=True)
            for b in budgets:
                row: dict[str, Any] = {"task": task, "budget": b}
                for m, per_seed in paid.items():
                    vals = [valid[_best_at(p, b)] * 100 for p in per_seed]
                    row[m] = round(statistics.mean(vals), 3)
                    row[m + "_sd"] = round(statistics.stdev(vals), 3) if len(vals) > 1 else 0
                rows.append(row)
    overheads.sort()
    out = {"machine": machine(), "tasks": tasks, "budgets": budgets, "seeds": len(seeds),
           "rows": rows, "identical_sequences": f"{same}/{runs}",
           "sampler_ms_per_trial": {"median": round(statistics.median(overheads), 3),
                                    "p90": round(overheads[int(0.9 * len(overheads))], 3),
                                    "trials": len(overheads)},
           "wall_s": round(time.perf_counter() - t_all, 1)}
    by_budget = {}
    for b in budgets:
        at = [r for r in rows if r["budget"] == b]
        by_budget[b] = {"sampler_vs_refine_equal": sum(abs(r["sampler"] - r["refine"]) < 1e-9
                                                       for r in at),
                        "sampler_beats_tpe": sum(r["sampler"] >= r["tpe"] for r in at),
                        "of": len(at),
                        **{m: round(statistics.mean(r[m] for r in at), 3)
                           for m in ("refine", "sampler", "tpe")}}
    out["by_budget"] = by_budget
    name = "optuna_sampler_small" if args.small else "optuna_sampler"
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(out, indent=2) + "\n")
    (RESULTS / f"{name}.md").write_text(markdown(out))
    print(markdown(out))


def markdown(o: dict[str, Any]) -> str:
    m = o["machine"]
    lines = [
        "# mdesign's Optuna sampler on NAS-Bench-Graph (leave one dataset out)", "",
        f"Machine: {m.get('cpu', '?')}, {m.get('cores', '?')} cores. {len(o['tasks'])} "
        f"datasets x {o['seeds']} seeds; wall time {o['wall_s']} s. Validation % of the "
        "best paid by validation (mean over seeds). `refine`: the default strategy "
        "driven with the stored-results evaluator, as `mdesign refine` runs it; "
        "`sampler`: an Optuna study sampled by `MdesignSampler` (same config); "
        "`tpe`: Optuna's TPE (the refinement benchmark's baseline).", "",
        f"- sampler trials identical to refine's paid architectures, in order: "
        f"**{o['identical_sequences']}** runs",
        f"- sampler time per trial outside the objective: median "
        f"**{o['sampler_ms_per_trial']['median']} ms**, p90 "
        f"{o['sampler_ms_per_trial']['p90']} ms over {o['sampler_ms_per_trial']['trials']} "
        "trials", "",
        "| budget | refine | sampler | tpe | sampler = refine | sampler >= tpe |",
        "|---|---|---|---|---|---|"]
    for b, r in o["by_budget"].items():
        lines.append(f"| {b} | {r['refine']:.2f} | {r['sampler']:.2f} | {r['tpe']:.2f} | "
                     f"{r['sampler_vs_refine_equal']}/{r['of']} | "
                     f"{r['sampler_beats_tpe']}/{r['of']} |")
    lines += ["", "| task | budget | refine | sampler | tpe |", "|---|---|---|---|---|"]
    for r in o["rows"]:
        lines.append(f"| {r['task']} | {r['budget']} | {r['refine']:.2f} ± {r['refine_sd']:.2f} "
                     f"| {r['sampler']:.2f} ± {r['sampler_sd']:.2f} | {r['tpe']:.2f} ± "
                     f"{r['tpe_sd']:.2f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()

"""The refinement benchmark protocol of benchmarks.md, over any tasks of the knowledge base.

For each target task, every other task of its design space is a candidate source and the
target's stored results are the paid oracle (:class:`BenchmarkEvaluator`: leave one task
out). A method returns the best architecture **by selection score** (validation, or the
single metric of a one-metric table) among those it paid for; the report gives its test
score beside it, its top-x% rank by test in the target's space, whether it is the
search-space best by selection score, and the method's own wall time per step outside
evaluation.

Methods whose decisions do not depend on the budget (every ``mdesign`` variant, random
search as a shuffled prefix, TPE) run once at the largest budget and are read at each
smaller budget from the prefix of their paid evaluations: the best of the first ``b``
paid is, evaluation for evaluation, what the same run with budget ``b`` returns (tested).
Regularised evolution's population depends on the budget, so it runs per budget.
"""

from __future__ import annotations

import bisect
import json
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mdesign.core.evaluation import Evaluation
from mdesign.kb.knowledge_base import KnowledgeBase
from mdesign.refinement import baselines
from mdesign.refinement.evaluators import BenchmarkEvaluator, load_target_table
from mdesign.refinement.refine import PlannerCache, RefineConfig, refine

# name -> (RefineConfig overrides, stochastic?)
MDESIGN_VARIANTS: dict[str, tuple[dict[str, Any], bool]] = {
    "mdesign": ({}, False),
    "mdesign-reference": ({"expand": "current", "planner": "fallback"}, False),
    "mdesign-reference-nocal": ({"expand": "current", "planner": "fallback",
                                 "calibrate": False}, False),
    "mdesign-nocal": ({"calibrate": False}, False),
    "mdesign-noplanner": ({"planner": "off"}, False),
    "mdesign-planner-fallback": ({"planner": "fallback"}, False),
    "mdesign-expand-current": ({"expand": "current"}, False),
    "mdesign-lookahead2": ({"lookahead": 2}, False),
    "mdesign-lookahead2-gds": ({"lookahead": 2, "lookahead_engine": "gds"}, False),
    "mdesign-anchors": ({"similarity": "both"}, False),
    "mdesign-uncertainty": ({"uncertainty": True}, False),
    "mdesign-maxparams": ({"max_params": "median"}, False),
    # gains a source never measured come from a predictor trained without the target
    "mdesign-predictor": ({"predictor": "leave-one-out"}, False),
    # the start is seeded by a diffusion generator whose guide never saw the target
    "mdesign-generator": ({"generator": "leave-one-out"}, False),
    # ... and whenever 5 paid evaluations in a row found no new best, its next proposal
    "mdesign-generator-patience5": ({"generator": "leave-one-out",
                                     "generator_patience": 5}, False),
}
BASELINES = {"retrieval": False, "random": True, "regevo": True, "tpe": True}
METHODS = [*MDESIGN_VARIANTS, *BASELINES]
PLOT_METHODS = ["mdesign", "mdesign-reference", "mdesign-reference-nocal", "retrieval",
                "random", "regevo", "tpe"]
DEFAULT_METHODS = ["mdesign", "mdesign-reference-nocal", "retrieval", "random", "regevo", "tpe"]


@dataclass
class Trajectory:
    """What one run paid for, in order, and its overhead per step."""

    paid: list[Evaluation]
    overhead_ms: float | None = None
    limit: float | None = None  # max params the run had to respect

    def best_at(self, budget: int) -> Evaluation:
        ok = [e for e in self.paid[:budget]
              if self.limit is None or e.params is None or e.params <= self.limit]
        return max(ok or self.paid[:budget], key=lambda e: (e.score, e.uid))


@dataclass
class TaskContext:
    task: str
    table: dict[str, Evaluation]
    uids: list[str]
    tests: list[float] = field(default_factory=list)
    best_score: float = 0.0
    median_params: float | None = None
    split: str = "valid_test"
    restrict: dict[str, list[str]] | None = None


def _distinct(evals: Sequence[Evaluation]) -> list[Evaluation]:
    seen: dict[str, Evaluation] = {}
    for e in evals:
        seen.setdefault(e.uid, e)
    return list(seen.values())


def run_method(kb: KnowledgeBase, ctx: TaskContext, method: str, budget: int, seed: int,
               planners: PlannerCache) -> Trajectory:
    space_name = ctx.uids[0].split("/", 1)[0]
    space = kb.space(space_name)
    ev = BenchmarkEvaluator(None, ctx.task, budget, table=ctx.table)
    if method in MDESIGN_VARIANTS:
        overrides = dict(MDESIGN_VARIANTS[method][0])
        if overrides.get("max_params") == "median":
            overrides["max_params"] = ctx.median_params
        if overrides.get("predictor") == "leave-one-out":
            overrides["predictor"] = loo_predictor_name(ctx.task)
        if overrides.get("generator") == "leave-one-out":
            overrides["generator"] = loo_generator_name(ctx.task)
        cfg = RefineConfig(task=ctx.task, budget=budget, seed=seed, space=space_name,
                           **overrides)
        res = refine(kb, cfg, ev, planners=planners)
        paid = _distinct([Evaluation(uid=s.uid, score=s.score, valid=s.valid, test=s.test,
                                     params=s.params, latency=s.latency) for s in res.steps])
        return Trajectory(paid, res.overhead_ms_per_step, cfg.max_params)
    if method == "retrieval":
        src = kb.task(ctx.task)
        from mdesign.refinement.sources import choose_sources

        first = choose_sources(kb, src, space_name, 1)[0].task
        r = baselines.retrieval_only(kb, ev, first, space)
        return Trajectory([r.best])
    t = time.perf_counter()
    if method == "random":
        baselines.random_search(space, ev, seed, uids=ctx.uids)
    elif method == "regevo":
        baselines.regularized_evolution(space, ev, seed, uids=ctx.uids)
    elif method == "tpe":
        baselines.tpe(space, ev, seed, restrict=ctx.restrict, uids=ctx.uids)
    else:
        raise ValueError(f"unknown method {method!r}")
    overhead = (time.perf_counter() - t) * 1000 / max(1, ev.spent)
    return Trajectory(ev.evaluations(), overhead)  # what the baseline paid for, in order


def task_context(kb: KnowledgeBase, task: str) -> TaskContext:
    info = kb.task(task)
    table = load_target_table(kb, task)
    space = kb.space(kb.target_space(task))
    uids = space.uids(info.restrict, table.__contains__)
    params = sorted(table[u].params for u in uids if table[u].params is not None)
    return TaskContext(task=task, table=table, uids=uids,
                       tests=sorted(table[u].test if table[u].test is not None
                                    else table[u].score for u in uids),
                       best_score=max(table[u].score for u in uids),
                       median_params=params[len(params) // 2] if params else None,
                       split=info.split, restrict=info.restrict)


def top_share(tests: Sequence[float], test: float) -> float:
    """The share (%) of a space scoring at least ``test`` on test (``tests``: the space's
    test scores, sorted)."""
    return 100.0 * (len(tests) - bisect.bisect_left(tests, test)) / len(tests)


def describe(ctx: TaskContext, method: str, budget: int, runs: list[Evaluation],
             overheads: list[float], limit: float | None) -> dict[str, Any]:
    valid = [r.score for r in runs]
    test = [r.test if r.test is not None else r.score for r in runs]
    top = [top_share(ctx.tests, t) for t in test]
    params = [r.params for r in runs if r.params is not None]
    return {"task": ctx.task, "budget": budget, "method": method, "runs": len(runs),
            "split": ctx.split,
            "valid_mean": statistics.mean(valid) * 100,
            "valid_sd": statistics.stdev(valid) * 100 if len(runs) > 1 else 0.0,
            "test_mean": statistics.mean(test) * 100,
            "test_sd": statistics.stdev(test) * 100 if len(runs) > 1 else 0.0,
            "top_pct": statistics.mean(top),
            "hits": sum(v >= ctx.best_score for v in valid),
            "params_mean": statistics.mean(params) if params else None,
            "max_params": limit,
            "overhead_ms_per_step": statistics.median(overheads) if overheads else None}


def loo_predictor_name(task: str) -> str:
    return f"loo-{task}"


def ensure_loo_predictors(kb: KnowledgeBase, tasks: Sequence[str],
                          progress: Callable[[str], None] | None = None,
                          settings: dict[str, Any] | None = None) -> dict[str, str]:
    """For each target, a stored performance predictor trained on the other tasks of its
    space and never on the target (reused when one exists with exactly those tasks);
    ``settings`` override the :class:`PredictorConfig` defaults."""
    from mdesign.core.errors import InputError
    from mdesign.predictors import store
    from mdesign.predictors.predictor import PredictorConfig, train_predictor

    made = {}
    for task in tasks:
        space = kb.target_space(task)
        others = sorted(t.name for t in kb.tasks_in_space(space, exclude=task))
        name = loo_predictor_name(task)
        try:
            _, meta = store.load_meta(kb, name)
            if sorted(meta.tasks) == others and meta.spaces == [space]:
                made[task] = "reused"
                continue
        except InputError:
            pass
        t0 = time.perf_counter()
        train_predictor(kb, PredictorConfig(**{**(settings or {}), "name": name,
                                               "space": space, "tasks": others}))
        made[task] = f"trained in {time.perf_counter() - t0:.0f} s"
        if progress:
            progress(f"predictor {name}: {made[task]}")
    return made


def loo_generator_name(task: str) -> str:
    return f"loo-gen-{task}"


def ensure_loo_generators(kb: KnowledgeBase, tasks: Sequence[str],
                          progress: Callable[[str], None] | None = None,
                          settings: dict[str, Any] | None = None) -> dict[str, str]:
    """For each target, a stored architecture generator whose guide learned from the other
    tasks of its space and never from the target. One stored with exactly those tasks is
    reused (given ``settings``: only if it was trained with them). The score network sees
    architectures only, no results: it is trained once and shared."""
    from mdesign.core.errors import InputError
    from mdesign.generation.generator import GeneratorConfig, train_generator
    from mdesign.predictors import store

    made: dict[str, str] = {}
    shared: dict[str, Any] = {}  # space -> a trained score network
    for task in tasks:
        space = kb.target_space(task)
        others = sorted(t.name for t in kb.tasks_in_space(space, exclude=task))
        name = loo_generator_name(task)
        cfg = GeneratorConfig(**{**(settings or {}), "name": name, "space": space,
                                 "tasks": others})
        try:
            _, meta = store.load_meta(kb, name, expect="generator")
            same = sorted(meta.tasks) == others and meta.spaces == [space]
            if same and settings is not None:  # asked for these settings: exactly these
                n_archs = len(cfg.archs) if cfg.archs else len(kb.space(space).all_keys())
                same = (meta.metrics.get("settings") == cfg.model_dump(exclude={"archs"})
                        and meta.metrics.get("score_archs") == n_archs)
            if same:
                made[task] = "reused"
                continue
        except InputError:
            pass
        t0 = time.perf_counter()
        model, _ = train_generator(kb, cfg, score=shared.get(space))
        shared[space] = model.score
        made[task] = f"trained in {time.perf_counter() - t0:.0f} s"
        if progress:
            progress(f"generator {name}: {made[task]}")
    return made


def run_protocol(kb: KnowledgeBase, tasks: Sequence[str], budgets: Sequence[int],
                 methods: Sequence[str], seeds: int,
                 progress: Callable[[str], None] | None = None,
                 predictor_settings: dict[str, Any] | None = None,
                 generator_settings: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run every method on every task; rows of :func:`describe`, plus the curves.
    ``mdesign-predictor`` (``mdesign-generator``) first trains or reuses a leave-one-out
    predictor (generator) per task."""
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        from mdesign.core.errors import InputError

        raise InputError(f"unknown method(s) {', '.join(unknown)}",
                         f"choose from {', '.join(METHODS)}")
    budgets = sorted(budgets)
    top = budgets[-1]
    planners: PlannerCache = {}
    rows, curves, space_best = [], {}, {}
    t_all = time.perf_counter()
    predictors = (ensure_loo_predictors(kb, tasks, progress, predictor_settings)
                  if "mdesign-predictor" in methods else {})
    generators = (ensure_loo_generators(kb, tasks, progress, generator_settings)
                  if any(MDESIGN_VARIANTS.get(m, ({}, False))[0].get("generator")
                         for m in methods) else {})
    determinism: dict[str, bool] = {}
    for task in tasks:
        ctx = task_context(kb, task)
        space_best[task] = ctx.best_score * 100
        for method in methods:
            stochastic = MDESIGN_VARIANTS[method][1] if method in MDESIGN_VARIANTS \
                else BASELINES[method]
            n = seeds if stochastic else 1
            if method == "regevo":
                per_budget = {b: [run_method(kb, ctx, method, b, s, planners)
                                  for s in range(n)] for b in budgets}
            else:
                runs = [run_method(kb, ctx, method, top, s, planners) for s in range(n)]
                per_budget = {b: runs for b in budgets}
                if not stochastic and method.startswith("mdesign") and task == tasks[0]:
                    again = run_method(kb, ctx, method, top, 0, planners)
                    determinism[method] = [e.uid for e in again.paid] == \
                        [e.uid for e in runs[0].paid]
            for b in budgets:
                trajs = per_budget[b]
                rows.append(describe(ctx, method, b, [t.best_at(b) for t in trajs],
                                     [t.overhead_ms for t in trajs
                                      if t.overhead_ms is not None], trajs[0].limit))
            trajs = per_budget[top]
            curves[f"{task}|{method}"] = [
                statistics.mean(t.best_at(b).score for t in trajs) * 100
                for b in range(1, top + 1)]
        if progress:
            progress(f"{task} done ({time.perf_counter() - t_all:.0f} s)")
    return {"machine": machine(), "seeds": seeds, "budgets": list(budgets),
            "tasks": list(tasks), "methods": list(methods),
            "wall_s": round(time.perf_counter() - t_all, 1), "deterministic": determinism,
            "rows": rows, "curves": curves, "space_best": space_best,
            **({"predictors": predictors} if predictors else {}),
            **({"generators": generators} if generators else {}),
            "targets": targets(rows, list(tasks))}


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import os

    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version()}


def targets(rows: list[dict[str, Any]], tasks: list[str],
            reference: dict[str, float] | None = None) -> dict[str, str]:
    """The issue's targets, against regularised evolution run here and, when given,
    against a reference table (task -> regevo@100 validation %)."""
    get = {(r["task"], r["budget"], r["method"]): r for r in rows}
    out = {}
    if reference and all((t, 20, "mdesign") in get and t in reference for t in tasks):
        beat = [t for t in tasks if get[(t, 20, "mdesign")]["valid_mean"] >= reference[t]]
        out["mdesign@20 valid >= regevo@100 valid (reference table)"] = \
            f"{len(beat)}/{len(tasks)} ({', '.join(beat) or 'none'})"
    if all((t, 20, "mdesign") in get and (t, 100, "regevo") in get for t in tasks):
        beat = [t for t in tasks
                if get[(t, 20, "mdesign")]["valid_mean"] >= get[(t, 100, "regevo")]["valid_mean"]]
        out["mdesign@20 valid >= regevo@100 valid (measured here)"] = \
            f"{len(beat)}/{len(tasks)} ({', '.join(beat) or 'none'})"
    if all((t, 50, "mdesign") in get for t in tasks):
        hit = [t for t in tasks if get[(t, 50, "mdesign")]["hits"] > 0]
        out["mdesign@50 finds the search-space best"] = \
            f"{len(hit)}/{len(tasks)} ({', '.join(hit) or 'none'})"
    over = [r["overhead_ms_per_step"] for r in rows
            if r["method"] == "mdesign" and r["overhead_ms_per_step"] is not None]
    if over:
        out["mdesign overhead per step (median of run medians)"] = \
            f"{statistics.median(over):.1f} ms"
    return out


def markdown(o: dict[str, Any], title: str) -> str:
    m = o["machine"]
    single = sorted({r["task"] for r in o["rows"] if r["split"] == "single"})
    lines = [f"# {title}", "",
             f"Machine: {m['cpu']}, {m['cores']} cores. Stochastic methods: {o['seeds']} "
             "seeds (mean ± sd); deterministic methods: one run (determinism checked by a "
             f"second run: {o['deterministic'] or 'not checked'}). Wall time {o['wall_s']} s. "
             "Scores in %: validation (what a method selects on) / test; top% = share of "
             "the space at least as good on test; hits = runs that returned the search-space "
             "best by validation; overhead = the method's own wall time per step outside "
             "evaluation (median)."]
    if single:
        lines += ["", f"Single-metric tasks ({', '.join(single)}): the one metric is used for "
                      "both selection and report, so valid and test columns are the same."]
    if o.get("notes"):
        lines += ["", *[f"- {n}" for n in o["notes"]]]
    lines += ["", "## Targets", ""]
    lines += [f"- {k}: **{v}**" for k, v in o["targets"].items()]
    lines += ["", "| task | budget | method | valid | test | top% | hits | params | "
              "overhead ms/step |", "|---|---|---|---|---|---|---|---|---|"]
    for r in o["rows"]:
        sd_v = f" ± {r['valid_sd']:.2f}" if r["runs"] > 1 else ""
        sd_t = f" ± {r['test_sd']:.2f}" if r["runs"] > 1 else ""
        over = "" if r["overhead_ms_per_step"] is None else f"{r['overhead_ms_per_step']:.1f}"
        params = "" if r["params_mean"] is None else f"{r['params_mean']:.3g}"
        if r["max_params"] is not None:
            params += f" (≤ {r['max_params']:.3g})"
        lines.append(f"| {r['task']} | {r['budget']} | {r['method']} | "
                     f"{r['valid_mean']:.2f}{sd_v} | {r['test_mean']:.2f}{sd_t} "
                     f"| {r['top_pct']:.1f} | {r['hits']}/{r['runs']} | {params} | {over} |")
    return "\n".join(lines) + "\n"


def plot(o: dict[str, Any], path: Path) -> None:
    """One summary figure: mean best-so-far (selection score) against budget, per task."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = o["tasks"]
    # the main methods only (the ablations are in the table): a readable figure
    main = [m for m in o["methods"] if m in PLOT_METHODS] or o["methods"]
    colours = dict(zip(PLOT_METHODS, ["tab:blue", "tab:cyan", "tab:purple", "tab:gray",
                                      "tab:orange", "tab:green", "tab:red"], strict=True))
    cols = min(3, len(tasks))
    rows_n = (len(tasks) + cols - 1) // cols
    fig, axes = plt.subplots(rows_n, cols, figsize=(4.2 * cols, 3.2 * rows_n), squeeze=False)
    for ax, task in zip(axes.flat, tasks, strict=False):
        for method in main:
            curve = o["curves"].get(f"{task}|{method}")
            if curve:
                ax.plot(range(1, len(curve) + 1), curve, label=method,
                        color=colours.get(method), lw=2.2 if method == "mdesign" else 1.2)
        best = o.get("space_best", {}).get(task)
        if best is not None:
            ax.axhline(best, color="black", ls=":", lw=1, label="space best")
        ax.set_title(task)
        ax.set_xscale("log")
        ax.set_xlabel("budget (evaluations)")
        ax.set_ylabel("best selection score %")
        lo = [c[min(4, len(c) - 1)] for k, c in o["curves"].items()
              if k.startswith(task + "|") and k.split("|", 1)[1] in main]
        if lo:
            ax.set_ylim(bottom=min(lo) - 0.5)
    for ax in list(axes.flat)[len(tasks):]:
        ax.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(8, len(labels)), fontsize=8)
    fig.suptitle("mean best selection score so far against budget (ablations: see the table)",
                 fontsize=10)
    fig.tight_layout(rect=(0, 0.06, 1, 0.97))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write(o: dict[str, Any], out_dir: Path, name: str, title: str) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{name}.json", out_dir / f"{name}.md", out_dir / f"{name}.png"]
    paths[0].write_text(json.dumps(o, indent=1) + "\n")
    paths[1].write_text(markdown(o, title))
    plot(o, paths[2])
    return paths

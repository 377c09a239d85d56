"""The refinement benchmark's runner (docs/refinement.md, "Benchmark"), over any tasks of
the knowledge base.

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

With a ``checkpoint`` file every finished run is appended to it as it ends, so that an
interrupted benchmark (Ctrl-C, a crash, a lost server) loses at most the run in flight:
the same command reads the file back and runs only what is missing, provided the code
and the knowledge base are those it was written with (a fingerprint of both heads the
file; another fingerprint starts afresh, and says so). The file goes once the benchmark
is complete.

The methods are named in :mod:`~mdesign.benchmarks.methods`, the leave-one-out models
are trained by :mod:`~mdesign.benchmarks.loo`, the targets and files written by
:mod:`~mdesign.benchmarks.report`.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from mdesign.benchmarks import baselines
from mdesign.benchmarks.loo import (
    ensure_loo_generators,
    ensure_loo_predictors,
    loo_generator_name,
    loo_predictor_name,
)
from mdesign.benchmarks.methods import BASELINES, MDESIGN_VARIANTS, METHODS
from mdesign.benchmarks.report import RESULTS, machine, targets
from mdesign.core.errors import InputError
from mdesign.core.evaluation import Evaluation
from mdesign.core.space import split_uid
from mdesign.kb.knowledge_base import KnowledgeBase
from mdesign.refinement.asktell import Refinement
from mdesign.refinement.config import Provenance, provenances
from mdesign.refinement.evaluators import BenchmarkEvaluator, load_target_table
from mdesign.refinement.refine import PlannerCache, RefineConfig
from mdesign.refinement.transfer import SourceCache

# the sources' normal scores, read once per process (the knowledge base does not change
# during a benchmark)
SOURCE_CACHE: SourceCache = {}


@dataclass
class Trajectory:
    """What one run paid for, in order, and its overhead per step; for a refinement, also
    what chose each paid architecture (``how``, :func:`found_label`)."""

    paid: list[Evaluation]
    overhead_ms: float | None = None
    limit: float | None = None  # max params the run had to respect
    how: list[str] | None = None

    def best_at(self, budget: int) -> Evaluation:
        ok = [e for e in self.paid[:budget]
              if self.limit is None or e.params is None or e.params <= self.limit]
        return max(ok or self.paid[:budget], key=lambda e: (e.score, e.uid))

    def found_by_at(self, budget: int) -> str | None:
        """What chose the architecture returned at ``budget`` (None: not recorded)."""
        if self.how is None:
            return None
        best = self.best_at(budget).uid
        return next(h for e, h in zip(self.paid, self.how, strict=True) if e.uid == best)


def found_label(found: Provenance) -> str:
    """A paid architecture's provenance in a benchmark's words: the step kind, or for the
    surrogate's search steps ``transfer-led search`` / ``target-led search``."""
    return found.kind if found.led_by is None else f"{found.led_by}-led search"


@dataclass
class TaskContext:
    task: str
    table: dict[str, Evaluation]
    uids: list[str]
    tests: list[float] = field(default_factory=list)
    valids: list[float] = field(default_factory=list)  # selection scores, sorted
    best_score: float = 0.0
    median_params: float | None = None
    split: str = "valid_test"
    restrict: dict[str, list[str]] | None = None


def _encode_trajectory(t: Trajectory) -> dict[str, Any]:
    return {"paid": [e.model_dump() for e in t.paid], "overhead_ms": t.overhead_ms,
            "limit": t.limit, "how": t.how}


def _decode_trajectory(r: dict[str, Any]) -> Trajectory:
    return Trajectory([Evaluation.model_validate(e) for e in r["paid"]], r["overhead_ms"],
                      r["limit"], r.get("how"))


V = TypeVar("V")


class Checkpoint(Generic[V]):
    """The finished runs of one benchmark, one JSON line each after a header line with
    the fingerprint of the code and the knowledge base (the module's docstring). Without
    a path it keeps nothing. A run's value is written by ``encode`` and read back by
    ``decode`` (a :class:`Trajectory` unless told otherwise)."""

    def __init__(self, path: Path | None, fingerprint: str,
                 progress: Callable[[str], None] | None = None,
                 encode: Callable[[V], dict[str, Any]] | None = None,
                 decode: Callable[[dict[str, Any]], V] | None = None) -> None:
        self.path = path
        self.encode: Callable[[Any], dict[str, Any]] = encode or _encode_trajectory
        self.decode: Callable[[dict[str, Any]], Any] = decode or _decode_trajectory
        self.runs: dict[str, V] = {}
        if path is None:
            return
        header = {"fingerprint": fingerprint}
        if path.exists():
            lines = path.read_text().splitlines()
            try:
                same = bool(lines) and json.loads(lines[0]) == header
            except json.JSONDecodeError:
                same = False
            if same:
                for line in lines[1:]:
                    try:  # a line torn by the interruption is run again
                        r = json.loads(line)
                        self.runs[r["key"]] = self.decode(r)
                    except (json.JSONDecodeError, KeyError, ValueError, TypeError):
                        continue
                if progress:
                    progress(f"resuming: {len(self.runs)} finished runs read from {path}")
            elif progress:
                progress(f"{path} was written by other code or another knowledge base: "
                         "starting afresh")
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w") as f:
            f.write(json.dumps(header) + "\n")
            for key, value in self.runs.items():
                f.write(self._line(key, value))

    def _line(self, key: str, value: V) -> str:
        return json.dumps({"key": key, **self.encode(value)}) + "\n"

    def run(self, key: str, make: Callable[[], V]) -> V:
        """The run ``key``, read back or made now (and kept)."""
        if key in self.runs:
            return self.runs[key]
        value = self.runs[key] = make()
        if self.path is not None:
            with self.path.open("a") as f:
                f.write(self._line(key, value))
        return value

    def done(self) -> None:
        if self.path is not None:
            self.path.unlink(missing_ok=True)


def fingerprint(kb: KnowledgeBase) -> str:
    """What a checkpoint's runs depend on: the package's source files and the knowledge
    base's counts."""
    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if rel.parts[0] in {"tests", "scripts", "examples"} or "results" in rel.parts:
            continue
        h.update(str(rel).encode() + b"\0" + path.read_bytes())
    stats = kb.stats()
    h.update(json.dumps([stats.architectures, stats.tasks, stats.results, stats.edits,
                         stats.gains]).encode())
    return h.hexdigest()[:16]


def _distinct(evals: Sequence[Evaluation]) -> list[Evaluation]:
    seen: dict[str, Evaluation] = {}
    for e in evals:
        seen.setdefault(e.uid, e)
    return list(seen.values())


def nested_choice(task: str) -> dict[str, Any]:
    """The configuration that nested leave-one-dataset-out chose for ``task`` from the
    other datasets (``benchmarks/nested_protocol.py``)."""
    path = RESULTS / "nested_protocol.json"
    if not path.exists():
        raise InputError(f"{path} is missing", "run python benchmarks/nested_protocol.py")
    out = json.loads(path.read_text())
    chosen = out["chosen"].get(task)
    if chosen is None:
        raise InputError(f"the nested protocol chose nothing for {task!r}",
                         "run it with that task among its datasets")
    return dict(out["configs"][chosen["config"]])


def run_method(kb: KnowledgeBase, ctx: TaskContext, method: str, budget: int, seed: int,
               planners: PlannerCache) -> Trajectory:
    space_name = split_uid(ctx.uids[0])[0]
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
        if overrides.pop("nested", False):
            overrides = nested_choice(ctx.task)
        cfg = RefineConfig(task=ctx.task, budget=budget, seed=seed, space=space_name,
                           **overrides)
        # through ask/tell, as `mdesign refine` runs (the same loop as refine())
        res = Refinement(kb, cfg, evaluator=ev, store=False, planners=planners,
                         loop_options={"source_cache": SOURCE_CACHE}).drive()
        paid = _distinct([s.evaluation() for s in res.steps])
        found = provenances(res.steps)
        how = [found_label(found[e.uid]) for e in paid]
        return Trajectory(paid, res.overhead_ms_per_step, cfg.max_params, how)
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
    elif method == "tpe-warm":
        warm = baselines.sources_best(kb, ctx.task, space, set(ctx.uids))
        baselines.tpe(space, ev, seed, restrict=ctx.restrict, uids=ctx.uids, warm=warm)
    elif method == "consensus":
        baselines.consensus(kb, ev, ctx.task, space, ctx.uids)
    else:
        raise ValueError(f"unknown method {method!r}")
    overhead = (time.perf_counter() - t) * 1000 / max(1, ev.spent)
    return Trajectory(ev.evaluations(), overhead)  # what the baseline paid for, in order


def task_context(kb: KnowledgeBase, task: str, select: str = "valid") -> TaskContext:
    """The target's oracle; ``select="test"``: the oracle reveals test scores, which the
    methods then select on (the protocol of the published LLM- and knowledge-guided
    designers)."""
    info = kb.task(task)
    table = load_target_table(kb, task)
    if select == "test":
        table = {u: e.model_copy(update={"score": e.test if e.test is not None else e.score,
                                         "valid": e.test})
                 for u, e in table.items()}
    space = kb.space(kb.target_space(task))
    uids = space.uids(info.restrict, table.__contains__)
    params = sorted(table[u].params for u in uids if table[u].params is not None)
    return TaskContext(task=task, table=table, uids=uids,
                       tests=sorted(table[u].test if table[u].test is not None
                                    else table[u].score for u in uids),
                       valids=sorted(table[u].score for u in uids),
                       best_score=max(table[u].score for u in uids),
                       median_params=params[len(params) // 2] if params else None,
                       split=info.split, restrict=info.restrict)


def top_share(tests: Sequence[float], test: float) -> float:
    """The share (%) of a space scoring at least ``test`` on test (``tests``: the space's
    test scores, sorted)."""
    return 100.0 * (len(tests) - bisect.bisect_left(tests, test)) / len(tests)


def evaluations_to_top(ctx: TaskContext, traj: Trajectory, share: float = 1.0
                       ) -> int | None:
    """Paid evaluations until one in the top ``share`` % of the space by selection score
    (None: never, within the run)."""
    threshold = ctx.valids[len(ctx.valids) - max(1, int(len(ctx.valids) * share / 100))]
    for i, e in enumerate(traj.paid, start=1):
        if e.score >= threshold:
            return i
    return None


def describe(ctx: TaskContext, method: str, budget: int, runs: list[Evaluation],
             overheads: list[float], limit: float | None,
             to_top1: list[int | None] | None = None,
             found_by: list[str | None] | None = None) -> dict[str, Any]:
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
            "top_pct_valid": statistics.mean(top_share(ctx.valids, v) for v in valid),
            "regret_valid": (ctx.best_score - statistics.mean(valid)) * 100,
            # median over runs; a run that never paid for one counts as budget + 1
            "evals_to_top1": (statistics.median(budget + 1 if n is None or n > budget
                                                else n for n in to_top1)
                              if to_top1 else None),
            "hits": sum(v >= ctx.best_score for v in valid),
            "params_mean": statistics.mean(params) if params else None,
            "max_params": limit,
            "overhead_ms_per_step": statistics.median(overheads) if overheads else None,
            # what chose the returned architecture, runs per kind (refinements only)
            **({"found_by": {h: found_by.count(h) for h in sorted(set(found_by))}}
               if found_by and None not in found_by else {})}


def run_protocol(kb: KnowledgeBase, tasks: Sequence[str], budgets: Sequence[int],
                 methods: Sequence[str], seeds: int,
                 progress: Callable[[str], None] | None = None,
                 predictor_settings: dict[str, Any] | None = None,
                 generator_settings: dict[str, Any] | None = None,
                 select: str = "valid", checkpoint: Path | None = None) -> dict[str, Any]:
    """Run every method on every task; rows of :func:`describe`, plus the curves.
    ``select``: what the oracle reveals and the methods select on (:func:`task_context`);
    ``checkpoint``: a file that keeps the finished runs (:class:`Checkpoint`).
    ``mdesign-predictor`` (``mdesign-generator``) first trains or reuses a leave-one-out
    predictor (generator) per task."""
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
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
    kept = Checkpoint(checkpoint, fingerprint(kb) if checkpoint else "", progress)

    def run(task: str, ctx: TaskContext, method: str, budget: int, seed: int) -> Trajectory:
        return kept.run(f"{select}|{task}|{method}|{budget}|{seed}",
                        lambda: run_method(kb, ctx, method, budget, seed, planners))

    for task in tasks:
        ctx = task_context(kb, task, select)
        space_best[task] = ctx.best_score * 100
        for method in methods:
            stochastic = MDESIGN_VARIANTS[method][1] if method in MDESIGN_VARIANTS \
                else BASELINES[method]
            n = seeds if stochastic else 1
            if method == "regevo":
                per_budget = {b: [run(task, ctx, method, b, s) for s in range(n)]
                              for b in budgets}
            else:
                runs = [run(task, ctx, method, top, s) for s in range(n)]
                per_budget = {b: runs for b in budgets}
                if not stochastic and method.startswith("mdesign") and task == tasks[0]:
                    again = run_method(kb, ctx, method, top, 0, planners)
                    determinism[method] = [e.uid for e in again.paid] == \
                        [e.uid for e in runs[0].paid]
            for b in budgets:
                trajs = per_budget[b]
                rows.append(describe(ctx, method, b, [t.best_at(b) for t in trajs],
                                     [t.overhead_ms for t in trajs
                                      if t.overhead_ms is not None], trajs[0].limit,
                                     [evaluations_to_top(ctx, t) for t in trajs],
                                     [t.found_by_at(b) for t in trajs]))
            trajs = per_budget[top]
            curves[f"{task}|{method}"] = [
                statistics.mean(t.best_at(b).score for t in trajs) * 100
                for b in range(1, top + 1)]
        if progress:
            progress(f"{task} done ({time.perf_counter() - t_all:.0f} s)")
    kept.done()
    return {"machine": machine(), "seeds": seeds, "budgets": list(budgets),
            "tasks": list(tasks), "methods": list(methods), "select": select,
            "wall_s": round(time.perf_counter() - t_all, 1), "deterministic": determinism,
            "rows": rows, "curves": curves, "space_best": space_best,
            **({"predictors": predictors} if predictors else {}),
            **({"generators": generators} if generators else {}),
            "targets": targets(rows, list(tasks))}

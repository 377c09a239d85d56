"""Nested leave-one-dataset-out on NAS-Bench-Graph: the development protocol that chooses
a refinement configuration for a dataset from the other datasets only
(docs/refinement.md, "Development protocol").

    python benchmarks/nested_protocol.py            # 9 outer datasets, 7 configurations
    python benchmarks/nested_protocol.py --jobs 2

For an outer dataset T, every other dataset U is an inner target whose sources are the
remaining 7 (T is removed from the evidence, so nothing of T is read). Each
configuration of ``CONFIGS`` runs once per inner pair (U, T) at budget 100; its
criterion is the mean over the inner targets and budgets 5/10/20/30/50/100 of log10 of
the share (%) of U's space at least as good by validation as the returned architecture.
The configuration chosen for T is the one with the lowest criterion over its 8 inner
targets; the configuration for other model bases is the one with the lowest criterion
over all 72 inner pairs. This script reads no result of T when choosing for T; it does
not run the outer (reported) benchmark: ``benchmarks/refine_nasbenchgraph.py`` with
the method ``mdesign-nested`` does that (docs/refinement.md gives the command). Runs
in memory (no server): the tables come from the ``nas-bench-graph`` package and the
meta-features from the importer's CSV, as ``mdesign kb import`` stores them. Writes
``benchmarks/results/nested_protocol.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from importlib import resources
from typing import Any

import numpy as np
from mdesign.benchmarks.report import RESULTS, machine, machine_text, save
from mdesign.core.evaluation import Evaluation
from mdesign.core.space import DesignSpace
from mdesign.kb.importers.nas_bench_graph import DATASETS, read_results, task_spec
from mdesign.kb.importers.task_features import read_task_features
from mdesign.refinement.evaluators import BenchmarkEvaluator
from mdesign.refinement.memory import InMemoryEvidence, StoredResult, TaskTable
from mdesign.refinement.refine import RefineConfig, refine

BUDGETS = (5, 10, 20, 30, 50, 100)


def _surrogate(acquisition: str, **over: Any) -> dict[str, Any]:
    return {"strategy": "surrogate", "acquisition": acquisition, **over}


# the first six fixed before the first run of this protocol (round 1, kept as
# nested_protocol_round1.{json,md}); round 2 added the combination of round 1's two best
# over all pairs (UCB, the kernel from the sources); round 4 (2026-12-04) added the main
# effects kernel with either acquisition; round 5 (2026-12-04) the portfolio size, trust
# region and prior odds around UCB; round 6 (2026-12-04) UCB's kappa, 1 and 3 around the
# default 2; round 7 (2026-12-05) the paid anchors as the sources' prior weights
# (--similarity anchors, and both: with the meta-features); round 8 (2026-12-06) the
# acquisition on the more probable model alone (--transfer-model select); round 9
# (2026-12-06) the consensus slope's prior variance from the sources' spread of agreement
# (--slope-prior sources); round 10 (2026-12-06) each model's kernel hyperparameters
# averaged over the grid by their posterior instead of the maximum-likelihood point
# (--hyperparameters average); round 11 (2026-12-07) the ranking-weighted ensemble of
# the sources and the target-only model (--transfer-model rgpe, RGPE) with UCB and with
# EI; round 12 (2026-12-07) the walk with the pair feature similarity
# (--feature-similarity pair, which adding a task to the space cannot change); round 13
# (2026-12-07) the walk with the Canberra similarity (every feature weighs alike); round
# 14 (2026-12-07) the target-only model with the ranking-weighted sources as its prior
# mean (--transfer-model ranked) with UCB and with EI; round 15 (2026-12-07) the model
# "sources transfer" with the ranking-weighted sources as its prior mean (--prior-mean
# ranked) with UCB; round 16 (2026-12-07) both prior means, each model averaged by its
# marginal likelihood (--prior-mean both) with UCB; round 17 (2026-12-07) UCB whose kappa
# grows as sqrt(ln(1 + n)) with the n paid results (--ucb-schedule log); round 19
# (2026-12-07) the walk's sources by agreement with meta-features present (--similarity
# agreement; the walk's configurations name their similarity since); round 20
# (2026-12-07) each source's normal scores capped at +-2 and rescaled to unit variance
# (--source-scores winsorised) with UCB; round 21 (2026-12-07) those capped scores for
# the consensus and the first design, the normal ones for each source's own term
# (--source-scores split) with UCB; round 22 (2026-12-07) the capped scores until 20 paid
# results, the normal ones after (--source-scores switch) with UCB. The walk is a
# candidate too.
CONFIGS: dict[str, dict[str, Any]] = {
    "surrogate, EI (the first default)": {"strategy": "surrogate", "acquisition": "ei",
                                          "kernel": "hamming"},
    "surrogate, EI, kernel from the sources": {"strategy": "surrogate", "acquisition": "ei",
                                               "kernel": "sources"},
    "surrogate, UCB": {"strategy": "surrogate", "acquisition": "ucb", "kernel": "hamming"},
    "surrogate, EI, trust radius 1": {"strategy": "surrogate", "acquisition": "ei",
                                      "kernel": "hamming", "trust_radius": 1},
    "surrogate without transfer (EI)": {"strategy": "surrogate", "acquisition": "ei",
                                        "transfer": False},
    "surrogate, UCB, kernel from the sources": {"strategy": "surrogate", "acquisition": "ucb",
                                                "kernel": "sources"},
    "walk, feature similarity": {"strategy": "walk", "similarity": "features"},
    "surrogate, UCB, additive kernel": _surrogate("ucb", kernel="additive"),
    "surrogate, EI, additive kernel": _surrogate("ei", kernel="additive"),
    "surrogate, UCB, trust radius 1": _surrogate("ucb", trust_radius=1),
    "surrogate, UCB, portfolio 1": _surrogate("ucb", portfolio=1),
    "surrogate, UCB, portfolio 4": _surrogate("ucb", portfolio=4),
    "surrogate, UCB, agreement odds": _surrogate("ucb", transfer_odds="agreement"),
    "surrogate, UCB, kappa 1": _surrogate("ucb", ucb_kappa=1.0),
    "surrogate, UCB, kappa 3": _surrogate("ucb", ucb_kappa=3.0),
    "surrogate, UCB, anchors": _surrogate("ucb", similarity="anchors"),
    "surrogate, UCB, anchors and features": _surrogate("ucb", similarity="both"),
    "surrogate, UCB, selected model": _surrogate("ucb", transfer_model="select"),
    "surrogate, UCB, slope prior from the sources": _surrogate("ucb", slope_prior="sources"),
    "surrogate, UCB, averaged hyperparameters": _surrogate("ucb", hyperparameters="average"),
    "surrogate, UCB, ranking-weighted ensemble": _surrogate("ucb", transfer_model="rgpe"),
    "surrogate, EI, ranking-weighted ensemble": _surrogate("ei", transfer_model="rgpe"),
    "surrogate, UCB, ranking-weighted prior mean": _surrogate("ucb", transfer_model="ranked"),
    "surrogate, EI, ranking-weighted prior mean": _surrogate("ei", transfer_model="ranked"),
    "surrogate, UCB, ranked prior mean of M1": _surrogate("ucb", prior_mean="ranked"),
    "surrogate, UCB, both prior means of M1": _surrogate("ucb", prior_mean="both"),
    "surrogate, UCB, kappa growing with the paid": _surrogate("ucb", ucb_schedule="log"),
    "surrogate, UCB, winsorised source scores": _surrogate("ucb",
                                                           source_scores="winsorised"),
    "surrogate, UCB, split source scores": _surrogate("ucb", source_scores="split"),
    "surrogate, UCB, capped scores for the first 20 paid": _surrogate(
        "ucb", source_scores="switch"),
    "walk, pair feature similarity": {"strategy": "walk", "similarity": "features",
                                      "feature_similarity": "pair"},
    "walk, Canberra feature similarity": {"strategy": "walk", "similarity": "features",
                                          "feature_similarity": "canberra"},
    "walk, sources by agreement": {"strategy": "walk", "similarity": "agreement"},
}

# round 18 (2026-12-07), run with --no-features (every meta-feature removed): the walk's
# sources when the target shares no meta-feature with any candidate
# (--featureless-sources), and the surrogate's default for reference
NOFEATURE_CONFIGS: dict[str, dict[str, Any]] = {
    "walk, sources by name": {"strategy": "walk", "similarity": "features",
                              "featureless_sources": "names"},
    "walk, sources by agreement": {"strategy": "walk", "similarity": "features",
                                   "featureless_sources": "agreement"},
    "walk, every source": {"strategy": "walk", "similarity": "features",
                           "featureless_sources": "all"},
    "surrogate, UCB": {"strategy": "surrogate", "acquisition": "ucb", "kernel": "hamming"},
}


# baselines run beside the configurations on the same inner pairs, as a yardstick; never
# a candidate (no choice reads them). consensus: pay in the order of the inner sources'
# mean standardised score (the reported benchmark's trivial transfer floor), added
# 2026-12-07 to see on the development protocol where it is ahead of the defaults
REFERENCES: dict[str, str] = {"consensus (baseline, not a candidate)": "consensus"}


def load_tables(features: bool = True) -> dict[str, TaskTable]:
    space = DesignSpace.builtin("nas-bench-graph")
    path = resources.files("mdesign.kb.importers").joinpath("nas_bench_graph_features.csv")
    with resources.as_file(path) as p:
        meta = read_task_features(p)
    tables: dict[str, TaskTable] = {}
    for d in DATASETS:
        spec = task_spec(d)
        tables[d] = TaskTable(kind=spec.kind, metric=spec.metric, restrict=spec.restrict,
                              features=meta.get(d, {}) if features else {})
    for row in read_results(space, DATASETS):
        tables[row.task].results[row.key] = StoredResult(
            score=row.score, valid=row.valid, test=row.test, params=row.params,
            latency=row.latency, source=row.source)
    return tables


def _inner(outer: str, names: list[str], features: bool = True
           ) -> dict[str, dict[str, list[float]]]:
    """The configurations ``names`` on every inner target of ``outer``: log10 share per
    budget; ``features=False``: without any meta-feature (:data:`NOFEATURE_CONFIGS`)."""
    import torch

    torch.set_num_threads(1)
    configs = CONFIGS if features else NOFEATURE_CONFIGS
    tables = load_tables(features)
    space = DesignSpace.builtin("nas-bench-graph")
    ev = InMemoryEvidence(space, {k: v for k, v in tables.items() if k != outer})
    cache: dict = {}
    out: dict[str, dict[str, list[float]]] = {}
    for name in names:
        over = configs[name]
        per: dict[str, list[float]] = {}
        for target in (d for d in DATASETS if d != outer):
            table = ev.oracle(target)
            res = refine(ev, RefineConfig(task=target, budget=max(BUDGETS), **over),
                         BenchmarkEvaluator(None, target, max(BUDGETS), table=table),
                         source_cache=cache)
            per[target] = _log_shares(table, [st.valid for st in res.steps])
        out[name] = per
        print(f"{outer}: {name} done", file=sys.stderr, flush=True)
    if features:
        for name, baseline in REFERENCES.items():
            out[name] = {target: _baseline_shares(ev, space, target, baseline)
                         for target in DATASETS if target != outer}
    return out


def _baseline_shares(ev: InMemoryEvidence, space: DesignSpace, target: str,
                     baseline: str) -> list[float]:
    """log10 share per budget of a :data:`REFERENCES` baseline on one inner target."""
    from mdesign.benchmarks import baselines

    table = ev.oracle(target)
    run = getattr(baselines, baseline)(ev, BenchmarkEvaluator(None, target, max(BUDGETS),
                                                              table=table),
                                       target, space, sorted(table))
    return _log_shares(table, [table[u].valid for u in run.paid])


def _log_shares(table: dict[str, Evaluation], paid: list[float | None]) -> list[float]:
    """Per budget, log10 of the share (%) of ``table`` at least as good by validation as
    the best of the first ``b`` ``paid`` validations (None: a failed result)."""
    vals = np.array([e.valid for e in table.values()])
    best = [-math.inf if v is None else v for v in paid]
    return [math.log10(float((vals >= max(best[:b])).mean()) * 100) for b in BUDGETS]


def _by_budget(runs: dict[str, dict[str, dict[str, list[float]]]], name: str
               ) -> list[float]:
    """``name``'s log10 share per budget, averaged over every outer dataset's inner
    targets (``runs``: outer -> name -> inner target -> per budget)."""
    return [statistics.mean(o[name][t][i] for o in runs.values() for t in o[name])
            for i in range(len(BUDGETS))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--only", action="append", default=[], help="a configuration to run "
                    "(repeatable); "
                    "the others are read from the stored nested_protocol.json (the runs "
                    "are deterministic: every earlier round reproduced its rows exactly)")
    ap.add_argument("--no-features", action="store_true", help="remove every "
                    "meta-feature and run the configurations of a model base without them "
                    "(round 18; files nested_protocol_nofeatures.*)")
    args = ap.parse_args()
    configs = NOFEATURE_CONFIGS if args.no_features else CONFIGS
    stem = "nested_protocol_nofeatures" if args.no_features else "nested_protocol"
    names = args.only or list(configs)
    unknown = [n for n in names if n not in configs]
    if unknown:
        sys.exit(f"error: unknown configuration {unknown[0]!r}; fix: one of {list(configs)}")
    stored: dict[str, Any] = {}
    if len(names) < len(configs):
        path = RESULTS / f"{stem}.json"
        stored = json.loads(path.read_text()) if path.exists() else {}
        missing = [c for c in configs if c not in names
                   and stored.get("configs", {}).get(c) != configs[c]]
        if missing:
            sys.exit(f"error: {path} holds no run of {missing[0]!r}; fix: add it to --only")
    t0 = time.perf_counter()
    with ProcessPoolExecutor(args.jobs) as pool:
        runs = pool.map(_inner, DATASETS, [names] * len(DATASETS),
                        [not args.no_features] * len(DATASETS))
        inner = dict(zip(DATASETS, runs, strict=True))
    references = {outer: {r: per[r] for r in REFERENCES if r in per}
                  for outer, per in inner.items()}
    inner = {outer: {c: per[c] if c in per else stored["inner"][outer][c] for c in configs}
             for outer, per in inner.items()}
    chosen = {}
    for outer, per in inner.items():
        crit = {c: statistics.mean(v for t in per[c].values() for v in t) for c in configs}
        # min keeps the first of equal criteria: CONFIGS' order breaks ties
        chosen[outer] = {"config": min(crit, key=crit.__getitem__), "criterion": crit}
    overall = {c: statistics.mean(v for o in inner.values() for t in o[c].values()
                                  for v in t) for c in configs}
    by_budget = {c: _by_budget(inner, c) for c in configs}
    out = {"machine": machine(), "wall_s": round(time.perf_counter() - t0, 1),
           "ran": names,
           "budgets": BUDGETS, "configs": configs, "inner": inner, "chosen": chosen,
           "overall": overall, "overall_by_budget": by_budget,
           "overall_choice": min(overall, key=overall.__getitem__),
           "references": references}
    ran = "" if len(names) == len(configs) else \
        f" for {len(names)} of the {len(configs)} configurations (the others read from " \
        "earlier runs of this file)"
    names = list(configs)
    title = " without meta-features" if args.no_features else ""
    lines = [f"# Nested leave-one-dataset-out on NAS-Bench-Graph{title} (development "
             "protocol)", "",
             f"{machine_text(out['machine'])}; wall time {out['wall_s']} s{ran}; "
             f"{args.jobs} process(es). One run per configuration and "
             "inner pair (the surrogate with EI is deterministic). Criterion: mean log10 of "
             "the share (%) of the inner target's space at least as good by validation, "
             f"over budgets {', '.join(map(str, BUDGETS))} (lower is better).", "",
             "## Per outer dataset (criterion over its 8 inner targets)", "",
             "| outer | " + " | ".join(names) + " | chosen |",
             "|---|" + "---|" * (len(names) + 1)]
    for outer, ch in chosen.items():
        lines.append(f"| {outer} | " + " | ".join(f"{ch['criterion'][c]:.3f}" for c in names)
                     + f" | {ch['config']} |")
    lines += ["", "## All 72 inner pairs", "",
              "| configuration | " + " | ".join(f"@{b}" for b in BUDGETS) + " | criterion |",
              "|---|" + "---|" * (len(BUDGETS) + 1)]
    for c in names:
        lines.append(f"| {c} | " + " | ".join(f"{v:.3f}" for v in by_budget[c])
                     + f" | {overall[c]:.3f} |")
    for r in REFERENCES:
        if all(r in per for per in references.values()):
            ref = _by_budget(references, r)
            lines.append(f"| *{r}* | " + " | ".join(f"{v:.3f}" for v in ref)
                         + f" | {statistics.mean(ref):.3f} |")
    lines += ["", f"Choice for other model bases: **{out['overall_choice']}**."]
    save(stem, out, lines)
    print("\n".join(lines))


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()

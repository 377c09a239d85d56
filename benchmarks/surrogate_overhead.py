"""How the surrogate's overhead per step grows with the number of paid results.

    python benchmarks/surrogate_overhead.py

On the full NAS-Bench-Graph knowledge base (`scripts/quickstart.sh`): one surrogate run at
budget 100 per target (cora, arxiv) and configuration (the defaults, ``--kernel
sources``, ``--kernel additive``, ``--hyperparameters average``, ``--transfer-model
rgpe``; the benchmark oracle,
so evaluation costs nothing), each step's wall time outside evaluation (every refit
included) read from its record.
The set-up (one read per source, normal scores, the candidates' codes) is reported apart.
Writes ``benchmarks/results/surrogate_overhead.{json,md}``.
"""

from __future__ import annotations

import logging
import os
import statistics
import time

from mdesign.benchmarks.report import machine, machine_text, save

TARGETS = ("cora", "arxiv")
# the defaults, the kernel options whose grids are larger (sources: M1's twice;
# additive: both models' twice), and the averaged hyperparameters (up to 4 grid points per
# model, each a prediction over the candidates), and the ranking-weighted ensemble (M0's
# grid only, plus 100 bootstrap draws of the paid results' pairs) and the ranking-weighted
# prior mean (M0's grid twice: once for the weights, once on the residuals), and M1 with
# the ranked prior mean (the defaults plus the ranking weights)
CONFIGS = {"defaults": {}, "--kernel sources": {"kernel": "sources"},
           "--kernel additive": {"kernel": "additive"},
           "--hyperparameters average": {"hyperparameters": "average"},
           "--transfer-model rgpe": {"transfer_model": "rgpe"},
           "--transfer-model ranked": {"transfer_model": "ranked"},
           "--prior-mean ranked": {"prior_mean": "ranked"},
           "--prior-mean both": {"prior_mean": "both"}}
BUDGET = 100
BINS = ((1, 10), (11, 25), (26, 50), (51, 75), (76, 100))


def main() -> None:
    logging.getLogger("neo4j").setLevel(logging.CRITICAL)
    import torch

    torch.set_num_threads(1)
    from mdesign.kb import KnowledgeBase
    from mdesign.refinement.evaluators import BenchmarkEvaluator
    from mdesign.refinement.refine import RefineConfig, refine

    out = {"machine": machine(), "budget": BUDGET, "targets": {}}
    with KnowledgeBase.connect() as kb:
        for name, over in CONFIGS.items():
            for task in TARGETS:
                ev = BenchmarkEvaluator(kb, task, BUDGET)
                t = time.perf_counter()
                res = refine(kb, RefineConfig(task=task, budget=BUDGET, strategy="surrogate",
                                              **over), ev)
                wall = time.perf_counter() - t
                steps = [(i + 1, s.overhead_ms) for i, s in enumerate(res.steps)
                         if s.overhead_ms is not None]
                per_bin = {f"{lo}-{hi}": statistics.median(ms for n, ms in steps
                                                           if lo <= n <= hi)
                           for lo, hi in BINS if any(lo <= n <= hi for n, _ in steps)}
                total = sum(ms for _, ms in steps) / 1000
                out["targets"][f"{task}, {name}"] = {
                    "median_ms": res.overhead_ms_per_step, "by_paid": per_bin,
                    "wall_s": round(wall, 2), "setup_s": round(wall - total, 2)}
    lines = ["# Surrogate overhead per step against paid results", "",
             f"{machine_text(out['machine'])}; 1 run per target at budget "
             f"{BUDGET} over the 26,206 candidates of NAS-Bench-Graph. Median ms per step "
             "outside evaluation, by the number of results paid when the step ran; set-up "
             "= the run's wall time minus its steps (source reads, normal scores, codes).",
             "", "| target, configuration | " +
             " | ".join(next(iter(out["targets"].values()))["by_paid"]) +
             " | median | set-up s |", "|---|" + "---|" * (len(BINS) + 2)]
    for task, r in out["targets"].items():
        lines.append(f"| {task} | " + " | ".join(f"{v:.1f}" for v in r["by_paid"].values())
                     + f" | {r['median_ms']:.1f} | {r['setup_s']:.1f} |")
    save("surrogate_overhead", out, lines)
    print("\n".join(lines))


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()

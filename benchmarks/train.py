"""Real training: throughput, parallel speed-up, refinement against random search, and how
well refinement's predictions rank trained architectures.

    python benchmarks/train.py            # ~10 min on 2 cores

Needs a knowledge base holding NAS-Bench-Graph (`scripts/quickstart.sh`); adds the tasks
`bench-mutag` (builtin:mutag) and `bench-sbm` (builtin:sbm:3:100) to it. Writes
``benchmarks/results/train.{json,md}``. Measured parts:

1. trainings per minute per worker on MUTAG (NAS-Bench-Graph cells drawn at random,
   50 epochs, 1 seed, 1 thread);
2. the same refinement on MUTAG (budget 8, batch 2) with 1 and with 2 worker processes:
   wall time ratio, and whether both found the same architectures;
3. refinement with real training against random search at the same budget on MUTAG
   (random: 3 seeds; refinement is deterministic: 1 run);
4. on a synthetic node task (3-block SBM), the Spearman correlation between the scores
   refinement predicted for the architectures it chose (parent score + predicted gain)
   and the accuracies their training then gave.
"""

from __future__ import annotations

import json
import logging
import os
import random
import statistics
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from kb import machine

RESULTS = Path(__file__).resolve().parent / "results"
EPOCHS = 50


def main() -> None:
    warnings.filterwarnings("ignore", category=FutureWarning)
    logging.getLogger("neo4j").setLevel(logging.CRITICAL)
    import torch

    torch.set_num_threads(1)
    from mdesign.kb import KnowledgeBase
    from mdesign.refinement import baselines, runs
    from mdesign.refinement.refine import RefineConfig
    from mdesign.refinement.similarity import spearman
    from mdesign.tasks.store import add_task, load_task
    from mdesign.training.evaluator import TrainEvaluator
    from mdesign.training.trainer import TrainConfig, train_architecture

    out: dict = {"machine": machine(), "epochs": EPOCHS}
    cfg = TrainConfig(epochs=EPOCHS, seeds=1, threads=1)
    t_all = time.perf_counter()
    with KnowledgeBase.connect() as kb:
        space = kb.space("nas-bench-graph")
        add_task(kb, "bench-mutag", "builtin:mutag", "graph")
        add_task(kb, "bench-sbm", "builtin:sbm:3:100", "node")
        mutag = load_task(kb, "bench-mutag")

        # 1. throughput
        archs = random.Random(0).sample(list(space.enumerate()), 4)
        walls = []
        for a in archs:
            t = time.perf_counter()
            train_architecture(space, a, mutag, cfg)
            walls.append(time.perf_counter() - t)
        out["throughput"] = {"trainings": len(walls),
                             "median_s": round(statistics.median(walls), 2),
                             "per_minute_per_worker": round(60 / statistics.median(walls), 2)}
        print("throughput", out["throughput"], file=sys.stderr, flush=True)

        # 2. parallel speed-up on the same refinement
        budget, batch = 8, 2
        speed = {}
        for workers in (1, 2):
            ev = TrainEvaluator(kb, "bench-mutag", budget, space, cfg, workers=workers)
            t = time.perf_counter()
            res = runs.execute(kb, RefineConfig(task="bench-mutag", budget=budget,
                                                batch=batch, evaluator="train",
                                                space=space.name,
                                                train=cfg.model_dump()), ev)
            speed[workers] = {"wall_s": round(time.perf_counter() - t, 1),
                              "paid": [s.uid for s in res.steps],
                              "best": res.best.uid, "valid": res.best.valid,
                              "test": res.best.test}
            print("workers", workers, speed[workers]["wall_s"], file=sys.stderr, flush=True)
        out["speedup"] = {"budget": budget, "batch": batch,
                          "wall_1_worker_s": speed[1]["wall_s"],
                          "wall_2_workers_s": speed[2]["wall_s"],
                          "speedup": round(speed[1]["wall_s"] / speed[2]["wall_s"], 2),
                          "same_architectures": speed[1]["paid"] == speed[2]["paid"]}

        # 3. refinement vs random search at the same budget
        rand = []
        for seed in range(3):
            ev = TrainEvaluator(kb, "bench-mutag", budget, space, cfg)
            r = baselines.random_search(space, ev, seed)
            rand.append({"valid": r.best.valid, "test": r.best.test})
            print("random", seed, rand[-1], file=sys.stderr, flush=True)
        out["refine_vs_random"] = {
            "budget": budget,
            "mdesign": {"valid": speed[1]["valid"], "test": speed[1]["test"], "runs": 1},
            "random": {"valid_mean": statistics.mean(r["valid"] for r in rand),
                       "valid_sd": statistics.stdev(r["valid"] for r in rand),
                       "test_mean": statistics.mean(r["test"] for r in rand),
                       "test_sd": statistics.stdev(r["test"] for r in rand), "runs": 3}}

        # 4. predicted against trained, on a synthetic node task
        ev = TrainEvaluator(kb, "bench-sbm", 12, space, cfg)
        res = runs.execute(kb, RefineConfig(task="bench-sbm", budget=12, evaluator="train",
                                            space=space.name, train=cfg.model_dump()), ev)
        score = {s.uid: s.score for s in res.steps}
        pred, real = [], []
        for s in res.steps:
            if s.kind == "edit" and s.parent in score and s.predicted is not None:
                pred.append(score[s.parent] + s.predicted)
                real.append(s.score)
        out["prediction"] = {"task": "bench-sbm", "pairs": len(pred),
                             "spearman": spearman(pred, real)}
    out["wall_s"] = round(time.perf_counter() - t_all, 1)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "train.json").write_text(json.dumps(out, indent=2) + "\n")
    (RESULTS / "train.md").write_text(markdown(out))
    print(markdown(out))


def markdown(o: dict) -> str:
    m, t, s, r, p = (o["machine"], o["throughput"], o["speedup"], o["refine_vs_random"],
                     o["prediction"])
    rho = "n/a" if p["spearman"] is None else f"{p['spearman']:.2f}"
    return "\n".join([
        "# Real training", "",
        f"Machine: {m['cpu']}, {m['cores']} cores; 1 torch thread per worker; "
        f"{o['epochs']} epochs, 1 seed per training; wall time {o['wall_s']} s.", "",
        "| measure | value |", "|---|---|",
        f"| MUTAG trainings per minute per worker (median of {t['trainings']}) | "
        f"{t['per_minute_per_worker']} ({t['median_s']} s each) |",
        f"| refinement on MUTAG, budget {s['budget']}, batch {s['batch']}: 1 worker | "
        f"{s['wall_1_worker_s']} s |",
        f"| same, 2 workers | {s['wall_2_workers_s']} s (speed-up {s['speedup']}x; same "
        f"architectures: {s['same_architectures']}) |",
        f"| MUTAG at budget {r['budget']}: mdesign (1 run) valid / test | "
        f"{r['mdesign']['valid'] * 100:.2f} / {r['mdesign']['test'] * 100:.2f} |",
        f"| MUTAG at budget {r['budget']}: random search (3 seeds) valid / test | "
        f"{r['random']['valid_mean'] * 100:.2f} ± {r['random']['valid_sd'] * 100:.2f} / "
        f"{r['random']['test_mean'] * 100:.2f} ± {r['random']['test_sd'] * 100:.2f} |",
        f"| SBM node task: Spearman(predicted, trained) over {p['pairs']} refinement steps | "
        f"{rho} |", "",
        "MUTAG's validation split has 19 graphs, so validation accuracies move in steps of "
        "5.3 points and ties are common; differences of one step are noise.", ""])


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()

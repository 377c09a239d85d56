"""The graph hypernetwork: ranking without training, initialisation, and filtering in
refinement, on NAS-Bench-Graph cells.

    python benchmarks/ghn.py              # ~45 min on 2 cores
    python benchmarks/ghn.py --small      # a few minutes: fewer steps and architectures

Needs a knowledge base holding NAS-Bench-Graph (`scripts/quickstart.sh`); adds the tasks
`bench-mutag` (builtin:mutag, graph classification) and `bench-sbm-400`
(builtin:sbm:4:100, node classification on 400 nodes in 4 blocks) if missing. Per task:

1. a hypernetwork is trained (``STEPS`` steps of ``ARCHS`` architectures) on architectures
   other than ``EVAL`` held-out ones, and stored as ``bench-ghn-<task>``;
2. the held-out architectures are trained by the project's trainer (1 seed, up to 50
   epochs, patience 15, 1 thread per worker, ``--workers`` processes) and scored by their
   validation accuracy under generated weights: Spearman and Kendall tau between the two,
   and the share of the trained top 10% found in the hypernetwork's top 10%; parameter
   count is the trivial baseline ranking;
3. ``FINETUNE`` held-out architectures trained from generated weights and from random
   initialisation, for 1, 5 and 20 epochs (best validation within those epochs, and its
   test accuracy);
4. MUTAG only (the knowledge base's evidence comes from NAS-Bench-Graph's node tasks):
   refinement with real training at the same budget, with and without the hypernetwork
   filter (``--ghn``: each step pays for the best of 4 proposals), over ``SEEDS`` seeds
   (a seed sets the training seeds). Each run starts from a knowledge base that forgot
   earlier runs' trainings on the task.

Writes ``benchmarks/results/ghn.{json,md}`` (``ghn_small.*`` with --small).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import statistics
import sys
import time
import warnings
from multiprocessing import get_context

from mdesign.benchmarks.report import RESULTS, machine

TASKS = {"bench-mutag": ("builtin:mutag", "graph"),
         "bench-sbm-400": ("builtin:sbm:4:100", "node")}
FULL = {"steps": 300, "archs": 4, "eval": 200, "finetune": 8, "seeds": 3, "budget": 8}
SMALL = {"steps": 20, "archs": 2, "eval": 12, "finetune": 2, "seeds": 1, "budget": 3}


def _train(job: tuple) -> dict:
    """One training in a worker process (space and task travel as plain data)."""
    import torch

    torch.set_num_threads(1)
    from mdesign.core.space import DesignSpace
    from mdesign.predictors.ghn import ghn_initialiser
    from mdesign.training.config import TrainConfig
    from mdesign.training.trainer import train_architecture

    space_def, key, task, cfg = job
    space = DesignSpace.model_validate(space_def)
    r = train_architecture(space, space.parse_key(key), task, TrainConfig(**cfg),
                           ghn_initialiser(cfg["ghn"]) if cfg.get("ghn") else None)
    return {"key": key, "valid": r.valid, "test": r.test, "params": r.params,
            "wall_s": r.wall_s}


def top_share(pred: list[float], true: list[float], frac: float = 0.1) -> float:
    k = max(1, int(len(true) * frac))
    top_true = set(sorted(range(len(true)), key=lambda i: -true[i])[:k])
    top_pred = set(sorted(range(len(pred)), key=lambda i: -pred[i])[:k])
    return len(top_true & top_pred) / k


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--small", action="store_true")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--tasks", default=",".join(TASKS))
    args = ap.parse_args()
    p = SMALL if args.small else FULL
    warnings.filterwarnings("ignore")
    logging.getLogger("neo4j").setLevel(logging.CRITICAL)
    import torch

    torch.set_num_threads(1)
    from mdesign.core.stats import kendall_tau, spearman
    from mdesign.kb import KnowledgeBase
    from mdesign.kb.observations import forget_observations
    from mdesign.predictors import store
    from mdesign.predictors.ghn import GHNConfig, ghn_scores, save_ghn, train_ghn
    from mdesign.refinement.refine import RefineConfig, refine
    from mdesign.tasks.store import add_task, load_task
    from mdesign.training.config import TrainConfig
    from mdesign.training.evaluator import TrainEvaluator

    say = lambda *a: print(*a, file=sys.stderr, flush=True)  # noqa: E731
    truth_cfg = {"epochs": 50, "patience": 15, "seeds": 1, "threads": 1}
    out: dict = {"machine": machine(), "settings": p, "truth": truth_cfg, "tasks": {}}
    t_all = time.perf_counter()
    pool = get_context("spawn").Pool(args.workers)
    with KnowledgeBase.connect() as kb:
        space = kb.space("nas-bench-graph")
        keys = space.all_keys()
        held = random.Random(0).sample(keys, p["eval"])
        for name in args.tasks.split(","):
            source, kind = TASKS[name]
            add_task(kb, name, source, kind)
            forget_observations(kb, name)
            data = load_task(kb, name)
            res: dict = {"kind": kind}
            # 1. the hypernetwork, never shown the held-out architectures
            cfg = GHNConfig(name=f"bench-ghn-{name}", task=name, space=space.name,
                            steps=p["steps"], archs_per_step=p["archs"], holdout=held)
            ghn, metrics = train_ghn(space, data, cfg, progress=lambda s, n, loss, t=name: say(
                f"{t} ghn step {s}/{n} loss {loss:.3f}") if s % 50 == 0 else None)
            save_ghn(kb, ghn, cfg, metrics)
            res["ghn"] = {k: round(v, 4) if isinstance(v, float) else v
                          for k, v in metrics.items()}
            t = time.perf_counter()
            scored = ghn_scores(ghn, space, data, held)
            res["ghn"]["score_s_per_arch"] = round((time.perf_counter() - t) / len(held), 4)
            # 2. ranking against trained accuracy
            t = time.perf_counter()
            trained = pool.map(_train, [(space.model_dump(mode="json"), k, data, truth_cfg)
                                        for k in held])
            res["truth_s"] = round(time.perf_counter() - t, 1)
            ok = [i for i, r in enumerate(trained) if r["valid"] is not None]
            true_v = [trained[i]["valid"] for i in ok]
            true_t = [trained[i]["test"] for i in ok]
            ghn_v = [scored[i] for i in ok]
            params = [float(trained[i]["params"]) for i in ok]
            res["ranking"] = {
                "archs": len(ok),
                "ghn_vs_valid": {"spearman": spearman(ghn_v, true_v),
                                 "kendall": kendall_tau(ghn_v, true_v),
                                 "top10": top_share(ghn_v, true_v)},
                "ghn_vs_test": {"spearman": spearman(ghn_v, true_t),
                                "kendall": kendall_tau(ghn_v, true_t),
                                "top10": top_share(ghn_v, true_t)},
                "params_vs_valid": {"spearman": spearman(params, true_v),
                                    "kendall": kendall_tau(params, true_v),
                                    "top10": top_share(params, true_v)},
                "distinct_ghn_scores": len(set(ghn_v)),
                "distinct_true_scores": len(set(true_v)),
                "train_s_median": statistics.median(trained[i]["wall_s"] for i in ok)}
            say(name, "ranking", res["ranking"]["ghn_vs_valid"])
            # 3. initialisation: generated weights against random ones
            folder = str(store.load_meta(kb, cfg.name)[0])
            init: dict = {}
            for epochs in (1, 5, 20):
                for how in ("random", "ghn"):
                    c = {"epochs": epochs, "patience": epochs, "seeds": 1, "threads": 1,
                         **({"ghn": folder} if how == "ghn" else {})}
                    runs = pool.map(_train, [(space.model_dump(mode="json"), k, data, c)
                                             for k in held[: p["finetune"]]])
                    init[f"{how}@{epochs}"] = {
                        "valid_mean": statistics.mean(r["valid"] for r in runs),
                        "test_mean": statistics.mean(r["test"] for r in runs)}
            res["init"] = init
            say(name, "init", init)
            # 4. refinement with and without the filter
            if name == "bench-mutag":
                rows: dict[str, list[dict]] = {"mdesign": [], "mdesign + ghn filter": []}
                tc = TrainConfig(epochs=50, seeds=1, threads=1)
                for seed in range(p["seeds"]):
                    for method, ghn_name in (("mdesign", None),
                                             ("mdesign + ghn filter", cfg.name)):
                        forget_observations(kb, name)
                        ev = TrainEvaluator(load_task(kb, name), name, p["budget"], space,
                                            tc.model_copy(update={"first_seed": seed}))
                        t = time.perf_counter()
                        r = refine(kb, RefineConfig(task=name, budget=p["budget"],
                                                    seed=seed, space=space.name,
                                                    ghn=ghn_name), ev)
                        rows[method].append({"valid": r.best.valid, "test": r.best.test,
                                             "uid": r.best.uid,
                                             "wall_s": round(time.perf_counter() - t, 1)})
                        say(name, seed, method, rows[method][-1])
                forget_observations(kb, name)
                res["refine"] = {"budget": p["budget"], "seeds": p["seeds"], **{
                    m: {"valid_mean": statistics.mean(x["valid"] for x in v),
                        "test_mean": statistics.mean(x["test"] for x in v),
                        "wall_s_mean": statistics.mean(x["wall_s"] for x in v), "runs": v}
                    for m, v in rows.items()}}
            out["tasks"][name] = res
    pool.close()
    out["wall_s"] = round(time.perf_counter() - t_all, 1)
    RESULTS.mkdir(exist_ok=True)
    stem = "ghn_small" if args.small else "ghn"
    (RESULTS / f"{stem}.json").write_text(json.dumps(out, indent=2, default=str) + "\n")
    (RESULTS / f"{stem}.md").write_text(markdown(out))
    print(markdown(out))


def markdown(o: dict) -> str:
    s, m = o["settings"], o["machine"]
    f = lambda v: "n/a" if v is None else f"{v:.2f}"  # noqa: E731
    pct = lambda v: f"{v * 100:.1f}"  # noqa: E731
    lines = [
        "# Graph hypernetwork (NAS-Bench-Graph cells)", "",
        f"Machine: {m['cpu']}, {m['cores']} cores, 1 torch thread per process; wall time "
        f"{o['wall_s']} s. Hypernetwork: {s['steps']} steps x {s['archs']} architectures; "
        f"{s['eval']} held-out architectures trained by the project's trainer (1 seed, up "
        f"to {o['truth']['epochs']} epochs, patience {o['truth']['patience']}); one run.", "",
        "## Ranking without training", "",
        "| task | archs | GHN train s | GHN s/arch | training s/arch (median) | "
        "Spearman valid | Kendall valid | top-10% valid | Spearman test | params: "
        "Spearman valid |", "|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in o["tasks"].items():
        k = r["ranking"]
        lines.append(
            f"| {name} | {k['archs']} | {r['ghn']['train_s']} | "
            f"{r['ghn']['score_s_per_arch']} | {k['train_s_median']:.2f} | "
            f"{f(k['ghn_vs_valid']['spearman'])} | {f(k['ghn_vs_valid']['kendall'])} | "
            f"{f(k['ghn_vs_valid']['top10'])} | {f(k['ghn_vs_test']['spearman'])} | "
            f"{f(k['params_vs_valid']['spearman'])} |")
    lines += ["", "## Initialisation: validation / test accuracy (%) after e epochs", "",
              f"Mean over {s['finetune']} held-out architectures; best validation within "
              "the first e epochs and its test accuracy.", "",
              "| task | init | 1 epoch | 5 epochs | 20 epochs |", "|---|---|---|---|---|"]
    for name, r in o["tasks"].items():
        for how in ("random", "ghn"):
            cells = [f"{pct(r['init'][f'{how}@{e}']['valid_mean'])} / "
                     f"{pct(r['init'][f'{how}@{e}']['test_mean'])}" for e in (1, 5, 20)]
            lines.append(f"| {name} | {how} | " + " | ".join(cells) + " |")
    ref = [(n, r["refine"]) for n, r in o["tasks"].items() if "refine" in r]
    if ref:
        lines += ["", "## Refinement with real training, same budget", "",
                  "| task | method | budget | seeds | valid % (mean) | test % (mean) | "
                  "wall s (mean) |", "|---|---|---|---|---|---|---|"]
        for name, r in ref:
            for method in ("mdesign", "mdesign + ghn filter"):
                v = r[method]
                lines.append(f"| {name} | {method} | {r['budget']} | {r['seeds']} | "
                             f"{pct(v['valid_mean'])} | {pct(v['test_mean'])} | "
                             f"{v['wall_s_mean']:.1f} |")
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()

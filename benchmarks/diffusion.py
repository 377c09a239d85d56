"""Task-guided diffusion on NAS-Bench-Graph, leave one dataset out.

    python benchmarks/diffusion.py            # ~30 min on 2 cores
    python benchmarks/diffusion.py --small    # a few minutes: short training, 2 targets

Needs a knowledge base holding NAS-Bench-Graph (`scripts/quickstart.sh`). Steps:

1. the score network is trained by denoising score matching on a seeded 80% split of the
   26,206 architectures (the other 20% measure novelty), once;
2. per held-out dataset, a guide (noise-aware predictor) learns from the other 8 datasets'
   results and never from the target; the generator is stored as ``loo-gen-<target>``
   (the name the refinement benchmark's ``mdesign-generator`` variant reuses);
3. per target and seed, ``N`` architectures each from: guided generation conditioned on
   meta-features only (zero-shot), guided generation that also reads the target's results
   on the generator's 8 anchor architectures (8 results the target must pay for), unguided
   diffusion, and uniform random samples of the space; the test accuracy (mean, max) and
   the test percentile in the target's space of each set;
4. per target, a long guided (anchored) and unguided sequence of ``REACH`` architectures:
   how many it takes to reach the space's validation-best architecture, and the top 1%
   by validation, against the expectation of uniform random sampling without replacement,
   :math:`(M+1)/(k+1)` draws to the first of ``k`` marked among ``M``;
5. validity (valid samples / samples), uniqueness (distinct valid / valid) and novelty
   (distinct valid not in the score network's training split / distinct valid) of raw
   samples, unguided and guided; training and sampling times on CPU.

Proteins is a source only: NAS-Bench-Graph measured 2,021 of its architectures, so a
generated set cannot be scored on it. Writes ``benchmarks/results/diffusion.{json,md,png}``
(``diffusion_small.*`` with --small).
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from mdesign.benchmarks.loo import ensure_loo_generators, loo_generator_name
from mdesign.benchmarks.protocol import task_context, top_share
from mdesign.benchmarks.report import RESULTS, machine

TARGETS = ["cora", "citeseer", "pubmed", "cs", "physics", "photo", "computers", "arxiv"]
FULL = {"score_steps": 3000, "guide_steps": 2000, "n": 20, "seeds": 3, "reach": 400,
        "random_seeds": 20, "tasks": TARGETS}
SMALL = {"score_steps": 300, "guide_steps": 200, "n": 10, "seeds": 1, "reach": 64,
         "random_seeds": 5, "tasks": ["cora", "photo"]}
CONDITIONS = ["guided+anchors", "guided", "unguided", "random"]


def describe(ctx: Any, uids: list[str]) -> dict[str, float]:
    """Test accuracy (mean, max) of a set, and its mean share of the space at least as good
    on test (``ctx``: the target's :class:`~mdesign.benchmarks.protocol.TaskContext`)."""
    tests = [ctx.table[u].test for u in uids]
    return {"test_mean": statistics.mean(tests) * 100, "test_max": max(tests) * 100,
            "top_pct": statistics.mean(top_share(ctx.tests, t) for t in tests),
            "n": len(uids)}


def first_hit(uids: list[str], marked: set[str]) -> int | None:
    return next((i + 1 for i, u in enumerate(uids) if u in marked), None)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", action="store_true")
    ap.add_argument("--tasks", default=None, help="comma-separated held-out targets")
    ap.add_argument("--out-dir", type=Path, default=RESULTS)
    args = ap.parse_args()
    logging.getLogger("neo4j").setLevel(logging.CRITICAL)
    import torch

    torch.set_num_threads(1)
    from mdesign.generation.encoding import ArchitectureMatrix
    from mdesign.generation.generator import (
        GenerationSettings,
        generate,
        generator_sde,
        load_generator,
        task_condition,
    )
    from mdesign.generation.sampling import sample
    from mdesign.kb import KnowledgeBase

    cfg = dict(SMALL if args.small else FULL)
    tasks = args.tasks.split(",") if args.tasks else cfg["tasks"]
    name = "diffusion_small" if args.small else "diffusion"
    t_all = time.perf_counter()
    with KnowledgeBase.connect() as kb:
        space = kb.space("nas-bench-graph")
        keys = space.all_keys()
        rng = random.Random(0)
        train_keys = sorted(rng.sample(keys, int(0.8 * len(keys))))
        train_set = set(train_keys)
        settings = {"score_steps": cfg["score_steps"], "guide_steps": cfg["guide_steps"],
                    "archs": train_keys, "seed": 0}
        print(f"training: score network on {len(train_keys)} architectures, one guide per "
              f"target ({', '.join(tasks)})", file=sys.stderr)
        made = ensure_loo_generators(kb, tasks, lambda m: print(m, file=sys.stderr),
                                     settings)
        matrix = ArchitectureMatrix(space)
        per_task: dict[str, Any] = {}
        train_times: dict[str, Any] = {}
        sample_s: list[float] = []
        for task in tasks:
            gname = loo_generator_name(task)
            model, meta = load_generator(kb, gname)
            train_times[task] = {"score_s": meta.metrics["score_s"],
                                 "guide_s": meta.metrics["guide_s"]}
            sde = generator_sde(meta)
            ctx = task_context(kb, task)
            table, uids = ctx.table, sorted(ctx.uids)
            info = kb.task(task)
            anchors = list(meta.metrics["anchors"])
            tau0 = task_condition(info, anchors, {})
            tau_a = task_condition(info, anchors, {a: table[a].score for a in anchors})
            rows: dict[str, list[dict[str, float]]] = {c: [] for c in CONDITIONS}
            for seed in range(cfg["seeds"]):
                for cond, tau, guided in (("guided+anchors", tau_a, True),
                                          ("guided", tau0, True),
                                          ("unguided", None, False)):
                    t0 = time.perf_counter()
                    found, counts = generate(model, space, sde, GenerationSettings(
                        n=cfg["n"], seed=seed, guided=guided), tau)
                    sample_s.append(time.perf_counter() - t0)
                    got = [a.uid for a in found]
                    rows[cond].append({**describe(ctx, got), **counts})
            for seed in range(cfg["random_seeds"]):
                got = random.Random(seed).sample(uids, cfg["n"])
                rows["random"].append(describe(ctx, got))
            summary = {}
            for cond, runs in rows.items():
                summary[cond] = {k: statistics.mean(r[k] for r in runs)
                                 for k in ("test_mean", "test_max", "top_pct")}
                summary[cond]["runs"] = len(runs)
            # reaching the best: long sequences, in the order they are returned
            best_valid = max(table[u].score for u in uids)
            best = {u for u in uids if table[u].score >= best_valid}
            k1 = max(1, len(uids) // 100)
            top1 = set(sorted(uids, key=lambda u: -table[u].score)[:k1])
            reach = {}
            for cond, tau, guided in (("guided+anchors", tau_a, True),
                                      ("unguided", None, False)):
                found, _ = generate(model, space, sde, GenerationSettings(
                    n=cfg["reach"], seed=100, guided=guided, rounds=40, batch=128,
                    decay=0.8), tau)
                seq = [a.uid for a in found]
                reach[cond] = {"generated": len(seq), "to_best": first_hit(seq, best),
                               "to_top1": first_hit(seq, top1),
                               "best_test_so_far": _so_far(table, seq)}
            m = len(uids)
            reach["random (expected)"] = {"generated": m, "to_best": (m + 1) / (len(best) + 1),
                                          "to_top1": (m + 1) / (k1 + 1)}
            per_task[task] = {"conditions": summary, "reach": reach,
                              "space_best_test": max(table[u].test for u in uids) * 100,
                              "space_mean_test": statistics.mean(table[u].test
                                                                 for u in uids) * 100,
                              "anchors_paid": len(anchors)}
            print(f"{task}: " + ", ".join(f"{c} {summary[c]['test_mean']:.2f}"
                                          for c in CONDITIONS)
                  + f" ({time.perf_counter() - t_all:.0f} s)", file=sys.stderr)
        # raw samples: validity, uniqueness, novelty (first target's generator)
        model, meta = load_generator(kb, loo_generator_name(tasks[0]))
        sde = generator_sde(meta).model_copy(update={"steps": 200})
        tau = task_condition(kb.task(tasks[0]), list(meta.metrics["anchors"]), {})
        from mdesign.generation.sampling import guidance_gradient

        quality = {}
        t0 = time.perf_counter()
        for cond, guide, scale in (("unguided", None, 0.0),
                                   ("guided (scale 20)", guidance_gradient(
                                       model.guide, matrix, sde, tau), 20.0)):
            x = sample(model.score, matrix, sde, 512, torch.Generator().manual_seed(7),
                       guide, scale)
            ks = matrix.canonical_keys(x)
            valid = [k for k in ks if k is not None]
            distinct = set(valid)
            quality[cond] = {"samples": len(ks), "validity": len(valid) / len(ks),
                             "uniqueness": len(distinct) / max(1, len(valid)),
                             "novelty": len(distinct - train_set) / max(1, len(distinct))}
        raw_s = (time.perf_counter() - t0) / 2
    out = {"machine": machine(), "settings": {k: v for k, v in cfg.items() if k != "tasks"},
           "tasks": tasks, "generators": made, "train_split": len(train_keys),
           "space": len(keys), "per_task": per_task, "raw_samples": quality,
           "train_times_s": train_times,
           "sampling_s": {"generate_n_median": statistics.median(sample_s),
                          "batch_512_200_steps": round(raw_s, 1)},
           "wall_s": round(time.perf_counter() - t_all, 1)}
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / f"{name}.json").write_text(json.dumps(out, indent=2))
    (args.out_dir / f"{name}.md").write_text(markdown(out))
    plot(out, args.out_dir / f"{name}.png")
    print(markdown(out))


def _so_far(table: dict[str, Any], seq: list[str]) -> list[float]:
    best, out = float("-inf"), []
    for u in seq:
        best = max(best, table[u].test * 100)
        out.append(round(best, 3))
    return out


def markdown(out: dict[str, Any]) -> str:
    s = out["settings"]
    m = out["machine"]
    lines = [
        "# Task-guided diffusion on NAS-Bench-Graph, leave one dataset out", "",
        f"Machine: {m['cpu']}, {m['cores']} cores, torch 1 thread. Score network: "
        f"{s['score_steps']} steps on {out['train_split']:,} of {out['space']:,} "
        f"architectures; guides: {s['guide_steps']} steps on the other 8 datasets' results. "
        f"Sets of {s['n']} architectures, {s['seeds']} seeds for each diffusion condition "
        f"and {s['random_seeds']} for random; test accuracy %, and top % = mean share of "
        f"the target's space scoring at least as well on test (lower is better). "
        f"Wall time {out['wall_s'] / 60:.1f} min.", "",
        "guided+anchors reads the target's results on the generator's 8 anchor "
        "architectures (8 paid evaluations); guided uses meta-features only.", "",
        "| target | " + " | ".join(f"{c} test (max) / top %" for c in CONDITIONS)
        + " | space best / mean test |",
        "|---|" + "---|" * (len(CONDITIONS) + 1)]
    for task, r in out["per_task"].items():
        c = r["conditions"]
        lines.append(f"| {task} | " + " | ".join(
            f"{c[k]['test_mean']:.2f} ({c[k]['test_max']:.2f}) / {c[k]['top_pct']:.1f}"
            for k in CONDITIONS) + f" | {r['space_best_test']:.2f} / "
            f"{r['space_mean_test']:.2f} |")
    means = {k: statistics.mean(r["conditions"][k]["top_pct"]
                                for r in out["per_task"].values()) for k in CONDITIONS}
    lines.append("| **mean top %** | " + " | ".join(f"**{means[k]:.1f}**" for k in CONDITIONS)
                 + " | |")
    lines += ["", "## Generated architectures to reach the space's best (by validation)", "",
              "| target | guided+anchors: best / top 1% | unguided: best / top 1% | "
              "random expected: best / top 1% |", "|---|---|---|---|"]

    def fmt(v: float | None, n: int) -> str:
        return f"> {n}" if v is None else f"{v:,.0f}"

    for task, r in out["per_task"].items():
        g, u, x = r["reach"]["guided+anchors"], r["reach"]["unguided"], \
            r["reach"]["random (expected)"]
        lines.append(f"| {task} | {fmt(g['to_best'], g['generated'])} / "
                     f"{fmt(g['to_top1'], g['generated'])} | "
                     f"{fmt(u['to_best'], u['generated'])} / "
                     f"{fmt(u['to_top1'], u['generated'])} | {x['to_best']:,.0f} / "
                     f"{x['to_top1']:,.0f} |")
    lines += ["", "## Raw samples (512, 200 noise levels, before filtering)", "",
              "| sampler | validity | uniqueness | novelty |", "|---|---|---|---|"]
    for cond, q in out["raw_samples"].items():
        lines.append(f"| {cond} | {q['validity']:.3f} | {q['uniqueness']:.3f} | "
                     f"{q['novelty']:.3f} |")
    tt = list(out["train_times_s"].values())
    lines += ["", "Novelty = distinct valid samples outside the score network's training "
              "split / distinct valid (the split holds 80% of the space).", "",
              "## Time on CPU", "",
              f"- score network: {tt[0]['score_s']:.0f} s (trained once, shared)",
              f"- one guide: median {statistics.median(t['guide_s'] for t in tt):.0f} s",
              f"- generating a set of {s['n']} (rounds of 64 samples, 200 noise levels): "
              f"median {out['sampling_s']['generate_n_median']:.1f} s",
              f"- 512 raw samples, 200 noise levels: "
              f"{out['sampling_s']['batch_512_200_steps']:.0f} s"]
    return "\n".join(lines) + "\n"


def plot(out: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = list(out["per_task"])
    cols = min(4, len(tasks))
    rows = (len(tasks) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 2.8 * rows), squeeze=False)
    for ax, task in zip(axes.flat, tasks, strict=False):
        r = out["per_task"][task]
        for cond, colour in (("guided+anchors", "tab:red"), ("unguided", "tab:blue")):
            ys = r["reach"][cond]["best_test_so_far"]
            ax.plot(range(1, len(ys) + 1), ys, color=colour, label=cond)
        ax.axhline(r["space_best_test"], color="gray", ls="--", lw=1, label="space best")
        ax.set_xscale("log")
        ax.set_title(task, fontsize=9)
        ax.set_xlabel("architectures generated", fontsize=8)
        ax.set_ylabel("best test % so far", fontsize=8)
    for ax in list(axes.flat)[len(tasks):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()

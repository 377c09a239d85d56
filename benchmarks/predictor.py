"""The performance predictor on NAS-Bench-Graph, leave one dataset out.

    python benchmarks/predictor.py            # ~30 min on 2 cores
    python benchmarks/predictor.py --small    # 3 datasets, few architectures: ~3 min

Needs a knowledge base holding NAS-Bench-Graph (`scripts/quickstart.sh`). Protocol:

- architectures: a seeded sample of ``TRAIN`` labelled architectures, and a disjoint
  sample of ``EVAL`` held-out ones per dataset (among those the dataset measured: proteins
  measured 2,021);
- pretraining (InfoNCE) once, on the unlabelled training and held-out architectures;
- for each held-out dataset: the regressor is fitted on the other datasets' results of the
  training architectures, then measured on the held-out dataset's held-out architectures
  zero-shot, and after adapting to ``FEW`` (50) of its results (measured architectures
  outside its held-out ones): the default adaptation, ``ensemble``; each of the others;
  and ``auto``, the one cross-validation on the 50 picks; and on the held-out
  architectures of the seen datasets;
- metrics: Spearman, Kendall tau, and the share of the true top 1% found in the predicted
  top 1%;
- a development split (other held-out architectures and few-shot results, same fitted
  models), on which the default adaptation was chosen: zero-shot and every adaptation;
- baselines on the same architectures: the one-hot MLP (same data, same fine-tuning) and the
  zero-cost proxies (synflow, jacov, grad_norm, params), computed on ``PROXY`` of the
  held-out architectures per dataset with a random stand-in graph of the dataset's feature
  and class counts (the datasets are not available offline); the predictor is also
  reported on exactly those architectures.

Writes ``benchmarks/results/predictor.{json,md}`` (``predictor_small.*`` with --small).
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import random
import statistics
import sys
import time
import warnings

from mdesign.benchmarks.report import RESULTS, machine

FULL = {"train": 2000, "eval": 1000, "proxy": 150, "pretrain_epochs": 10, "epochs": 100,
        "few": 50, "datasets": None}
SMALL = {"train": 200, "eval": 150, "proxy": 20, "pretrain_epochs": 2, "epochs": 5,
         "few": 50, "datasets": ["cora", "citeseer", "proteins"]}


def metrics(pred: list[float], true: list[float]) -> dict[str, float | None]:
    from mdesign.core.stats import kendall_tau, spearman

    k = max(1, len(true) // 100)
    top_true = set(sorted(range(len(true)), key=lambda i: -true[i])[:k])
    top_pred = set(sorted(range(len(pred)), key=lambda i: -pred[i])[:k])
    rho, tau = spearman(pred, true), kendall_tau(pred, true)
    return {"spearman": None if rho is None else round(rho, 4),
            "kendall": None if tau is None else round(tau, 4),
            "top1": round(len(top_true & top_pred) / k, 4), "n": len(true)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", action="store_true")
    args = parser.parse_args()
    p = SMALL if args.small else FULL
    warnings.filterwarnings("ignore")
    logging.getLogger("neo4j").setLevel(logging.CRITICAL)
    import torch

    torch.set_num_threads(1)
    from mdesign.benchmarks.predictor_baselines import (
        finetune_onehot,
        fit_onehot,
        one_hot,
        stand_in_graph,
    )
    from mdesign.kb import KnowledgeBase
    from mdesign.models.builder import build_model
    from mdesign.predictors import proxies, store
    from mdesign.predictors.adaptation import ADAPTATIONS, DEFAULT, adapt
    from mdesign.predictors.encoder import PerformancePredictor
    from mdesign.predictors.predictor import labelled, task_vectors
    from mdesign.predictors.training import fit, predict, pretrain, rank_targets

    t_all = time.perf_counter()
    out: dict = {"machine": machine(), "settings": p}
    with KnowledgeBase.connect() as kb:
        space = kb.space("nas-bench-graph")
        tasks = [t for t in kb.tasks_in_space(space.name)
                 if p["datasets"] is None or t.name in p["datasets"]]
        tasks = [t for t in tasks if t.name in {
            "cora", "citeseer", "pubmed", "cs", "physics", "photo", "computers", "arxiv",
            "proteins"}]
        names = [t.name for t in tasks]
        rng = random.Random(0)
        keys = space.all_keys()
        train_keys = rng.sample(keys, p["train"])
        rest = sorted(set(keys) - set(train_keys))
        measured = {t.name: set(kb.task_scores(t.name, space.name)) for t in tasks}

        def split(seed_eval: int, seed_few: int) -> tuple[dict[str, list[str]],
                                                          dict[str, list[str]]]:
            """Held-out architectures per dataset, and few-shot results: measured, never
            held out for evaluation."""
            evals, fews = {}, {}
            for t in tasks:
                pool = [k for k in rest if k in measured[t.name]]
                evals[t.name] = random.Random(seed_eval).sample(pool, min(p["eval"],
                                                                          len(pool)))
                shots = sorted(measured[t.name] - set(evals[t.name]))
                fews[t.name] = random.Random(seed_few).sample(shots, min(p["few"],
                                                                         len(shots)))
            return evals, fews

        evals, fews = split(1, 2)
        # the development split that chose the default adaptation: same fitted models,
        # other held-out architectures and other few-shot results
        dev_evals, dev_fews = split(4, 3)
        eval_keys = sorted({k for v in evals.values() for k in v})
        dev_keys = sorted({k for v in (*dev_evals.values(), *dev_fews.values()) for k in v})
        few_keys = sorted({k for v in fews.values() for k in v} - set(train_keys)
                          - set(eval_keys))
        t0 = time.perf_counter()
        all_keys = list(dict.fromkeys(train_keys + eval_keys + few_keys + dev_keys))
        graphs_all = store.space_graphs(space, all_keys)
        out["trace_s"] = round(time.perf_counter() - t0, 1)
        graph = dict(zip(all_keys, graphs_all, strict=True))
        graphs_all = graphs_all[: len(train_keys) + len(eval_keys)]
        print("traced", len(graph), out["trace_s"], file=sys.stderr, flush=True)
        y_train = labelled(kb, space.name, train_keys, tasks)
        y_eval = labelled(kb, space.name, eval_keys, tasks)
        y_dev = dict(zip(dev_keys, labelled(kb, space.name, dev_keys, tasks).tolist(),
                         strict=True))
        row = {k: i for i, k in enumerate(eval_keys)}
        vecs = task_vectors(tasks)

        torch.manual_seed(0)
        base = PerformancePredictor()
        t0 = time.perf_counter()
        pre = pretrain(base, graphs_all, epochs=p["pretrain_epochs"])
        out["pretrain"] = {"s": round(time.perf_counter() - t0, 1),
                           "infonce_first": round(pre[0], 3), "infonce_last": round(pre[-1], 3)}
        print("pretrained", out["pretrain"], file=sys.stderr, flush=True)
        x_train = one_hot(space, train_keys)
        x_eval = {t: one_hot(space, evals[t]) for t in names}

        folds: dict[str, dict] = {}
        dev: dict[str, dict] = {}
        fit_s, adapt_s = [], []
        for j, held in enumerate(tasks):
            seen = [i for i in range(len(tasks)) if i != j]
            targets = rank_targets(y_train[:, seen]).float()
            model = copy.deepcopy(base)
            t0 = time.perf_counter()
            fit(model, [graph[k] for k in train_keys], targets, vecs[seen],
                epochs=p["epochs"])
            fit_s.append(time.perf_counter() - t0)
            mlp = fit_onehot(x_train, targets, vecs[seen])
            mlp.eval()
            ev = evals[held.name]
            true = [float(y_eval[row[k], j]) for k in ev]
            eg = [graph[k] for k in ev]
            res: dict[str, dict] = {}
            res["predictor zero-shot"] = metrics(
                predict(model, eg, vecs[j:j + 1])[:, 0].tolist(), true)
            res["one-hot MLP zero-shot"] = metrics(
                mlp(x_eval[held.name], vecs[j:j + 1])[:, 0].tolist(), true)
            # few-shot: FEW measured results of the held-out dataset, none held out
            few = fews[held.name]
            few_scores = labelled(kb, space.name, few, [held])[:, 0]
            few_graphs = [graph[k] for k in few]
            t0 = time.perf_counter()
            tuned = adapt(model, few_graphs, few_scores, vecs[j], seen=vecs[seen])
            adapt_s.append(time.perf_counter() - t0)
            res[f"predictor {p['few']}-shot"] = metrics(tuned.predict(eg).tolist(), true)
            # the other adaptations, and cross-validation's choice among all
            for how in (*(a for a in ADAPTATIONS if a != DEFAULT), "auto"):
                other = adapt(model, few_graphs, few_scores, vecs[j], seen=vecs[seen],
                              how=how)
                res[f"predictor {p['few']}-shot, adapt {how}"] = {
                    **metrics(other.predict(eg).tolist(), true),
                    **({"chosen": other.how} if how == "auto" else {})}
            x_few = one_hot(space, few)
            mlp_tuned = finetune_onehot(copy.deepcopy(mlp), x_few, few_scores, vecs[j])
            with torch.no_grad():
                res[f"one-hot MLP {p['few']}-shot"] = metrics(
                    mlp_tuned(x_eval[held.name], vecs[j:j + 1])[:, 0].tolist(), true)
            # held-out architectures of the seen datasets
            seen_rho = []
            for i in seen:
                evs = evals[tasks[i].name]
                m = metrics(predict(model, [graph[k] for k in evs], vecs[i:i + 1])[:, 0]
                            .tolist(), [float(y_eval[row[k], i]) for k in evs])
                seen_rho.append(m["spearman"])
            res["predictor, held-out archs of seen datasets"] = {
                "spearman": round(statistics.mean(r for r in seen_rho if r is not None), 4)}
            # zero-cost proxies on the first PROXY held-out architectures
            sub = ev[: p["proxy"]]
            sub_true = true[: p["proxy"]]
            data = stand_in_graph(int(held.features.get("features", 64)),
                                  int(held.features.get("classes", 2)))
            values: dict[str, list[float]] = {n: [] for n in proxies.PROXIES}
            for k in sub:
                torch.manual_seed(0)
                net = build_model(space, space.parse_key(k), data.x.size(1),
                                  int(data.y.max()) + 1, "node")
                for n, v in proxies.compute(net, data).items():
                    values[n].append(v)
            for n, v in values.items():
                res[f"proxy {n} (subset)"] = metrics(v, sub_true)
            res["predictor zero-shot (subset)"] = metrics(
                predict(model, eg[: p["proxy"]], vecs[j:j + 1])[:, 0].tolist(), sub_true)
            res[f"predictor {p['few']}-shot (subset)"] = metrics(
                tuned.predict(eg[: p["proxy"]]).tolist(), sub_true)
            folds[held.name] = res
            # the development split: zero-shot and every adaptation
            dev_true = [y_dev[k][j] for k in dev_evals[held.name]]
            dev_graphs = [graph[k] for k in dev_evals[held.name]]
            shots = dev_fews[held.name]
            dev[held.name] = {"predictor zero-shot": metrics(
                predict(model, dev_graphs, vecs[j:j + 1])[:, 0].tolist(), dev_true)}
            for how in ADAPTATIONS:
                adapted = adapt(model, [graph[k] for k in shots],
                                torch.tensor([y_dev[k][j] for k in shots],
                                             dtype=torch.float64),
                                vecs[j], seen=vecs[seen], how=how)
                dev[held.name][f"predictor {p['few']}-shot, adapt {how}"] = metrics(
                    adapted.predict(dev_graphs).tolist(), dev_true)
            print(held.name, {k: v.get("spearman") for k, v in res.items()}, file=sys.stderr,
                  flush=True)
        out["fit_s_median"] = round(statistics.median(fit_s), 1)
        out["adapt_s_median"] = round(statistics.median(adapt_s), 2)
        out["folds"] = folds
        out["development"] = {
            "folds": dev,
            "mean": {r: round(statistics.mean(f[r]["spearman"] for f in dev.values()), 4)
                     for r in next(iter(dev.values()))}}
    out["wall_s"] = round(time.perf_counter() - t_all, 1)
    rows = list(next(iter(folds.values())))
    out["mean"] = {r: {m: round(statistics.mean(f[r][m] for f in folds.values()
                                                 if f[r].get(m) is not None), 4)
                       for m in ("spearman", "kendall", "top1") if m in folds[names[0]][r]}
                   for r in rows}
    few_key = next(r for r in rows if r.startswith("predictor") and r.endswith("-shot")
                   and "zero" not in r)
    out["targets"] = {
        "mean_loo_spearman_after_few_shot": out["mean"][few_key]["spearman"],
        "target_0_7_met": out["mean"][few_key]["spearman"] >= 0.7,
        **{f"{label}_beats_every_proxy_on_every_dataset": all(
            (f[f"predictor {label} (subset)"]["spearman"] or -2)
            > max((f[f"proxy {n} (subset)"]["spearman"] or -2) for n in proxies.PROXIES)
            for f in folds.values()) for label in ("zero-shot", f"{p['few']}-shot")},
    }
    RESULTS.mkdir(exist_ok=True)
    stem = "predictor_small" if args.small else "predictor"
    (RESULTS / f"{stem}.json").write_text(json.dumps(out, indent=2) + "\n")
    (RESULTS / f"{stem}.md").write_text(markdown(out))
    print(markdown(out))


def markdown(o: dict) -> str:
    folds, s = o["folds"], o["settings"]
    names = list(folds)
    rows = list(folds[names[0]])
    cell = lambda v: "n/a" if v is None else f"{v:.2f}"  # noqa: E731
    lines = [
        "# Performance predictor, leave one dataset out (NAS-Bench-Graph)", "",
        f"Machine: {o['machine']['cpu']}, {o['machine']['cores']} cores, 1 torch thread; "
        f"wall time {o['wall_s']} s (tracing {o['trace_s']} s, pretraining "
        f"{o['pretrain']['s']} s, fit per fold {o['fit_s_median']} s median). "
        f"{s['train']} training architectures, up to {s['eval']} held-out architectures "
        f"per dataset, proxies on {s['proxy']} of them; one run (seed 0). "
        f"{s['few']}-shot rows: the default adaptation (`ensemble`: the mean of `full`, "
        f"`transfer` and `probe`; {o.get('adapt_s_median', 'n/a')} s median per "
        f"adaptation), then the others (`mdesign.predictors.adaptation`). The default "
        f"was chosen on the development split at the end.", "",
        "Spearman per held-out dataset:", "",
        "| method | " + " | ".join(names) + " | mean |",
        "|---|" + "---|" * (len(names) + 1)]
    for r in rows:
        lines.append(f"| {r} | " + " | ".join(cell(folds[n][r].get("spearman"))
                                              for n in names)
                     + f" | {cell(o['mean'][r].get('spearman'))} |")
    lines += ["", "Means over the held-out datasets:", "",
              "| method | Spearman | Kendall tau | top-1% precision |", "|---|---|---|---|"]
    for r in rows:
        m = o["mean"][r]
        lines.append(f"| {r} | {cell(m.get('spearman'))} | {cell(m.get('kendall'))} | "
                     f"{cell(m.get('top1'))} |")
    d = o.get("development")
    if d:
        dev_rows = list(d["mean"])
        lines += ["", "Development split (how the default was chosen): the same fitted "
                  "models, other held-out architectures and other few-shot results "
                  "(sampling seeds 4 and 3 instead of 1 and 2). Spearman:", "",
                  "| method | " + " | ".join(names) + " | mean |",
                  "|---|" + "---|" * (len(names) + 1)]
        for r in dev_rows:
            lines.append(f"| {r} | " + " | ".join(cell(d["folds"][n][r]["spearman"])
                                                  for n in names)
                         + f" | {cell(d['mean'][r])} |")
    auto = next((r for r in rows if r.endswith("adapt auto")), None)
    if auto:
        lines += ["", "Adaptation chosen by 5-fold cross-validation on the 50 results "
                  "(`auto`): " + ", ".join(f"{n} {folds[n][auto].get('chosen')}"
                                           for n in names) + "."]
    t = o["targets"]
    lines += ["", f"Target: mean leave-one-dataset-out Spearman after few-shot fine-tuning "
              f">= 0.7: {t['mean_loo_spearman_after_few_shot']:.2f} "
              f"({'met' if t['target_0_7_met'] else 'not met'}). Predictor above every "
              f"zero-cost proxy on every dataset (on the proxies' subset): "
              + ", ".join(f"{k.split('_beats')[0]} {'yes' if v else 'no'}"
                          for k, v in t.items() if "_beats_" in k) + ".", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()

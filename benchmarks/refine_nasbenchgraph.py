"""Refinement on NAS-Bench-Graph, leave one dataset out (docs/refinement.md, "Benchmark").

For each of the 9 datasets the knowledge base's other 8 are the sources and the target's
stored results are the paid oracle (every distinct architecture read costs one unit,
re-reads are free). Methods, ablations and the report are those of
:mod:`mdesign.benchmarks.protocol`; this script fixes the NAS-Bench-Graph protocol:

    python benchmarks/refine_nasbenchgraph.py           # full: 9 tasks, 10/20/50/100, 20 seeds
    python benchmarks/refine_nasbenchgraph.py --small   # CI: 2 tasks, 10/20, 3 seeds

Needs a knowledge base holding NAS-Bench-Graph (`scripts/quickstart.sh`). Writes
``benchmarks/results/refine_nasbenchgraph.{json,md,png}`` (``..._small`` for --small).
`mdesign bench refine` runs the same protocol on any tasks of a knowledge base.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import NoReturn

from mdesign.benchmarks import protocol, report
from mdesign.benchmarks.report import RESULTS

DATASETS = ["cora", "citeseer", "pubmed", "cs", "physics", "photo", "computers", "arxiv",
            "proteins"]
FULL_METHODS = ["mdesign", "mdesign-reference", "mdesign-reference-nocal", "mdesign-nocal",
                "mdesign-noplanner", "mdesign-planner-fallback", "mdesign-expand-current",
                "mdesign-lookahead2", "mdesign-lookahead2-gds", "mdesign-anchors",
                "mdesign-uncertainty", "mdesign-maxparams", "retrieval", "random", "regevo",
                "tpe"]

# the reference table "the same baselines by validation" (docs/refinement.md):
# regularised evolution at budget 100, mean validation % over 20 seeds (an external
# reference, printed beside our own run)
# DesiGNN (its supplementary Tables 8 and 10): best test accuracy % found after 10 and 30
# evaluations when the oracle reveals test accuracy, and its random search at 30
DESIGNN_TEST = {
    10: {"cora": 81.69, "citeseer": 70.58, "pubmed": 77.17, "cs": 90.22, "physics": 92.61,
         "photo": 92.25, "computers": 83.15, "arxiv": 71.92},
    30: {"cora": 81.77, "citeseer": 71.00, "pubmed": 77.57, "cs": 90.51, "physics": 92.61,
         "photo": 92.38, "computers": 84.08, "arxiv": 72.02},
}
DESIGNN_RANDOM30_TEST = {"cora": 81.17, "citeseer": 69.63, "pubmed": 77.25, "cs": 90.39,
                         "physics": 91.81, "photo": 92.04, "computers": 83.62, "arxiv": 71.55}

REFERENCE_REGEVO100_VALID = {"cora": 80.93, "citeseer": 71.47, "pubmed": 80.09, "cs": 91.57,
                             "physics": 92.58, "photo": 93.44, "computers": 91.08,
                             "arxiv": 73.36, "proteins": 85.07}

NOTES = [
    "mdesign = the defaults of `mdesign refine` (3 sources by meta-features, best source's "
    "best as start, expand the best seen, residual planners, Bayesian calibration, one "
    "edit per step). mdesign-reference = the paper's loop (walk on from the current "
    "architecture, evidence with planner fallback); mdesign-reference-nocal = the greedy "
    "refinement without calibration (the required baseline).",
    "mdesign-surrogate = `--strategy surrogate` with its defaults (UCB, a portfolio of 2, "
    "the Hamming kernel: the configuration nested leave-one-dataset-out chose over all its "
    "inner pairs, benchmarks/results/nested_protocol.md); mdesign-surrogate-ei = the same "
    "with expected improvement (the previous default); mdesign-nested = for each target "
    "the configuration that protocol chose from the other 8 datasets only (the honest "
    "estimate, on these 9, of choosing a configuration by it).",
    "Every budget of a budget-independent method is read from one run at budget 100 "
    "(identical to separate runs: tested); regevo runs per budget.",
    "mdesign-uncertainty equals mdesign here: NAS-Bench-Graph stores no std of results.",
    "mdesign-maxparams: limit = the median parameter count of the target's space; the "
    "returned architecture always respects it, so its scores are not comparable 1:1.",
    "mdesign-anchors pays 5 anchors (the candidates' best architectures) out of the budget.",
    "mdesign-predictor: gains a source never measured (proteins measured 2,021 of 26,206 "
    "architectures) come from a performance predictor trained on the other 8 datasets "
    "(`loo-<target>`, trained or reused first); it changes only targets with proteins "
    "among their sources (photo, computers, arxiv): run it with `--tasks "
    "photo,computers,arxiv --methods mdesign,mdesign-predictor --seeds 1 --out "
    "refine_predictor`.",
    "mdesign-generator: before the start, 3 architectures proposed by a diffusion generator "
    "whose guide never saw the target (`loo-gen-<target>`, the generators of "
    "benchmarks/diffusion.py, reused; conditioned on the target's meta-features only, as "
    "the default run pays no anchors) are paid for, and the walk expands from the best: "
    "mdesign-generator-patience5 also pays for the generator's next proposal whenever 5 "
    "paid evaluations in a row found no new best. Run both with `--tasks "
    "cora,citeseer,pubmed,cs,physics,photo,computers,arxiv --methods "
    "mdesign,mdesign-generator,mdesign-generator-patience5 --seeds 1 --out "
    "refine_generator`.",
]


def transfer_signal(kb: object, tasks: list[str]) -> dict[str, dict[str, int]]:
    """Where the other tasks put each target's validation-best architecture: its rank
    (1 = top) when the target's space is ordered by the mean of the other tasks'
    standardised scores (each architecture averaged over the tasks that measured it)."""
    import numpy as np
    from mdesign.refinement.evaluators import load_target_table

    tables = {t: load_target_table(kb, t) for t in DATASETS}  # type: ignore[arg-type]
    out = {}
    for t in tasks:
        uids = sorted(tables[t])
        z = []
        for o in (o for o in DATASETS if o != t):
            v = np.array([tables[o][u].score if u in tables[o] else np.nan for u in uids])
            z.append((v - np.nanmean(v)) / (np.nanstd(v) or 1.0))
        consensus = np.nanmean(np.array(z), axis=0)
        best = max(uids, key=lambda u: (tables[t][u].score, u))
        rank = int((consensus > consensus[uids.index(best)]).sum()) + 1
        out[t] = {"rank": rank, "of": len(uids)}
    return out


def signal_notes(signal: dict[str, dict[str, int]]) -> list[str]:
    if not signal:
        return []
    ranks = ", ".join(f"{t} {v['rank']:,}" for t, v in signal.items())
    n = max(v["of"] for v in signal.values())
    return ["Transfer signal: rank of each target's validation-best architecture when its "
            "space is ordered by the mean standardised validation of the other 8 datasets "
            f"(1 = top, of {n:,}; proteins: of its own 2,021): {ranks}. Evidence from "
            "other tasks cannot point "
            "at architectures it ranks that low; a hit needs search on the target itself."]


def merge_previous(previous: dict, new: dict, methods: list[str], rerun: list[str],
                   path: Path) -> dict:
    """``--rerun``: ``new`` (a run of the ``rerun`` methods only) with the rows, curves and
    determinism checks of the other ``methods`` read from ``previous`` (the file's last
    run, at ``path``), in the order of ``methods``. Exits with one line if the previous
    run was of other tasks, budgets, seeds or selection, or lacks a method."""
    def fail(problem: str) -> NoReturn:
        sys.exit(f"error: {path} {problem}; fix: run every method (drop --rerun)")

    for field in ("tasks", "budgets", "seeds", "select"):
        if previous.get(field, "valid" if field == "select" else None) != new[field]:
            fail(f"holds a run with {field} {previous.get(field)}, not {new[field]}")
    kept = [m for m in methods if m not in rerun]
    if missing := [m for m in kept if m not in previous.get("methods", [])]:
        fail(f"holds no run of {missing[0]}")
    order = {(t, m): (i, j) for i, t in enumerate(new["tasks"])
             for j, m in enumerate(methods)}
    rows = [r for r in previous["rows"] if r["method"] in kept] + new["rows"]
    rows.sort(key=lambda r: (*order[(r["task"], r["method"])], r["budget"]))
    curves = {k: v for k, v in previous.get("curves", {}).items()
              if k.split("|", 1)[1] in kept}
    curves.update(new.get("curves", {}))
    curves = {f"{t}|{m}": curves[f"{t}|{m}"] for t in new["tasks"] for m in methods
              if f"{t}|{m}" in curves}
    determinism = {m: v for m, v in previous.get("deterministic", {}).items() if m in kept}
    determinism.update(new.get("deterministic", {}))
    # which run each method's rows come from, newest first, so that the header names the
    # wall time of the run that produced them, however many --rerun ago that was
    runs = [{"methods": list(rerun), "wall_s": new["wall_s"]}]
    for run in report.row_runs(previous):
        if still := [m for m in run["methods"] if m in kept]:
            runs.append({"methods": still, "wall_s": run["wall_s"]})
    return {**new, "methods": list(methods), "rows": rows, "curves": curves,
            "deterministic": determinism, "targets": protocol.targets(rows, new["tasks"]),
            "reran": list(rerun), "runs": runs}


def test_selection_markdown(o: dict, candidates: list[str]) -> str:
    """The test-selection table: mdesign@10 and @30 against DesiGNN@10/@30, and the
    target for each of ``candidates``."""
    get = {(r["task"], r["budget"], r["method"]): r for r in o["rows"]}
    tasks = [t for t in o["tasks"] if t in DESIGNN_TEST[30]]
    lines = ["# Test-selection protocol on NAS-Bench-Graph (the oracle reveals test)", "",
             f"Machine: {o['machine']['cpu']}, {o['machine']['cores']} cores; "
             f"{o['seeds']} seeds for stochastic methods (mean ± sd); wall time "
             f"{o['wall_s']} s{report.reran_text(o)}. Cells: best test accuracy % paid for after "
             "b evaluations. "
             "DesiGNN and its random search: the published numbers (supplementary Tables 8 "
             "and 10), not re-run here.", "",
             "| task | " + " | ".join(f"{m}@{b}" for m in o["methods"] for b in (10, 30))
             + " | DesiGNN@10 | DesiGNN@30 | DesiGNN random@30 |",
             "|---|" + "---|" * (2 * len(o["methods"]) + 3)]
    for t in tasks:
        cells = []
        for m in o["methods"]:
            for b in (10, 30):
                r = get.get((t, b, m))
                cells.append("" if r is None else f"{r['test_mean']:.2f}" +
                             (f" ± {r['test_sd']:.2f}" if r["runs"] > 1 else ""))
        lines.append(f"| {t} | " + " | ".join(cells) + f" | {DESIGNN_TEST[10][t]:.2f} | "
                     f"{DESIGNN_TEST[30][t]:.2f} | {DESIGNN_RANDOM30_TEST[t]:.2f} |")
    for c in candidates:
        if all((t, 10, c) in get for t in tasks):
            beat = [t for t in tasks
                    if report.at_least(get[(t, 10, c)]["test_mean"], DESIGNN_TEST[30][t])]
            lines += ["", f"Target: {c}@10 >= DesiGNN@30 on at least 6 of 8: "
                          f"**{len(beat)}/{len(tasks)}** ({', '.join(beat) or 'none'})."]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", default=",".join(DATASETS))
    ap.add_argument("--budgets", default="10,20,50,100")
    ap.add_argument("--methods", default=",".join(FULL_METHODS))
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--small", action="store_true", help="the CI configuration")
    ap.add_argument("--rewrite", action="store_true",
                    help="re-derive targets, markdown and plot from the existing JSON")
    ap.add_argument("--out", default=None, help="file name stem")
    ap.add_argument("--select", choices=("valid", "test"), default="valid",
                    help="test: the oracle reveals test accuracy and the methods select on "
                    "it (writes the test-selection table)")
    ap.add_argument("--candidate", default="mdesign-surrogate",
                    help="the method(s), comma-separated, whose targets of a new default are "
                    "reported")
    ap.add_argument("--out-dir", type=Path, default=RESULTS)
    ap.add_argument("--rerun", default="", help="comma-separated methods of --methods to "
                    "run; the others' rows are read from the previous OUT.json (for a "
                    "change that only they see, e.g. a new nested choice)")
    args = ap.parse_args()
    if args.small:
        args.tasks, args.budgets, args.seeds = "cora,proteins", "10,20", 3
    logging.getLogger("neo4j").setLevel(logging.CRITICAL)
    name = args.out or ("refine_nasbenchgraph_small" if args.small else "refine_nasbenchgraph")
    title = "Refinement on NAS-Bench-Graph, leave one dataset out"
    if args.rewrite:
        out = json.loads((args.out_dir / f"{name}.json").read_text())
        if out.get("select") != "test":
            from mdesign.kb import KnowledgeBase

            with KnowledgeBase.connect() as kb:
                out["space_best"] = {t: protocol.task_context(kb, t).best_score * 100
                                     for t in out["tasks"]}
                out["transfer_signal"] = transfer_signal(kb, out["tasks"])
        write_report(out, args.out_dir, name, title, args.candidate.split(","))
        return
    import torch

    torch.set_num_threads(1)
    from mdesign.kb import KnowledgeBase

    methods = args.methods.split(",")
    rerun = [m for m in args.rerun.split(",") if m]
    if unknown := [m for m in rerun if m not in methods]:
        sys.exit(f"error: --rerun names {unknown[0]}, which --methods does not; fix: add "
                 "it to --methods")
    previous_path = args.out_dir / f"{name}.json"
    if rerun and not previous_path.exists():
        sys.exit(f"error: {previous_path} does not exist; fix: run every method (drop "
                 "--rerun)")
    with KnowledgeBase.connect() as kb:
        out = protocol.run_protocol(kb, args.tasks.split(","),
                                    [int(b) for b in args.budgets.split(",")],
                                    rerun or methods, args.seeds,
                                    progress=lambda m: print(m, file=sys.stderr, flush=True),
                                    select=args.select,
                                    checkpoint=args.out_dir / f"{name}.partial.jsonl")
        if rerun:
            out = merge_previous(json.loads(previous_path.read_text()), out, methods,
                                 rerun, previous_path)
        if args.select == "test":
            args.out_dir.mkdir(parents=True, exist_ok=True)
            (args.out_dir / f"{name}.json").write_text(json.dumps(out, indent=1) + "\n")
        else:
            out["transfer_signal"] = transfer_signal(kb, out["tasks"])
    write_report(out, args.out_dir, name, title, args.candidate.split(","))


def write_report(out: dict, out_dir: Path, name: str, title: str, candidates: list[str]
                 ) -> None:
    """The markdown of a run (from a run or ``--rewrite``): the test-selection table for
    a run that selected on test; otherwise the targets (each of ``candidates``' too),
    the notes, and the report's JSON, markdown and plot."""
    if out.get("select") == "test":
        text = test_selection_markdown(out, candidates)
        (out_dir / f"{name}.md").write_text(text)
        print(text)
        return
    out["targets"] = report.targets(out["rows"], out["tasks"], REFERENCE_REGEVO100_VALID)
    for candidate in candidates:
        if candidate in out["methods"]:
            out["targets"].update(report.candidate_targets(out["rows"], out["tasks"],
                                                           candidate))
    out["notes"] = NOTES + signal_notes(out["transfer_signal"])
    print(report.write(out, out_dir, name, title)[1].read_text())


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()

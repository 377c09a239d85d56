"""How much can other tasks say about a target's best architectures? The transfer ceiling
of NAS-Bench-Graph, leave one dataset out (docs/refinement.md, "What the sources can
give").

    python benchmarks/transfer_ceiling.py

No refinement runs here: this reads the 9 complete tables (the ``nas-bench-graph``
package, as ``mdesign kb import`` stores them; no server) and measures, for each target
with the other 8 datasets as its sources, what any method that learns from the sources
could get out of them at the top of the target's space, which is where issue 20's
targets are set:

- ``rho``: Spearman correlation between the target's validation and the sources'
  consensus (the mean of their normal scores; a source that never measured an
  architecture is left out of its mean), over the whole space and within the target's
  own top 10% (how well the consensus orders the architectures that matter).
- ``lift``: P(the target's top 1% | the consensus's top 2%) / 1%, and the same for the
  single source with the highest lift, found with hindsight (no method knows it
  before paying): 1 = the sources say nothing about the target's top.
- ``P(bar in 20)``: the bar is regularised evolution's mean validation at budget 100
  (the reference table of ``benchmarks/refine_nasbenchgraph.py``, 20 seeds), the score
  issue 20's target 1 asks of a method at budget 20. The probability that 20
  architectures drawn uniformly from the consensus's top 2% (or the hindsight-best
  source's) include one at or above the bar, ``1 - (1 - p)^20``, beside random search's
  over the whole space.
- ``evals to top 1%``: paying in the consensus's order, and in the order of the
  hindsight-best single source, the evaluations until a top-1% architecture (by
  validation) is paid (issue 20's target 4 asks for a median of at most 8).
- ``valid~test (top 10%)``: Spearman between validation and test within the target's
  top 10% by validation: how much of the order at the top is the noise of one split
  (a quantity no other task can predict).

Writes ``benchmarks/results/transfer_ceiling.{json,md,png}``.
"""

from __future__ import annotations

import statistics
from typing import Any

import numpy as np
from mdesign.benchmarks.nested_protocol import load_tables
from mdesign.benchmarks.refine_nasbenchgraph import REFERENCE_REGEVO100_VALID
from mdesign.benchmarks.report import RESULTS, machine, machine_text, save
from mdesign.core.stats import spearman
from mdesign.kb.importers.nas_bench_graph import DATASETS
from mdesign.refinement.surrogate import normal_scores

TOP = 0.01      # the target's top share that counts as "found"
REGION = 0.02   # the share of the sources' order that a method would search first
DRAWS = 20      # issue 20's target 1: budget 20


def top_mask(values: np.ndarray, share: float) -> np.ndarray:
    """The architectures at or above the ``1 - share`` quantile (ties included)."""
    return values >= np.quantile(values, 1 - share)


def evals_until(order: np.ndarray, hit: np.ndarray) -> int:
    """Evaluations until the first ``hit`` when paying in ``order``."""
    return int(np.argmax(hit[order])) + 1


def ceiling(target: str, valid: dict[str, np.ndarray], test: np.ndarray,
            sources: dict[str, np.ndarray]) -> dict[str, Any]:
    """The measures of the module's docstring for one target. ``valid[target]`` and
    ``test``: the target's scores over its space; ``sources[s]``: source ``s``'s
    validation over the same architectures (NaN where it measured none)."""
    y = valid[target]
    top = top_mask(y, TOP)
    bar = REFERENCE_REGEVO100_VALID[target] / 100
    above = y >= bar - 1e-9
    z = {}
    for s, v in sources.items():
        known = ~np.isnan(v)
        col = np.full(len(v), np.nan)
        col[known] = normal_scores(v[known])
        z[s] = col
    consensus = np.nanmean(np.column_stack(list(z.values())), axis=1)
    region = top_mask(consensus, REGION)
    per_source = {}
    for s, col in z.items():
        known = ~np.isnan(col)
        in_region = known & (col >= np.quantile(col[known], 1 - REGION))
        order = np.argsort(-np.where(known, col, -np.inf), kind="stable")
        per_source[s] = {"lift": float(top[in_region].mean() / TOP),
                         "p_bar": float(above[in_region].mean()),
                         "evals_top1": evals_until(order, top)}
    best_lift = max(per_source, key=lambda s: per_source[s]["lift"])
    best_bar = max(per_source, key=lambda s: per_source[s]["p_bar"])
    best_evals = min(per_source, key=lambda s: per_source[s]["evals_top1"])
    good = top_mask(y, 0.10)
    p_region = float(above[region].mean())
    return {
        "architectures": len(y),
        "bar": round(bar * 100, 2),
        "share_at_bar": float(above.mean() * 100),
        "rho_all": spearman(consensus.tolist(), y.tolist()),
        "rho_top10": spearman(consensus[good].tolist(), y[good].tolist()),
        "lift_consensus": float(top[region].mean() / TOP),
        "lift_best_source": per_source[best_lift]["lift"],
        "best_lift_source": best_lift,
        "p_bar_20_random": 1 - (1 - float(above.mean())) ** DRAWS,
        "p_bar_20_consensus": 1 - (1 - p_region) ** DRAWS,
        "p_bar_20_best_source": 1 - (1 - per_source[best_bar]["p_bar"]) ** DRAWS,
        "best_bar_source": best_bar,
        "evals_top1_consensus": evals_until(np.argsort(-consensus, kind="stable"), top),
        "evals_top1_best_source": per_source[best_evals]["evals_top1"],
        "best_evals_source": best_evals,
        "valid_test_rho_top10": spearman(y[good].tolist(), test[good].tolist()),
        "per_source": per_source,
    }


def plot(rows: dict[str, dict[str, Any]], path: Any) -> None:
    """The lift of each source (and of the consensus) at the top of each target."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = [*DATASETS, "consensus"]
    grid = np.full((len(rows), len(cols)), np.nan)
    for i, r in enumerate(rows.values()):
        for j, s in enumerate(cols):
            if s == "consensus":
                grid[i, j] = r["lift_consensus"]
            elif s in r["per_source"]:
                grid[i, j] = r["per_source"][s]["lift"]
    fig, ax = plt.subplots(figsize=(9, 5.5))
    im = ax.imshow(grid, cmap="viridis", vmin=0, vmax=max(10.0, float(np.nanmax(grid))))
    for i in range(grid.shape[0]):
        for j in range(grid.shape[1]):
            if not np.isnan(grid[i, j]):
                ax.text(j, i, f"{grid[i, j]:.1f}", ha="center", va="center", fontsize=8,
                        color="white" if grid[i, j] < 5 else "black")
    ax.set_xticks(range(len(cols)), cols, rotation=35, ha="right")
    ax.set_yticks(range(len(rows)), list(rows))
    ax.set_xlabel("source (its top 2%)")
    ax.set_ylabel("target")
    ax.set_title("Lift of the target's top 1% inside a source's top 2% (1 = no information)")
    fig.colorbar(im, ax=ax, label="lift")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    tables = load_tables()
    rows = {}
    for target in DATASETS:
        keys = list(tables[target].results)
        res = tables[target].results
        valid = {target: np.array([res[k].valid for k in keys])}
        test = np.array([res[k].test for k in keys])
        sources = {s: np.array([tables[s].results[k].valid if k in tables[s].results
                                else np.nan for k in keys])
                   for s in DATASETS if s != target}
        rows[target] = ceiling(target, valid, test, sources)
    none = [t for t, r in rows.items() if r["lift_best_source"] < 2]
    weak = [t for t, r in rows.items() if r["p_bar_20_best_source"] < 0.5]
    out = {"machine": machine(), "top": TOP, "region": REGION, "draws": DRAWS,
           "targets": rows,
           "median_evals_top1_consensus": statistics.median(
               r["evals_top1_consensus"] for r in rows.values()),
           "median_evals_top1_best_source": statistics.median(
               r["evals_top1_best_source"] for r in rows.values()),
           "no_lift": none, "bar_out_of_reach": weak}
    lines = [
        "# The transfer ceiling of NAS-Bench-Graph (leave one dataset out)", "",
        f"{machine_text(out['machine'])}. No search is run: each target's complete table "
        "against its 8 sources' (benchmarks/transfer_ceiling.py says how each column is "
        "computed). Consensus = the mean of the sources' normal scores. Best source = "
        "the one source that does best on that column, chosen with hindsight (no method "
        "can know it before paying). Bar = regularised evolution's mean validation at "
        "budget 100 (reference table, 20 seeds): what issue 20's target 1 asks at "
        "budget 20.", "",
        "| target | rho (all) | rho (target's top 10%) | lift: consensus | lift: best "
        "source | bar (% of space at or above) | P(bar in 20): random | consensus top 2% "
        "| best source's top 2% | evals to top 1%: consensus order | best source's order "
        "| valid~test (top 10%) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for t, r in rows.items():
        lines.append(
            f"| {t} | {r['rho_all']:.2f} | {r['rho_top10']:.2f} | {r['lift_consensus']:.1f} "
            f"| {r['lift_best_source']:.1f} ({r['best_lift_source']}) | {r['bar']:.2f} "
            f"({r['share_at_bar']:.2f}%) | {r['p_bar_20_random']:.2f} "
            f"| {r['p_bar_20_consensus']:.2f} | {r['p_bar_20_best_source']:.2f} "
            f"({r['best_bar_source']}) | {r['evals_top1_consensus']} "
            f"| {r['evals_top1_best_source']} ({r['best_evals_source']}) "
            f"| {r['valid_test_rho_top10']:.2f} |")
    lines += [
        "",
        f"- No source lifts the target's top 1% by 2x or more (even the hindsight-best "
        f"one): **{', '.join(none) or 'none'}**. There the sources cannot point at the "
        "target's best architectures; a method can only search the target itself, as "
        "knowledge-free search does.",
        f"- 20 draws from the hindsight-best source's top 2% reach the bar with "
        f"probability under 0.5 on **{', '.join(weak) or 'none'}** "
        f"({len(weak)} of {len(rows)}; target 1 allows 1 miss).",
        f"- Median evaluations to a top-1% architecture: "
        f"{out['median_evals_top1_consensus']} in the consensus's order, "
        f"{out['median_evals_top1_best_source']} in the hindsight-best single source's "
        "order (target 4: at most 8).",
        "", "![lift](transfer_ceiling.png)"]
    save("transfer_ceiling", out, lines)
    plot(rows, RESULTS / "transfer_ceiling.png")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

"""Reports of the benchmarks: the machine record every result file carries, and the
refinement protocol's targets, markdown table, summary plot and files."""

from __future__ import annotations

import json
import os
import platform
import statistics
from pathlib import Path
from typing import Any

from mdesign.benchmarks.methods import PLOT_METHODS
from mdesign.refinement.config import TRANSFER_LED

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict[str, Any]:
    """The machine a result was measured on: CPU model, cores, memory, Python."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": round(mem, 1),
            "python": platform.python_version()}


def at_least(a: float, b: float) -> bool:
    """``a >= b`` for scores in %, up to float rounding: two methods that returned the same
    architectures have means summed in different orders (a tie is "at least")."""
    return a >= b - 1e-9


def targets(rows: list[dict[str, Any]], tasks: list[str],
            reference: dict[str, float] | None = None) -> dict[str, str]:
    """The issue's targets, against regularised evolution run here and, when given,
    against a reference table (task -> regevo@100 validation %)."""
    get = {(r["task"], r["budget"], r["method"]): r for r in rows}
    out = {}
    if reference and all((t, 20, "mdesign") in get and t in reference for t in tasks):
        beat = [t for t in tasks if at_least(get[(t, 20, "mdesign")]["valid_mean"], reference[t])]
        out["mdesign@20 valid >= regevo@100 valid (reference table)"] = \
            f"{len(beat)}/{len(tasks)} ({', '.join(beat) or 'none'})"
    if all((t, 20, "mdesign") in get and (t, 100, "regevo") in get for t in tasks):
        beat = [t for t in tasks if at_least(get[(t, 20, "mdesign")]["valid_mean"],
                                             get[(t, 100, "regevo")]["valid_mean"])]
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


PEERS = ("random", "regevo", "tpe", "tpe-warm", "consensus", "mdesign-reference")


def candidate_targets(rows: list[dict[str, Any]], tasks: list[str], method: str,
                      peers: tuple[str, ...] = PEERS) -> dict[str, str]:
    """The targets of a candidate default ``method`` (docs/refinement.md, "Targets"),
    against the peers measured in the same run."""
    get = {(r["task"], r["budget"], r["method"]): r for r in rows}
    budgets = sorted({r["budget"] for r in rows if r["method"] == method})
    out: dict[str, str] = {}
    if all((t, 20, method) in get and (t, 100, "regevo") in get for t in tasks):
        beat = [t for t in tasks if at_least(get[(t, 20, method)]["valid_mean"],
                                             get[(t, 100, "regevo")]["valid_mean"])]
        out[f"{method}@20 valid >= regevo@100 valid (target: 8 of 9)"] = \
            f"{len(beat)}/{len(tasks)} ({', '.join(beat) or 'none'})"
    present = [p for p in peers if any(r["method"] == p for r in rows)]
    for b in budgets:
        ahead = [t for t in tasks if (t, b, method) in get and all(
            at_least(get[(t, b, method)]["valid_mean"], get[(t, b, p)]["valid_mean"])
            for p in present if (t, b, p) in get)]
        out[f"{method}@{b} valid >= every peer ({', '.join(present)})"] = \
            f"{len(ahead)}/{len(tasks)}"
    top = budgets[-1] if budgets else None
    firsts = [get[(t, top, method)].get("evals_to_top1") for t in tasks
              if (t, top, method) in get]
    firsts = [f for f in firsts if f is not None]
    if firsts:
        out[f"{method}: median evaluations to a top-1% architecture (target <= 8)"] = \
            f"{statistics.median(firsts):g} (per task: {', '.join(f'{f:g}' for f in firsts)})"
    over = [get[(t, top, method)]["overhead_ms_per_step"] for t in tasks
            if (t, top, method) in get and get[(t, top, method)]["overhead_ms_per_step"]
            is not None]
    if over:
        out[f"{method} overhead per step at budget {top} (median over tasks; target <= 50 "
            "ms)"] = f"{statistics.median(over):.1f} ms"
    return out


def row_runs(o: dict[str, Any]) -> list[dict[str, Any]]:
    """The runs that ``o``'s rows come from, newest first: ``[{"methods", "wall_s"}]``.
    A file written by one run of every method has one; ``--rerun`` adds one per rerun."""
    return o.get("runs") or [{"methods": list(o["methods"]), "wall_s": o["wall_s"]}]


def reran_text(o: dict[str, Any]) -> str:
    """What a header adds when only some methods ran (``--rerun``): the wall time of each
    earlier run whose rows the file keeps."""
    if not o.get("reran"):
        return ""
    earlier = row_runs(o)[1:]
    if len(earlier) == 1:
        return (f" for {', '.join(o['reran'])} (the other methods' rows read from an earlier "
                f"run of this file, whose wall time was {earlier[0]['wall_s']} s)")
    parts = [f"{', '.join(r['methods'])} from one of {r['wall_s']} s" for r in earlier[:-1]]
    return (f" for {', '.join(o['reran'])} (the other methods' rows read from earlier runs "
            f"of this file: {'; '.join(parts)}; the others from one of "
            f"{earlier[-1]['wall_s']} s)")


def markdown(o: dict[str, Any], title: str) -> str:
    m = o["machine"]
    single = sorted({r["task"] for r in o["rows"] if r["split"] == "single"})
    lines = [f"# {title}", "",
             f"Machine: {m['cpu']}, {m['cores']} cores. Stochastic methods: {o['seeds']} "
             "seeds (mean ± sd); deterministic methods: one run (determinism checked by a "
             f"second run: {o['deterministic'] or 'not checked'}). Wall time {o['wall_s']} s"
             f"{reran_text(o)}. "
             "Scores in %: validation (what a method selects on) / test; top% = share of "
             "the space at least as good on test (top% valid: by validation); regret = "
             "search-space best minus the mean returned, by validation; evals to top-1% = "
             "median paid evaluations until a top-1% architecture by validation was paid "
             "(budget + 1: never); hits = runs that returned the search-space "
             "best by validation; overhead = the method's own wall time per step outside "
             "evaluation (median)."]
    if o.get("select") == "test":
        lines += ["", "Selection on test: the oracle revealed test scores and every method "
                      "selected on them, so the valid columns are test scores too."]
    if single:
        lines += ["", f"Single-metric tasks ({', '.join(single)}): the one metric is used for "
                      "both selection and report, so valid and test columns are the same."]
    if o.get("notes"):
        lines += ["", *[f"- {n}" for n in o["notes"]]]
    lines += ["", "## Targets", ""]
    lines += [f"- {k}: **{v}**" for k, v in o["targets"].items()]
    lines += found_by_markdown(o["rows"])
    lines += ["", "| task | budget | method | valid | test | top% | top% valid | regret | "
              "evals to top-1% | hits | params | overhead ms/step |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in o["rows"]:
        sd_v = f" ± {r['valid_sd']:.2f}" if r["runs"] > 1 else ""
        sd_t = f" ± {r['test_sd']:.2f}" if r["runs"] > 1 else ""
        over = "" if r["overhead_ms_per_step"] is None else f"{r['overhead_ms_per_step']:.1f}"
        params = "" if r["params_mean"] is None else f"{r['params_mean']:.3g}"
        if r["max_params"] is not None:
            params += f" (≤ {r['max_params']:.3g})"
        lines.append(f"| {r['task']} | {r['budget']} | {r['method']} | "
                     f"{r['valid_mean']:.2f}{sd_v} | {r['test_mean']:.2f}{sd_t} "
                     f"| {r['top_pct']:.1f} | {_num(r.get('top_pct_valid'), '.2f')} "
                     f"| {_num(r.get('regret_valid'), '.2f')} "
                     f"| {_num(r.get('evals_to_top1'), 'g')} "
                     f"| {r['hits']}/{r['runs']} | {params} | {over} |")
    return "\n".join(lines) + "\n"


def found_by_markdown(rows: list[dict[str, Any]]) -> list[str]:
    """Per refinement and budget, what chose the returned architecture, summed over the
    tasks (rows that recorded it): the step kind, or for the surrogate's search steps
    whether transfer (p(sources transfer) >= ``TRANSFER_LED`` when it chose) or the
    target-only model led."""
    counts: dict[tuple[str, int], dict[str, int]] = {}
    for r in rows:
        for how, n in r.get("found_by", {}).items():
            per = counts.setdefault((r["method"], r["budget"]), {})
            per[how] = per.get(how, 0) + n
    if not counts:
        return []
    lines = ["", "## What found the returned architecture", "",
             "Runs over all tasks and seeds. *design*: the surrogate's first design (a "
             "portfolio best across the sources; without transfer, random draws); "
             "*transfer-led search* / *target-led search*: a surrogate acquisition step "
             f"taken with p(sources transfer) at or above {TRANSFER_LED} / below it (the "
             "target-only model held most of the posterior); *start*, *edit*, ...: the "
             "walk's steps.",
             "", "| method | budget | what chose it (runs) |", "|---|---|---|"]
    for (method, budget), per in counts.items():
        total = sum(per.values())
        lines.append(f"| {method} | {budget} | " + ", ".join(
            f"{how} {n} ({100 * n / total:.0f}%)" for how, n in
            sorted(per.items(), key=lambda kv: (-kv[1], kv[0]))) + " |")
    return lines


def _num(v: float | None, fmt: str) -> str:
    return "" if v is None else format(v, fmt)


def plot(o: dict[str, Any], path: Path) -> None:
    """One summary figure: mean best-so-far (selection score) against budget, per task."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = o["tasks"]
    # the main methods only (the ablations are in the table): a readable figure
    main = [m for m in o["methods"] if m in PLOT_METHODS] or o["methods"]
    colours = dict(zip(PLOT_METHODS, ["tab:blue", "tab:cyan", "tab:purple", "tab:gray",
                                      "tab:orange", "tab:green", "tab:red", "black",
                                      "tab:pink", "tab:olive"], strict=True))
    cols = min(3, len(tasks))
    rows_n = (len(tasks) + cols - 1) // cols
    fig, axes = plt.subplots(rows_n, cols, figsize=(4.2 * cols, 3.2 * rows_n), squeeze=False)
    for ax, task in zip(axes.flat, tasks, strict=False):
        for method in main:
            curve = o["curves"].get(f"{task}|{method}")
            if curve:
                ax.plot(range(1, len(curve) + 1), curve, label=method,
                        color=colours.get(method),
                        lw=2.2 if method in ("mdesign", "mdesign-surrogate") else 1.2)
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


def save(stem: str, data: dict[str, Any], lines: list[str]) -> None:
    """``results/<stem>.json`` (the data) and ``results/<stem>.md`` (the table lines)."""
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{stem}.json").write_text(json.dumps(data, indent=1) + "\n")
    (RESULTS / f"{stem}.md").write_text("\n".join(lines) + "\n")


def log_panels(path: Path, panels: list[tuple[str, list[float], dict[str, list[float]]]],
               xlabel: str, ylabel: str, *, bold: str = "mdesign-surrogate",
               invert_x: bool = False) -> None:
    """One row of panels ``(title, xs, {series: ys})`` on a log y axis, with one legend
    below them; ``bold`` is drawn thicker."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.4), squeeze=False)
    for ax, (title, xs, series) in zip(axes[0], panels, strict=True):
        for name, ys in series.items():
            ax.plot(xs, ys, marker="o", label=name, lw=2.2 if name == bold else 1.2)
        ax.set_yscale("log")
        if invert_x:
            ax.invert_xaxis()
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(title)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def machine_text(m: dict[str, Any]) -> str:
    """The machine line of a result table: ``Machine: <cpu>, <n> cores``."""
    return f"Machine: {m['cpu']}, {m['cores']} cores"


def write(o: dict[str, Any], out_dir: Path, name: str, title: str) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{name}.json", out_dir / f"{name}.md", out_dir / f"{name}.png"]
    paths[0].write_text(json.dumps(o, indent=1) + "\n")
    paths[1].write_text(markdown(o, title))
    plot(o, paths[2])
    return paths

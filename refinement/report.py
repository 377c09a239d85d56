"""A refinement run's report: JSON (the full result) and a PNG (two panels), and the
comparison of stored runs (``mdesign runs compare``).

Left: best-so-far selection score against evaluations spent, with every step's observed
score as a dot coloured by its kind (anchor, start, edit, ...; the legend names them).
Right: the source weights over the steps, which is where the calibration's "evolving
transferability" shows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mdesign.core.errors import shorten
from mdesign.kb.settings import confined, is_safe_name, safe_name, write_atomically
from mdesign.refinement.config import (
    RefinementResult,
    RefinementStep,
    provenance,
    spent_after,
)
from mdesign.refinement.runs import StoredRun

KIND_COLOURS = {"anchor": "tab:gray", "generated": "tab:purple", "start": "tab:green",
                "edit": "tab:blue", "design": "tab:olive", "search": "tab:cyan"}


def paths(directory: Path, run_id: str) -> tuple[Path, Path]:
    """Where the JSON report and the PNG plot of run ``run_id`` go: ``RUN_ID.json`` and
    ``RUN_ID.png`` directly in ``directory`` (a run id that is not a plain file name, one
    stored by an older version, say, becomes a safe one)."""
    stem = run_id if is_safe_name(run_id) else safe_name(run_id)
    return confined(directory, f"{stem}.json"), confined(directory, f"{stem}.png")


def _label(text: str, limit: int = 60) -> str:
    """A name as plot text: one line, not too long, never read as mathtext."""
    text = " ".join(text.split())
    text = shorten(text, limit)
    return text.replace("$", r"\$")


def write_json(result: RefinementResult, path: Path) -> Path:
    return write_atomically(path, lambda tmp: tmp.write_text(
        result.model_dump_json(indent=2) + "\n"))  # never a half-written report


def plot(result: RefinementResult, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    steps = result.steps
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    xs, best = _best_so_far(steps)
    by_kind: dict[str, tuple[list[int], list[float]]] = {}
    seen: set[str] = set()
    for x, s in zip(spent_after(steps), steps, strict=True):
        if s.uid in seen:
            continue  # a free re-read: the dot is already there
        seen.add(s.uid)
        by_kind.setdefault(s.kind, ([], []))
        by_kind[s.kind][0].append(x)
        by_kind[s.kind][1].append(s.score * 100)
    for kind, (kx, ky) in by_kind.items():  # every point, the start included
        ax1.scatter(kx, ky, s=18, color=KIND_COLOURS[kind], alpha=0.8, label=kind)
    ax1.step(xs, best, where="post", color="tab:red", lw=2, label="best so far")
    ax1.set_xlabel("evaluations spent")
    ax1.xaxis.set_major_locator(MaxNLocator(integer=True))
    metric = "validation" if result.split == "valid_test" else "score"
    ax1.set_ylabel(f"{metric} (%)")
    ax1.set_title(f"{_label(result.config.task)}: best {result.best.score * 100:.2f} "
                  f"after {result.spent}/{result.config.budget}")
    ax1.legend(loc="lower right", fontsize=8)
    edits = [s for s in steps if s.weights]
    for src in result.sources:
        ax2.plot([s.step for s in edits], [s.weights.get(src.task, 0.0) for s in edits],
                 label=_label(src.task), marker=".")
    ax2.set_xlabel("step")
    ax2.xaxis.set_major_locator(MaxNLocator(integer=True))
    if result.config.strategy == "surrogate":
        # posterior source coefficients (may be negative) and p(sources transfer)
        probs = [(s.step, s.transfer_probability) for s in steps
                 if s.transfer_probability is not None]
        if probs:
            ax2.plot(*zip(*probs, strict=True), color="black", ls="--", lw=2,
                     label="p(sources transfer)")
        ax2.set_ylabel("source coefficient / probability")
        ax2.set_title("sources in the surrogate's posterior")
    else:
        ax2.set_ylabel("source weight")
        ax2.set_ylim(0, 1)
        ax2.set_title("source weights (Bayesian calibration)")
    ax2.legend(fontsize=7, loc="best", ncol=2, framealpha=0.7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _best_so_far(steps: list[RefinementStep]) -> tuple[list[int], list[float]]:
    return spent_after(steps), [s.best_score * 100 for s in steps]


def comparison(runs: list[StoredRun]) -> list[dict[str, Any]]:
    """One row per run: what it was asked and what it found (``mdesign runs compare``)."""
    out = []
    for r in runs:
        best = next((s for s in r.steps if s.uid == r.best_uid), None)
        found = None if r.best_uid is None else provenance(r.steps, r.best_uid)
        out.append({"id": r.id, "name": r.name or "", "task": r.task,
                    "strategy": r.config.strategy, "evaluator": r.config.evaluator,
                    "status": r.status, "spent": f"{r.spent}/{r.budget}",
                    "best": r.best_uid or "",
                    "best valid": None if best is None else
                    round(100 * (best.valid if best.valid is not None else best.score), 3),
                    "best test": None if best is None or best.test is None
                    else round(100 * best.test, 3),
                    "best found at": None if found is None else found.evaluation,
                    "best found by": "" if found is None else
                    found.kind + ("" if found.led_by is None else f" ({found.led_by}-led)"),
                    "sources": ", ".join(r.sources),
                    "tags": " ".join(r.tags), "started": (r.started or "")[:19]})
    return out


def plot_comparison(runs: list[StoredRun], path: Path) -> Path:
    """The best-so-far curves of ``runs`` on one plot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    for r in runs:
        if r.steps:
            xs, best = _best_so_far(r.steps)
            label = _label(f"{r.name or r.id} ({r.task}, {r.config.strategy})", 70)
            ax.step(xs, best, where="post", lw=2, label=label)
    ax.set_xlabel("evaluations spent")
    ax.set_ylabel("best so far (%)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(f"{len(runs)} runs compared")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, lambda tmp: fig.savefig(tmp, dpi=100, format="png"))
    plt.close(fig)
    return path

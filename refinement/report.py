"""A refinement run's report: JSON (the full result) and a PNG (two panels).

Left: best-so-far selection score against evaluations spent, with each step's observed
score as dots (anchors, start, edits). Right: the source weights over the steps, which is
where the calibration's "evolving transferability" shows.
"""

from __future__ import annotations

from pathlib import Path

from mdesign.core.errors import shorten
from mdesign.kb.settings import confined, is_safe_name, safe_name, write_atomically
from mdesign.refinement.refine import RefinementResult


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

    steps = result.steps
    paid: dict[str, int] = {}
    xs, ys, best, colours = [], [], [], []
    colour = {"anchor": "tab:gray", "generated": "tab:purple", "start": "tab:green",
              "edit": "tab:blue", "design": "tab:olive", "search": "tab:cyan"}
    for s in steps:
        paid.setdefault(s.uid, len(paid) + 1)
        xs.append(paid[s.uid])
        ys.append(s.score * 100)
        best.append(s.best_score * 100)
        colours.append(colour[s.kind])
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    ax1.scatter(xs, ys, s=12, c=colours, alpha=0.6, label="observed")
    ax1.step(xs, best, where="post", color="tab:red", lw=2, label="best so far")
    ax1.set_xlabel("evaluations spent")
    metric = "validation" if result.split == "valid_test" else "score"
    ax1.set_ylabel(f"{metric} (%)")
    ax1.set_title(f"{_label(result.config.task)}: best {result.best.score * 100:.2f} "
                  f"after {result.spent}/{result.config.budget}")
    if ys:
        ax1.set_ylim(bottom=max(min(ys), max(best) - 10))
    ax1.legend(loc="lower right", fontsize=8)
    edits = [s for s in steps if s.weights]
    for src in result.sources:
        ax2.plot([s.step for s in edits], [s.weights.get(src.task, 0.0) for s in edits],
                 label=_label(src.task), marker=".")
    ax2.set_xlabel("step")
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
    ax2.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path

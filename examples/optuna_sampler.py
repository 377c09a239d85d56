"""mdesign's sampler in an Optuna study, side by side with Optuna's TPE.

    python examples/optuna_sampler.py [TRIALS] [PLOT.png]

A small PyTorch Geometric task: a 6-block stochastic block model graph (300 nodes,
``builtin:sbm:6:50``), added to the knowledge base as ``example-sbm6``; each trial trains
one NAS-Bench-Graph cell on it (the project's trainer, 30 epochs, one thread). One study
samples with :class:`~mdesign.integrations.optuna.MdesignSampler` (the cells come from
the refinement of ``example-sbm6`` with the nine NAS-Bench-Graph datasets as sources),
the other with :class:`optuna.samplers.TPESampler`, for the same number of trials. Prints
both best-so-far curves; with a path, writes them as one plot made by
``optuna.visualization.matplotlib`` (the README shows it). Needs the knowledge base of
``scripts/quickstart.sh``. The task's earlier results are forgotten first, so every run
starts from the same knowledge.
"""

from __future__ import annotations

import sys
import warnings

import optuna
from mdesign.integrations.optuna import MdesignSampler
from mdesign.kb import KnowledgeBase
from mdesign.kb.observations import forget_observations
from mdesign.tasks.store import add_task, load_task
from mdesign.training.config import TrainConfig
from mdesign.training.trainer import train_architecture

TASK, SPACE = "example-sbm6", "nas-bench-graph"


def main(trials: int = 12, plot: str | None = None) -> None:
    warnings.filterwarnings("ignore", category=FutureWarning)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    cfg = TrainConfig(epochs=30, seeds=1, threads=1)
    with KnowledgeBase.connect() as kb:
        add_task(kb, TASK, "builtin:sbm:6:50", "node")
        forget_observations(kb, TASK)
        data, space = load_task(kb, TASK), kb.space(SPACE)

        def objective(trial: optuna.Trial) -> float:
            arch = {d.name: trial.suggest_categorical(d.name, list(d.choices))
                    for d in space.dimensions}
            result = train_architecture(space, space.parse(arch), data, cfg)
            trial.set_user_attr("test", result.test)
            return result.valid if result.valid is not None else 0.0

        mdesign = MdesignSampler(kb, TASK, space=SPACE)
        studies = {"mdesign": optuna.create_study(direction="maximize", sampler=mdesign,
                                                  study_name="mdesign"),
                   "tpe": optuna.create_study(direction="maximize", study_name="tpe",
                                              sampler=optuna.samplers.TPESampler(seed=0))}
        for study in studies.values():
            study.optimize(objective, n_trials=trials)
        mdesign.close()
    print("trial  " + "  ".join(f"{n:>8}" for n in studies))
    best = dict.fromkeys(studies, 0.0)
    for i in range(trials):
        for n, s in studies.items():
            best[n] = max(best[n], s.trials[i].value or 0.0)
        print(f"{i + 1:5d}  " + "  ".join(f"{best[n]:8.4f}" for n in studies))
    first = studies["mdesign"].trials[0]
    print(f"mdesign's first trial: {first.user_attrs['mdesign_uid']} "
          f"({first.user_attrs['mdesign_reason']})")
    if plot:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib.ticker import MaxNLocator
        from optuna.visualization.matplotlib import plot_optimization_history

        ax = plot_optimization_history(list(studies.values()))
        ax.set_title(f"{TASK}: mdesign's sampler vs TPE")
        ax.set_ylabel("validation accuracy")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(loc="lower right", fontsize=8)
        ax.figure.set_size_inches(7, 4.2)
        ax.figure.savefig(plot, dpi=110, bbox_inches="tight")
        print(f"plot: {plot}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 12,
         sys.argv[2] if len(sys.argv) > 2 else None)

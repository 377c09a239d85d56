"""``mdesign refine``, ``mdesign suggest``, ``mdesign runs`` and ``mdesign bench refine``:
parse, call, print."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin

import click
from mdesign.cli.common import (
    OUTPUT,
    confirm_or_exit,
    open_kb,
    print_json,
    print_rows,
    validated,
)
from mdesign.core.errors import InputError
from pydantic import ValidationError


def _config(**values: Any) -> Any:
    from mdesign.refinement.refine import RefineConfig

    return validated(RefineConfig, "refine", **values)


def _train(**values: Any) -> Any:
    """The train evaluator's :class:`~mdesign.training.config.TrainConfig` from --epochs,
    --train-seeds, --threads and --ghn-init."""
    from mdesign.training.config import TrainConfig

    try:
        return TrainConfig(**values)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise InputError(f"training setting {err['loc'][0]}: {err['msg'].lower()}",
                         "see `mdesign refine --help`") from None


def _ghn_folder(kb: Any, name: str | None) -> str | None:
    """The checkpoint folder training workers read (checked here: one clear error now,
    not one in every worker)."""
    if name is None:
        return None
    from mdesign.predictors import store

    return str(store.load_meta(kb, name, expect="ghn")[0])


def _runs_dir() -> Path:
    from mdesign.kb import settings

    return settings.home() / "runs"


class StepTable:
    """The live table of steps, built with rich: labelled columns, one row per step as it
    happens (each row is a header-less table of the same column widths, so it reads the
    same when piped), the full architecture key and the sources' weights by name."""

    COLUMNS = (("step", 4, "right"), ("kind", 9, "left"), ("edit", 30, "left"),
               ("gain", 7, "right"), ("score", 7, "right"), ("best", 7, "right"),
               ("architecture", 46, "left"), ("source weights", 40, "left"))

    def __init__(self) -> None:
        self.started = False

    def _table(self, header: bool) -> Any:
        from rich.table import Table

        table = Table(box=None, show_header=header, header_style="bold", pad_edge=False,
                      padding=(0, 1))
        for name, width, justify in self.COLUMNS:
            table.add_column(name, min_width=width, justify=justify,  # type: ignore[arg-type]
                             overflow="fold")
        return table

    def __call__(self, s: Any) -> None:
        from mdesign.cli.common import console
        from mdesign.core.space import key_of

        edit = ""
        if s.dimension:
            edit = f"{s.dimension}: {s.from_choice} -> {s.to_choice}"
            if s.hops > 1:
                edit += f" (+{s.hops - 1} more)"
        gain = "" if s.observed_gain is None else f"{s.observed_gain * 100:+.2f}"
        top = sorted(s.weights.items(), key=lambda kv: -kv[1])[:3]
        table = self._table(header=not self.started)
        self.started = True
        table.add_row(str(s.step), s.kind, edit, gain, f"{s.score * 100:.2f}",
                      f"{s.best_score * 100:.2f}", key_of(s.uid),
                      ", ".join(f"{t} {w:.2f}" for t, w in top))
        console.print(table, markup=False, highlight=False)


# -- the options of `mdesign refine` --------------------------------------------------------
# One option per RefineConfig field, made from the field: --field-name, its default, its
# description as the help, a choice for a Literal, a flag for a bool (--name when it is off
# by default, --name/--no-name when on). The exceptions are spelled out here.

# Fields whose option is not the usual one: --no-calibrate has always been the option.
_SPECIAL_OPTIONS: dict[str, Callable[[Any], Any]] = {
    "calibrate": lambda field: click.option(
        "--no-calibrate", "calibrate", flag_value=False, default=True,
        help="keep the prior source weights"),
}
# Choices listed in another order than the field's Literal (as --help always has).
_CHOICE_ORDER = {"expand": ("best", "current"),
                 "planner": ("residual", "fallback", "always", "off")}
# Fields that no one option sets: train comes from --epochs, --train-seeds, --threads and
# --ghn-init (below).
_NOT_OPTIONS = {"train", "evaluator_version"}

# Where the options stand in --help (as they always have); an option not named here comes
# after these.
_HELP_ORDER = (
    "task", "budget", "evaluator", "sources", "seed", "similarity", "feature_similarity",
    "featureless_sources", "anchors", "start",
    "lookahead", "lookahead_engine", "expand", "planner", "planner_threshold",
    "planner_penalty", "predictor", "ghn", "ghn_pool", "ghn_init", "generator", "generated",
    "generator_patience", "calibrate", "window", "uncertainty", "backtrack", "max_params",
    "max_latency", "space", "resume_id", "run_name", "run_tags", "out", "quiet", "as_json",
    "epochs",
    "train_seeds", "threads",
    "batch", "workers", "executor", "address",
)


def config_option(name: str, field: Any) -> Any:
    """The click option of RefineConfig field ``name`` (a pydantic ``FieldInfo``)."""
    if name in _SPECIAL_OPTIONS:
        return _SPECIAL_OPTIONS[name](field)
    kind = field.annotation
    if get_origin(kind) in (Union, UnionType):  # X | None
        kind = next(a for a in get_args(kind) if a is not type(None))
    default = None if field.is_required() else field.default  # required: or --resume
    flag = "--" + name.replace("_", "-")
    extra: dict[str, Any] = {}
    if kind is bool:
        decls = [f"{flag}/--no-{flag[2:]}"] if default else [flag]
        extra["is_flag"] = True
    else:
        decls = [flag]
        if get_origin(kind) is Literal:
            choices = _CHOICE_ORDER.get(name, get_args(kind))
            if sorted(choices) != sorted(get_args(kind)):
                raise AssertionError(f"_CHOICE_ORDER[{name!r}] is not {get_args(kind)}")
            extra["type"] = click.Choice(choices)
        else:
            extra["type"] = kind
        extra["show_default"] = default is not None
    return click.option(*decls, name, default=default, help=field.description, **extra)


def _config_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add an option per RefineConfig field to ``command`` and put all its options (those
    added by the decorators under this one, too) in the order of the help."""
    from mdesign.refinement.refine import RefineConfig

    for name, field in RefineConfig.model_fields.items():
        if name not in _NOT_OPTIONS:
            command = config_option(name, field)(command)
    params = command.__click_params__  # type: ignore[attr-defined]
    rank = {n: i for i, n in enumerate(_HELP_ORDER)}
    # click lists the options in the reverse of __click_params__
    params.sort(key=lambda p: -rank.get(p.name, len(rank)))
    return command


@click.command("refine")
@_config_options
@click.option("--ghn-init", default=None,
              help="train evaluator: start every training from the weights this stored "
                   "graph hypernetwork generates")
@click.option("--resume", "resume_id", default=None, help="continue a stored run")
@click.option("--json", "as_json", is_flag=True,
              help="print the run's report as JSON (no live table)")
@click.option("--name", "run_name", default=None,
              help="a name for the run (`mdesign runs list --name`)")
@click.option("--tag", "run_tags", multiple=True, metavar="KEY=VALUE",
              help="label the run (repeat for several)")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="directory of the JSON report and PNG plot [default: MDESIGN_HOME/runs]")
@click.option("--quiet", is_flag=True, help="no live table")
@click.option("--epochs", type=int, default=100, show_default=True,
              help="train evaluator: most epochs per training")
@click.option("--train-seeds", type=int, default=2, show_default=True,
              help="train evaluator: seeds per architecture (mean and std)")
@click.option("--threads", type=int, default=1, show_default=True,
              help="train evaluator: torch threads")
@click.option("--workers", type=int, default=1, show_default=True,
              help="train evaluator: parallel trainings (local processes, or CPUs of a "
                   "private Ray instance)")
@click.option("--executor", type=click.Choice(["local", "ray"]), default="local",
              show_default=True, help="train evaluator: where trainings run")
@click.option("--address", default=None,
              help="Ray head node HOST:PORT to join (default: a private Ray instance)")
def refine_cmd(ghn_init: str | None, resume_id: str | None, as_json: bool,
               run_name: str | None, run_tags: tuple[str, ...], out: Path | None, quiet: bool,
               epochs: int, train_seeds: int, threads: int, workers: int, executor: str,
               address: str | None, **fields: Any) -> None:
    """Refine an architecture for TASK from the evidence of similar tasks."""
    from mdesign.cli.extras import require_for_refine

    task, budget, evaluator = fields["task"], fields["budget"], fields["evaluator"]
    require_for_refine(evaluator=evaluator, predictor=fields["predictor"], ghn=fields["ghn"],
                       ghn_init=ghn_init, generator=fields["generator"])
    from mdesign.kb import KnowledgeBase
    from mdesign.refinement import report, runs
    from mdesign.refinement.asktell import Refinement
    from mdesign.refinement.custom import is_custom
    from mdesign.refinement.custom import version as custom_version
    from mdesign.refinement.evaluators import make_evaluator
    from mdesign.refinement.target import resolve

    if ghn_init and evaluator != "train":
        raise InputError("--ghn-init starts trainings: it needs --evaluator train",
                         "add --evaluator train, or drop --ghn-init")
    tags = runs.parse_tags(run_tags)
    if resume_id is not None and (run_name or tags):
        raise InputError("--name and --tag label a new run", "drop them with --resume")
    if resume_id is None and (task is None or budget is None):
        raise InputError("refine needs a target task and a budget",
                         "pass --task NAME --budget B, or --resume RUN_ID")
    if out is not None and out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is not a directory",
                         "give a directory for the report and the plot (created if missing)")
    if resume_id is None:
        _config(**fields)  # a bad option is named before the server is reached
    with KnowledgeBase.connect() as kb:
        stored = None
        if resume_id is not None:
            stored = runs.resumable(kb, resume_id)
            config = stored.config
            require_for_refine(config)  # what the stored run, not the options, needs
        else:
            train = _train(epochs=epochs, seeds=train_seeds, threads=threads,
                           ghn=_ghn_folder(kb, ghn_init)) if evaluator == "train" else None
            config = _config(**fields, train=train)
            if is_custom(config.evaluator):  # the run records what provided it
                config = config.model_copy(
                    update={"evaluator_version": custom_version(config.evaluator)})
        task = kb.task(config.task)
        if stored is None and config.generator:
            # an unknown or wrong-kind name fails before any evaluation
            from mdesign.generation.generator import load_generator_meta

            load_generator_meta(kb, config.generator)
        target = resolve(kb, config, task)  # the task and its space, once for the run
        ev = make_evaluator(kb, config.evaluator, target, config.budget, train=config.train,
                            workers=workers, executor=executor, address=address,
                            version=config.evaluator_version, resuming=stored is not None)
        table = None if quiet or as_json else StepTable()
        # ask/tell with the evaluator as the caller: the one loop of every entry point
        if stored is None:
            refinement = Refinement(kb, config, evaluator=ev, target=target, on_step=table,
                                    name=run_name, tags=tags)
        else:
            refinement = Refinement.resuming(kb, stored, evaluator=ev, target=target,
                                             on_step=table)
        result = refinement.drive()
    j, p = report.paths(out or _runs_dir(), result.run_id)
    j = report.write_json(result, j)
    p = report.plot(result, p)
    if as_json:
        click.echo(result.model_dump_json(indent=2))
        return
    best = result.best
    click.echo("")
    click.echo(f"run {result.run_id}: {result.stopped} after {result.spent}/"
               f"{config.budget} evaluations; sources "
               + ", ".join(f"{s.task} ({s.similarity:+.2f})" for s in result.sources))
    for note in result.notes:
        click.echo(f"note: {note}")
    click.echo(f"best architecture: {best.uid}")
    if result.split == "single":
        click.echo(f"  score {best.score * 100:.2f} (single metric: selection and report)")
    else:
        test = "n/a" if best.test is None else f"{best.test * 100:.2f}"
        valid = best.valid if best.valid is not None else best.score
        click.echo(f"  validation {valid * 100:.2f}, test {test}")
    if (found := result.found) is not None:
        click.echo(f"  found at {found.describe()}")
    if best.params is not None:
        click.echo(f"  params {best.params:.4g}" + ("" if best.latency is None
                                                    else f", latency {best.latency:.4g}"))
    click.echo(f"report: {j}\nplot:   {p}")


@click.command("suggest")
@click.option("--task", required=True, help="the task to design for (in the knowledge base)")
@click.option("-n", "count", type=click.IntRange(1, 1000), default=10, show_default=True,
              help="how many architectures")
@click.option("--space", default=None, help="design space (default: the task's)")
@click.option("--json", "as_json", is_flag=True, help="print the suggestions as JSON")
def suggest_cmd(task: str, count: int, space: str | None, as_json: bool) -> None:
    """The first design for TASK from the evidence alone (nothing is evaluated): a warm
    start for NNI, Ray Tune or a loop of your own."""
    from mdesign.refinement.suggest import suggest

    with open_kb() as kb:
        found = suggest(kb, task, count, space=space)
    if as_json:
        print_json(found.model_dump())
        return
    for note in found.notes:
        click.echo(f"note: {note}")
    top = sorted(found.sources, key=lambda s: -s.weight)[:3]
    click.echo(f"{len(found.sources)} sources in {found.space}; heaviest: "
               + ", ".join(f"{s.task} ({s.weight:.2f})" for s in top))
    rows = []
    for sg in found.suggestions:
        measured = {t: v for t, v in sg.sources.items() if v.score is not None}
        best_of = sorted(measured.items(), key=lambda kv: -kv[1].weight)[:3]
        rows.append({"rank": sg.rank, "architecture": sg.uid, "predicted": sg.predicted,
                     "measured by": len(measured),
                     "heaviest sources' scores": ", ".join(
                         f"{t} {v.score:.4f}" for t, v in best_of) or "-"})
    print_rows(rows, f"suggestions for {task}")


@click.group("runs")
def runs_group() -> None:
    """Stored refinement runs."""


@runs_group.command("list")
@click.option("--limit", type=click.IntRange(1), default=50, show_default=True)
@click.option("--task", default=None, help="only runs of this target task")
@click.option("--name", default=None, help="only runs of this name (refine --name)")
@click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE",
              help="only runs with this tag (repeat: all of them)")
@click.option("--status", type=click.Choice(["running", "interrupted", "finished", "failed"]),
              default=None, help="only runs in this state")
@click.option("--json", "as_json", is_flag=True)
def runs_list(limit: int, task: str | None, name: str | None, tags: tuple[str, ...],
              status: str | None, as_json: bool) -> None:
    """Refinement runs, newest first: name, task, evaluator, status, spent/budget, best
    validation and test, duration, start, tags."""
    from mdesign.refinement import runs

    wanted = runs.parse_tags(tags)
    with open_kb() as kb:
        rows = runs.list_runs(kb, limit, task=task, name=name, status=status, tags=wanted)
    if as_json:
        print_json(rows)
        return
    if OUTPUT["format"] != "table":  # raw values for machines
        print_rows(rows)
        return
    print_rows([{"id": r["id"], "name": r["name"] or "", "task": r["task"],
                 "evaluator": r["evaluator"], "status": r["status"],
                 "spent": f"{r['spent'] or 0}/{r['budget']}",
                 "best valid": _pct(r["best_valid"] if r["best_valid"] is not None
                                    else r["best_score"]),
                 "best test": _pct(r["best_test"]),
                 "duration": _duration(r["seconds"]), "started": (r["started"] or "")[:19],
                 "tags": " ".join(r["tags"])} for r in rows], "refinement runs")


def _pct(v: float | None) -> str:
    return "" if v is None else f"{v * 100:.2f}"


def _duration(seconds: int | None) -> str:
    if seconds is None:
        return ""
    m, s = divmod(int(seconds), 60)
    return f"{m // 60}h{m % 60:02d}m" if m >= 60 else (f"{m}m{s:02d}s" if m else f"{s}s")


@runs_group.command("compare")
@click.argument("run_ids", nargs=-1, required=True)
@click.option("--plot", "plot_path", type=click.Path(path_type=Path), default=None,
              help="where to write the best-so-far plot (default: the runs folder)")
@click.option("--json", "as_json", is_flag=True)
def runs_compare(run_ids: tuple[str, ...], plot_path: Path | None, as_json: bool) -> None:
    """Runs side by side (configuration, outcome) and one plot of their best-so-far
    curves."""
    from mdesign.refinement import report, runs

    with open_kb() as kb:
        stored = [runs.load_run(kb, r) for r in run_ids]
    table = report.comparison(stored)
    if as_json:
        print_json(table)
        return
    fields = list(table[0])
    print_rows([{"": f, **{f"{i + 1}. {row['id']}": row[f] for i, row in enumerate(table)}}
                for f in fields if f != "id"], "runs compared")
    path = plot_path or (_runs_dir() / ("compare-" + "-".join(r[-6:] for r in run_ids)
                                        + ".png"))
    click.echo(f"plot: {report.plot_comparison(stored, path)}")


@runs_group.command("delete")
@click.argument("run_ids", nargs=-1, required=True)
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
def runs_delete(run_ids: tuple[str, ...], yes: bool) -> None:
    """Delete runs and their steps (one transaction). What they recorded as evidence of
    their task stays: `mdesign task forget` removes that."""
    from mdesign.refinement import runs

    if not yes:
        confirm_or_exit(f"delete {len(run_ids)} run(s) and their steps?")
    with open_kb() as kb:
        gone = runs.delete_runs(kb, list(run_ids))
    click.echo(f"deleted {len(gone)} run(s) and {sum(gone.values())} step(s); the "
               "evidence they recorded stays")


@runs_group.command("show")
@click.argument("run_id")
@click.option("--json", "as_json", is_flag=True)
def runs_show(run_id: str, as_json: bool) -> None:
    """One run: configuration, sources, steps and outcome."""
    from mdesign.refinement import provenance, runs

    with open_kb() as kb:
        run = runs.load_run(kb, run_id)
    if as_json:
        print_json(run.model_dump(mode="json"))
        return
    click.echo(f"run {run.id}: task {run.task}, space {run.space}, status {run.status}, "
               f"{run.spent}/{run.budget} evaluations spent"
               + (f", stopped: {run.stopped}" if run.stopped else ""))
    click.echo("config: " + run.config.model_dump_json(exclude_none=True))
    click.echo(f"sources: {', '.join(run.sources) or '(not retrieved yet)'}")
    if run.best_uid:
        click.echo(f"best: {run.best_uid} ({(run.best_score or 0) * 100:.2f})")
        if (found := provenance(run.steps, run.best_uid)) is not None:
            click.echo(f"  found at {found.describe()}")
    table = StepTable()
    for s in run.steps:
        table(s)
    if not run.steps:
        print_rows([])


@click.group("bench")
def bench_group() -> None:
    """Benchmarks over the knowledge base."""


@bench_group.command("refine")
@click.option("--tasks", required=True, help="comma-separated target tasks")
@click.option("--budgets", default="5,10,20,30,50,100", show_default=True)
@click.option("--methods", default=None,
              help="comma-separated methods [default: mdesign, mdesign-surrogate, "
                   "mdesign-surrogate-notransfer, mdesign-reference, "
                   "mdesign-reference-nocal, retrieval, consensus, random, regevo, tpe, "
                   "tpe-warm]; an unknown name lists them all")
@click.option("--seeds", type=int, default=20, show_default=True,
              help="runs of each stochastic method")
@click.option("--select", type=click.Choice(["valid", "test"]), default="valid",
              show_default=True,
              help="what the oracle reveals and every method selects on (test: the "
                   "protocol of the published LLM- and knowledge-guided designers)")
@click.option("--candidate", default="mdesign,mdesign-surrogate", show_default=True,
              help="comma-separated methods whose targets as a new default (issue 20: "
                   "against every peer per budget, evaluations to a top-1% architecture, "
                   "overhead) the report gives")
@click.option("--out", type=click.Path(path_type=Path), default=Path("."), show_default=True,
              help="directory for NAME.json, NAME.md and NAME.png")
@click.option("--name", default="refine_bench", show_default=True)
def bench_refine(tasks: str, budgets: str, methods: str | None, seeds: int, select: str,
                 candidate: str, out: Path, name: str) -> None:
    """Leave-one-task-out refinement benchmark (docs/refinement.md) on any tasks."""
    from mdesign.benchmarks import protocol, report
    from mdesign.benchmarks.methods import DEFAULT_METHODS, METHODS

    try:
        budget_list = [int(b) for b in budgets.split(",")]
    except ValueError:
        raise InputError(f"--budgets must be comma-separated integers (got {budgets!r})",
                         "e.g. --budgets 10,20,50") from None
    if min(budget_list) < 1 or seeds < 1:
        raise InputError("budgets and --seeds must be at least 1", "e.g. --budgets 10,20")
    method_list = methods.split(",") if methods else DEFAULT_METHODS
    candidates = [c for c in candidate.split(",") if c]
    unknown = [c for c in candidates if c not in METHODS]
    if unknown:
        raise InputError(f"unknown --candidate method(s) {', '.join(unknown)}",
                         f"choose from {', '.join(METHODS)}")
    task_list = tasks.split(",")
    with open_kb() as kb:
        for t in task_list:
            kb.task(t)
        # finished runs are kept as they end: an interrupted benchmark resumes when the
        # same command runs again
        o = protocol.run_protocol(kb, task_list, budget_list, method_list, seeds,
                                  progress=lambda m: click.echo(m, err=True),
                                  select=select, checkpoint=out / f"{name}.partial.jsonl")
    for c in candidates:
        if c in method_list:
            o["targets"].update(report.candidate_targets(o["rows"], task_list, c))
    paths = report.write(o, out, name, "Refinement benchmark, leave one task out")
    sys.stdout.write(paths[1].read_text())
    click.echo(f"wrote {', '.join(str(p) for p in paths)}")

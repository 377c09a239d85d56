"""``mdesign task add|forget``: tasks from the user's data (parse, call, print)."""

from __future__ import annotations

from pathlib import Path

import click
from mdesign.cli.common import confirm_or_exit, open_kb, progress_bar


@click.group("task")
def task_group() -> None:
    """Tasks from your own data, for real training."""


@task_group.command("add")
@click.argument("name")
@click.option("--data", "source", required=True,
              help="a torch.save'd PyG Data/list/dataset, a TU folder, a CSV folder, or "
                   "builtin:mutag | builtin:karate | "
                   "builtin:sbm[:BLOCKS:SIZE[:P_IN:P_OUT[:SIGNAL]]]")
@click.option("--kind", required=True, type=click.Choice(["node", "graph", "link"]),
              help="node, graph or link")
def task_add(name: str, source: str, kind: str) -> None:
    """Validate DATA, store it and add task NAME with its meta-features."""
    from mdesign.cli.extras import TRAIN, require

    require(*TRAIN, extra="train", command="task add")
    from mdesign.tasks.store import add_task

    with open_kb() as kb:
        added = add_task(kb, name, source, kind)
    feats = ", ".join(f"{k} {v:g}" for k, v in sorted(added.features.items()))
    click.echo(f"task {added.name}: {added.kind}, metric {added.metric}; data {added.path}")
    click.echo(f"meta-features: {feats}")


@task_group.command("forget")
@click.argument("name")
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
def task_forget(name: str, yes: bool) -> None:
    """Delete the results that mdesign's trainings recorded on task NAME (imported results
    stay), and recompute its gains from what stays."""
    from mdesign.kb.observations import forget_observations

    if not yes:
        confirm_or_exit(f"delete every result mdesign recorded on {name!r}?")
    with open_kb() as kb:
        report = forget_observations(kb, name)
    click.echo(f"task {name}: {report.results} recorded results deleted; gains on "
               f"{report.edits} edits recomputed ({report.gains} kept)")


@task_group.command("delete")
@click.argument("name")
@click.option("--with-imported", is_flag=True,
              help="also delete the task's imported results (re-import to restore them)")
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
def task_delete(name: str, with_imported: bool, yes: bool) -> None:
    """Delete task NAME and everything recorded for it: its runs, what trainings recorded
    (gains recomputed), generations for it, its stored data; with --with-imported its
    imported results and gains too. Interrupted, run it again; no other task changes."""
    from mdesign.kb.deletion import delete_task

    if not yes:
        confirm_or_exit(f"delete task {name!r} and everything recorded for it?")
    with open_kb() as kb, progress_bar(f"deleting {name}") as bar:
        d = delete_task(kb, name, imported=with_imported, progress=bar)
    click.echo(f"task {d.task} deleted: {d.runs} runs ({d.steps} steps), "
               f"{d.recorded_results} recorded and {d.imported_results} imported results, "
               f"{d.gains} gains, {d.generations} generations"
               + (f", data folder {d.data_folder}" if d.data_folder else ""))


@click.command("export")
@click.argument("run_id")
@click.option("--format", "fmt", type=click.Choice(["pytorch", "yaml"]), default="pytorch",
              show_default=True)
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="output file [default: RUN_ID.py or RUN_ID.yaml]")
@click.option("--in-dim", type=int, default=None, help="input features (default: the task's)")
@click.option("--out-dim", type=int, default=None, help="outputs (default: the task's)")
def export_cmd(run_id: str, fmt: str, out: Path | None, in_dim: int | None,
               out_dim: int | None) -> None:
    """Write the best architecture of run RUN_ID as a standalone PyG module or a config."""
    from mdesign.kb.knowledge_base import code_version
    from mdesign.kb.settings import is_safe_name, safe_name, write_atomically
    from mdesign.refinement.export import design_config, to_module, to_yaml

    stem = run_id if is_safe_name(run_id) else safe_name(run_id)  # never a path of its own
    path = out or Path(f"{stem}.{'py' if fmt == 'pytorch' else 'yaml'}")
    weights_name, note, state = None, None, None
    with open_kb() as kb:
        config = design_config(kb, run_id, in_dim, out_dim)
        if fmt == "pytorch":
            from mdesign.refinement.export import trained_weights

            state, note = trained_weights(kb, run_id)
    if state is not None:
        import torch

        weights_name = path.with_suffix(".pt").name
        write_atomically(path.with_name(weights_name), lambda tmp: torch.save(state, tmp))
    text = to_module(config, code_version(), weights_name) if fmt == "pytorch" \
        else to_yaml(config)
    write_atomically(path, lambda tmp: tmp.write_text(text))
    click.echo(f"wrote {path} ({config['architecture_uid']})")
    if note:
        click.echo(f"{note}" + (f"; {path.with_name(weights_name)}" if weights_name else ""))

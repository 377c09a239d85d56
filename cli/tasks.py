"""``mdesign task add``: a task from the user's data (parse, call, print)."""

from __future__ import annotations

import click


@click.group("task")
def task_group() -> None:
    """Tasks from your own data, for real training."""


@task_group.command("add")
@click.argument("name")
@click.option("--data", "source", required=True,
              help="a torch.save'd PyG Data/list/dataset, a TU folder, a CSV folder, or "
                   "builtin:mutag | builtin:karate | builtin:sbm[:BLOCKS:SIZE]")
@click.option("--kind", required=True, help="node, graph or link")
def task_add(name: str, source: str, kind: str) -> None:
    """Validate DATA, store it and add task NAME with its meta-features."""
    from mdesign.cli.main import _kb
    from mdesign.tasks.store import add_task

    with _kb() as kb:
        added = add_task(kb, name, source, kind)
    feats = ", ".join(f"{k} {v:g}" for k, v in sorted(added.features.items()))
    click.echo(f"task {added.name}: {added.kind}, metric {added.metric}; data {added.path}")
    click.echo(f"meta-features: {feats}")

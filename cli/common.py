"""What every ``mdesign`` command shares: the consoles, the progress bar, the knowledge
base connection, option validation and the JSON and table printers.

The subcommand modules (``cli/*.py``) and :mod:`mdesign.cli.main`, which assembles them,
import these from here; nothing here imports a command module.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from typing import Any

import click
from mdesign.core.errors import InputError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

# Piped output gets a wide table rather than rich's 80-column default.
console = Console(width=None if sys.stdout.isatty() else 240)
err_console = Console(stderr=True)


@contextlib.contextmanager
def progress_bar(description: str) -> Iterator[Any]:
    """A rich progress bar fed by ``callback(label, done, total)``.

    It appears on the first callback (so a command that fails while validating its input
    prints only its error) and only on a terminal.
    """
    state: dict[str, Any] = {}

    def callback(label: str, done: int, total: int) -> None:
        if not err_console.is_terminal or OUTPUT["verbosity"] < 0:
            return
        if "bar" not in state:
            state["bar"] = Progress(TextColumn("{task.description}"), BarColumn(),
                                    MofNCompleteColumn(), TimeElapsedColumn(),
                                    console=err_console)
            state["bar"].start()
            state["task"] = state["bar"].add_task(description, total=total)
        state["bar"].update(state["task"], description=f"{description}: {label}",
                            completed=done, total=total)

    try:
        yield callback
    finally:
        if "bar" in state:
            state["bar"].stop()


def open_kb() -> Any:
    """A connected :class:`~mdesign.kb.KnowledgeBase` (a context manager)."""
    from mdesign.kb import KnowledgeBase

    return KnowledgeBase.connect()


def validated(model: Any, command: str, **values: Any) -> Any:
    """``model(**values)`` (a pydantic model of a command's options); a bad value is one
    line naming the option (field ``max_params`` is ``--max-params``, ``n`` is ``-n``)."""
    from pydantic import ValidationError

    try:
        return model(**values)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        option = ("-" if len(field) == 1 else "--") + field.replace("_", "-")
        raise InputError(f"{option}: {err['msg'].lower()} (got {err.get('input')!r})",
                         f"see `mdesign {command} --help` for {option}") from None


# Set by the group's global options (`mdesign --format csv ...`, `-v`, `-q`).
OUTPUT: dict[str, Any] = {"format": "table", "verbosity": 0}


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


def print_rows(rows: list[dict[str, Any]], title: str | None = None) -> None:
    """Rows as a table (default), CSV or JSON (``mdesign --format``). No rows: the table
    says ``(no rows)``, CSV prints nothing, JSON ``[]``."""
    how = OUTPUT["format"]
    if how == "json":
        print_json(rows)
        return
    if how == "csv":
        if rows:
            import csv

            columns = list(dict.fromkeys(c for r in rows for c in r))
            writer = csv.DictWriter(sys.stdout, fieldnames=columns, lineterminator="\n")
            writer.writeheader()
            for r in rows:
                writer.writerow({c: _csv_cell(r.get(c)) for c in columns})
        return
    if not rows:
        console.print("(no rows)")
        return
    columns = [c for c in rows[0] if any(r.get(c) is not None for r in rows)]
    if {"uid", "space", "key"} <= set(columns):  # uid is space/key: shown once (--json: all)
        columns.remove("uid")
    table = Table(title=title)
    for col in columns:
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(*[_cell(r.get(c)) for c in columns])
    console.print(table)


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (list, dict)):
        return json.dumps(v, default=str)
    return "" if v is None else str(v)


def _csv_cell(v: Any) -> Any:
    if isinstance(v, (list, dict)):
        return json.dumps(v, default=str)
    return "" if v is None else v


def confirm_or_exit(prompt: str) -> None:
    """Ask ``prompt``; anything but yes (a "no", or no answer at the end of input) exits
    with status 1 and "nothing changed". Ctrl-C at the prompt stays an interruption."""
    try:
        confirmed = click.confirm(prompt)
    except click.exceptions.Abort as exc:
        if not isinstance(exc.__context__, EOFError):
            raise
        confirmed = False
    if not confirmed:
        click.echo("nothing changed", err=True)
        sys.exit(1)


def model_delete_command(kind: str, what: str) -> click.Command:
    """``mdesign predictor|ghn|generator delete NAME``: the stored model, its embeddings
    and generations (one transaction), then its checkpoint folder."""

    @click.command("delete")
    @click.argument("name")
    @click.option("--yes", is_flag=True, help="do not ask for confirmation")
    def delete(name: str, yes: bool) -> None:
        from mdesign.kb.deletion import delete_model

        if not yes:
            confirm_or_exit(f"delete {what} {name!r}?")
        with open_kb() as kb:
            d = delete_model(kb, name, kind)
        click.echo(f"{what} {d.name} deleted: {d.embeddings} embeddings, {d.generations} "
                   "generations" + (f", folder {d.folder}" if d.folder else ""))

    delete.help = f"Delete the stored {what} NAME (its embeddings and generations too)."
    return delete

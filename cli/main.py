"""``mdesign``: the command line. It parses, calls :mod:`mdesign.kb`, and prints.

Every failure the user can fix is a :class:`~mdesign.core.errors.MdesignError`, printed as
one line ``mdesign: error: <problem> - <fix>`` with exit status 2.
"""

from __future__ import annotations

import json
import logging
import sys
import warnings
from pathlib import Path
from typing import Any

import click
from mdesign import cypher
from mdesign.cli.common import (
    OUTPUT,
    err_console,
    open_kb,
    print_json,
    print_rows,
    progress_bar,
)
from mdesign.cli.generate import generate_cmd, generator_group
from mdesign.cli.ghn import ghn_group
from mdesign.cli.predictors import predict_cmd, predictor_group
from mdesign.cli.refine import bench_group, refine_cmd, runs_group, suggest_cmd
from mdesign.cli.tasks import export_cmd, task_group
from mdesign.core.errors import InputError, MdesignError, exception_chain, shorten


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mdesign")
@click.option("-v", "--verbose", count=True,
              help="more detail on stderr: -v mdesign's log, -vv the Neo4j driver's too")
@click.option("-q", "--quiet", is_flag=True, help="only data and errors: no notes, no "
              "progress bars")
@click.option("--format", "output_format", type=click.Choice(["table", "csv", "json"]),
              default="table", show_default=True,
              help="how commands print rows of data")
def cli(verbose: int, quiet: bool, output_format: str) -> None:
    """mdesign: design neural networks from edit-effect evidence stored in Neo4j."""
    OUTPUT["format"] = output_format
    OUTPUT["verbosity"] = -1 if quiet else verbose
    # The driver logs connection failures itself; mdesign reports them as one line.
    logging.getLogger("neo4j").setLevel(logging.DEBUG if verbose >= 2 else logging.CRITICAL)
    if verbose:
        logging.basicConfig(level=logging.INFO if verbose == 1 else logging.DEBUG,
                            format="%(name)s: %(message)s")


# -- db ------------------------------------------------------------------------------------


@cli.group()
def db() -> None:
    """The managed Neo4j + GDS server (loopback only, generated password)."""


def _managed() -> Any:
    from mdesign.kb import settings
    from mdesign.kb.server import ManagedNeo4j

    if settings.external_connection() is not None:
        raise InputError("NEO4J_URI is set, so mdesign uses your server and manages none",
                         "unset NEO4J_URI to use the managed server")
    return ManagedNeo4j()


@db.command("start")
def db_start() -> None:
    """Install (once) and start the server; reuse it if it already runs."""
    from mdesign.kb import settings

    if settings.external_connection() is not None:
        click.echo(f"NEO4J_URI is set ({settings.external_connection().uri}): "
                   "using that server, nothing to start")
        return
    server = _managed()
    before = server.status()
    status = server.start(echo=lambda m: err_console.print(m))
    verb = "already running" if before.running else "started"
    click.echo(f"Neo4j {verb}: bolt neo4j://127.0.0.1:{status.bolt_port}, "
               f"browser {server.browser_url()} (pid {status.pid}, home {status.home})")


@db.command("stop")
def db_stop() -> None:
    """Stop the managed server cleanly (only this home's own Neo4j process is signalled)."""
    notes: list[str] = []
    stopped = _managed().stop(echo=notes.append)
    click.echo("stopped" if stopped else f"not running{': ' + notes[0] if notes else ''}")


@db.command("status")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
def db_status(as_json: bool) -> None:
    """Whether the server runs, its Neo4j and GDS versions, its gds.* procedures."""
    from mdesign.kb import settings
    from mdesign.kb.server import ManagedNeo4j

    info: dict[str, Any] = {}
    external = settings.external_connection()
    if external is None:
        st = ManagedNeo4j().status()
        info.update(managed=True, running=st.running, pid=st.pid, bolt_port=st.bolt_port,
                    http_port=st.http_port, home=str(st.home))
        if st.note:
            info["note"] = st.note
    else:
        info.update(managed=False, uri=external.uri)
    if info.get("running", True):
        with open_kb() as kb:
            info["running"] = True
            info.update(kb.server_info())
    if as_json:
        print_json(info)
    else:
        for k, v in info.items():
            click.echo(f"{k}: {v}")
    if not info["running"]:
        sys.exit(1)


@db.command("browser")
def db_browser() -> None:
    """Print the address of Neo4j Browser (log in as neo4j with the stored password); the
    mdesign guide opens by itself at connect."""
    server = _managed()
    if not server.status().running:
        raise MdesignError("the managed server is not running", "run `mdesign db start`")
    click.echo(server.browser_url())
    click.echo(f"user neo4j, password in {server.credentials_file}")
    click.echo(f"mdesign guide: :play {server.guide_url()}")


# -- kb ------------------------------------------------------------------------------------


@cli.group()
def kb() -> None:
    """Create, fill and inspect the knowledge base."""


@kb.command("init")
def kb_init() -> None:
    """Create the constraints and indexes (idempotent)."""
    with open_kb() as k:
        n = k.init_schema()
    click.echo(f"schema ready ({n} constraints and indexes)")


@kb.group("import")
def kb_import() -> None:
    """Import results into the knowledge base (idempotent and resumable)."""


def _report(report: Any, as_json: bool) -> None:
    if as_json:
        print_json(report.model_dump())
        return
    counts = ", ".join(f"{v:,} {k}" for k, v in report.counts.items())
    click.echo(f"{report.import_id}: {report.status} in {report.seconds:.1f} s"
               + (f" ({counts})" if counts else ""))
    for note in report.notes:
        click.echo(f"  {note}")


@kb_import.command("nas-bench-graph")
@click.option("--datasets", default=None,
              help="comma-separated subset of cora,citeseer,pubmed,cs,physics,photo,"
                   "computers,arxiv,proteins (default: all 9)")
@click.option("--evidence", "method", type=click.Choice(["python", "cypher"]),
              default="python", help="evidence builder when a rebuild is needed")
@click.option("--json", "as_json", is_flag=True)
def import_nbg(datasets: str | None, method: str, as_json: bool) -> None:
    """All NAS-Bench-Graph tables (26,206 architectures x 9 tasks) and their evidence."""
    from mdesign.kb.importers.nas_bench_graph import DATASETS, import_nas_bench_graph

    chosen = tuple(d.strip() for d in datasets.split(",")) if datasets else DATASETS
    with open_kb() as k, progress_bar("nas-bench-graph") as cb:
        report = import_nas_bench_graph(k, chosen, evidence_method=method, progress=cb)
    _report(report, as_json)


@kb_import.command("table")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--space", "space_spec", required=True,
              help="design-space YAML file (with a `table:` section) or built-in name")
@click.option("--task", default=None, help="task name of a single-task file")
@click.option("--evidence", "method", type=click.Choice(["python", "cypher"]),
              default="python")
@click.option("--json", "as_json", is_flag=True)
def import_table_cmd(file: Path, space_spec: str, task: str | None, method: str,
                     as_json: bool) -> None:
    """A CSV or Parquet model base: one row per (task, architecture)."""
    from mdesign.core.space import load_space
    from mdesign.kb.importers.table import import_table

    space = load_space(space_spec)
    with open_kb() as k, progress_bar(file.name) as cb:
        report = import_table(k, file, space, task=task, evidence_method=method, progress=cb)
    _report(report, as_json)


@kb_import.command("task-features")
@click.argument("file", type=click.Path(path_type=Path))
def import_features_cmd(file: Path) -> None:
    """Dataset meta-features (CSV or JSON keyed by task) for known tasks."""
    from mdesign.kb.importers.task_features import import_task_features

    with open_kb() as k:
        out = import_task_features(k, file)
    click.echo(f"stored {out['features']} features on {out['tasks']} tasks")


@kb.command("evidence")
@click.option("--space", "space_name", required=True, help="space whose edits get gains")
@click.option("--tasks", default=None, help="comma-separated tasks (default: all)")
@click.option("--method", type=click.Choice(["python", "cypher"]), default="python")
def kb_evidence(space_name: str, tasks: str | None, method: str) -> None:
    """Rebuild the edit evidence (gains) of tasks on a space's edits."""
    from mdesign.kb import evidence

    with open_kb() as k:
        names = tasks.split(",") if tasks else [t.name for t in k.tasks()]
        with progress_bar("evidence") as cb:
            rep = evidence.build(k, space_name, names, method=method,
                                 progress=lambda d, n: cb(method, d, n))
    click.echo(f"{sum(rep.gains.values()):,} gains over {rep.edits:,} edits "
               f"({method}, {rep.seconds:.1f} s)")


@kb.command("stats")
@click.option("--json", "as_json", is_flag=True)
def kb_stats(as_json: bool) -> None:
    """Counts of architectures, tasks, results, edits and gains."""
    with open_kb() as k:
        s = k.stats()
    if as_json:
        print_json(s.model_dump())
        return
    click.echo(f"architectures {s.architectures:,}  tasks {s.tasks}  results {s.results:,}  "
               f"edits {s.edits:,}  gains {s.gains:,}")
    print_rows([{"space": sp.name, "architectures": sp.architectures, "edits": sp.edits,
                  "dimensions": ",".join(sp.dimensions)} for sp in s.spaces], "spaces")
    print_rows([{"task": t.name, "kind": t.kind, "metric": t.metric, "split": t.split,
                  "results": t.results, "gains": t.evidence_edits,
                  "features": len(t.features)} for t in s.task_list], "tasks")


@kb.command("reset")
@click.option("--yes", is_flag=True, help="confirm: delete everything stored")
def kb_reset(yes: bool) -> None:
    """Delete every node and relationship of the knowledge base."""
    if not yes:
        raise InputError("`kb reset` deletes the whole knowledge base",
                         "pass --yes to confirm")
    with open_kb() as k:
        k.clear()
    click.echo("knowledge base emptied")


# -- query ---------------------------------------------------------------------------------


def _parse_param(text: str) -> tuple[str, Any]:
    if "=" not in text:
        raise InputError(f"--param {text!r} is not key=value", "write --param key=value")
    key, raw = text.split("=", 1)
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return key.strip(), value


@cli.command("query")
@click.argument("name", required=False)
@click.option("--param", "-p", "params", multiple=True,
              help="key=value; the value is JSON when it parses (5, 0.1, [\"a\",\"b\"]), "
                   "else a string")
@click.option("--json", "as_json", is_flag=True, help="print rows as JSON")
@click.option("--list", "list_queries", is_flag=True,
              help="list the queries for people, with their parameters and defaults")
@click.option("--all", "list_all", is_flag=True,
              help="with --list: every named query, those mdesign runs itself too")
@click.option("--show", is_flag=True, help="print the query's Cypher instead of running it")
@click.option("--file", "query_file", type=click.Path(path_type=Path),
              help="run your own Cypher from this file (UTF-8) instead of a named query")
@click.option("--allow-write", is_flag=True,
              help="let the query write: run an internal named query, or a --file that "
                   "writes (otherwise it runs in a read-only transaction)")
def query_cmd(name: str | None, params: tuple[str, ...], as_json: bool, list_queries: bool,
              list_all: bool, show: bool, query_file: Path | None, allow_write: bool) -> None:
    """Run a shipped named query (cypher/NAME.cypher) or --file PATH, with parameters.

    Queries run read-only: internal queries (those that write) are refused, and hidden
    from --list, unless --allow-write (--all) is given.
    """
    if query_file is not None:
        if name:
            raise InputError(f"both a query name ({shorten(name)!r}) and --file were given",
                             "pass either NAME or --file PATH")
        text, label = _read_query_file(query_file), f"from {query_file}"
    elif list_queries or not name:
        _list_queries(list_all, as_json)
        return
    else:
        text, label = cypher.load(name), repr(name)
    if show:
        click.echo(text)
        return
    if name and cypher.is_internal(name) and not allow_write:
        raise InputError(f"query {name!r} is internal: it writes to the knowledge base "
                         "and mdesign runs it itself", "pass --allow-write to run it anyway")
    values = dict(_parse_param(p) for p in params)
    if name and query_file is None:
        values = {**cypher.defaults(name), **values}
        for key, (low, high) in cypher.bounds(name).items():
            v = values.get(key)
            if isinstance(v, (int, float)) and not isinstance(v, bool) and \
                    not low <= v <= high:
                raise InputError(f"query {name!r}: {key}={v} is outside {low}..{high}",
                                 f"pass --param {key}=N with {low} <= N <= {high}")
    with open_kb() as k:
        if name and query_file is None and cypher.is_public(name):
            for key in ("task", "task_a", "task_b"):
                if isinstance(values.get(key), str):
                    k.task(values[key])  # an unknown task is an error, not "no rows"
        rows = k.run_cypher(text, values, label=label, read_only=not allow_write)
    if as_json:
        print_json(rows)
    else:
        print_rows(rows, name)


def _list_queries(list_all: bool, as_json: bool) -> None:
    """The public queries with their parameters, defaults and full descriptions (with
    ``--all``: every named query, internal ones too)."""
    shown = [n for n in cypher.names() if list_all or cypher.is_public(n)]
    entries = [{"name": n, "parameters": {p: cypher.defaults(n).get(p, "(required)")
                                          for p in cypher.parameters(n)},
                "internal": cypher.is_internal(n), "description": cypher.description(n)}
               for n in shown]
    if as_json:
        print_json(entries)
        return
    for e in entries:
        params = ", ".join(p if v == "(required)" else f"{p}={json.dumps(v)}"
                           for p, v in e["parameters"].items())
        click.echo(f"{e['name']}({params})" + ("  [internal: writes]" if e["internal"]
                                                else ""))
        for line in e["description"].splitlines():
            click.echo(f"    {line}")
        click.echo("")


def _read_query_file(path: Path) -> str:
    """The Cypher of a user's ``--file``: a readable UTF-8 text file that holds a query."""
    try:
        if not path.is_file():
            raise InputError(f"--file {path} is not a file" if path.exists() else
                             f"--file {path} does not exist",
                             "pass the path of a Cypher file")
        if path.stat().st_size > 1 << 20:
            raise InputError(f"--file {path} is larger than 1 MiB", "pass one Cypher query")
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError(f"--file {path} is not UTF-8 text",
                         "save the query as UTF-8") from None
    except OSError as exc:
        raise InputError(f"--file {path} cannot be read ({exc.strerror or exc})",
                         "pass the path of a readable Cypher file") from None
    if not cypher.strip_comments(text).strip():
        raise InputError(f"--file {path} holds no query", "write the Cypher in the file")
    return text


# The subcommand groups, defined in their own modules (which share mdesign.cli.common).
for _command in (task_group, export_cmd, refine_cmd, suggest_cmd, runs_group, bench_group,
                 predictor_group, predict_cmd, ghn_group, generator_group, generate_cmd):
    cli.add_command(_command)


def _fail(message: str, status: int) -> None:
    err_console.print(f"mdesign: {message}", markup=False, highlight=False, soft_wrap=True)
    sys.exit(status)


def _interrupted(exc: BaseException | None) -> bool:
    """Whether ``exc`` is, or was raised while handling, an interruption (Ctrl-C)."""
    return any(isinstance(e, (KeyboardInterrupt, click.exceptions.Abort))
               for e in exception_chain(exc))


def _interrupted_run(exc: BaseException | None) -> str | None:
    """The id of the stored refinement run an interruption stopped, if any
    (:class:`mdesign.refinement.runs.RunInterrupted`)."""
    for e in exception_chain(exc):
        if isinstance(e, KeyboardInterrupt) and getattr(e, "run_id", None):
            return str(e.run_id)  # type: ignore[attr-defined]
    return None


def main() -> None:
    # PyTorch Geometric imports torch.jit.script, which warns on every command
    warnings.filterwarnings("ignore", category=FutureWarning, module="torch")
    try:
        cli.main(standalone_mode=False)
    except BaseException as exc:
        # Ctrl-C mid-request leaves the Bolt connection broken; closing the session then
        # raises a driver error (or our lost-connection error) that hides the
        # interruption, so look for it first.
        if _interrupted(exc):
            run_id = _interrupted_run(exc)
            if run_id is not None:  # a refinement: the same command would start a new run
                _fail(f"interrupted; run {run_id} is kept with its steps so far - resume "
                      f"it with `mdesign refine --resume {run_id}`", 130)
            _fail("interrupted; committed work is kept - run the same command again to "
                  "resume", 130)
        if isinstance(exc, MdesignError):
            _fail(f"error: {exc}", 2)
        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise


if __name__ == "__main__":
    main()

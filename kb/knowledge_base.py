"""The knowledge base: architectures, tasks, results and edit evidence in Neo4j.

:class:`KnowledgeBase` is the one object other tools need::

    from mdesign.kb import KnowledgeBase

    with KnowledgeBase.connect() as kb:
        best = kb.best_architectures("cora", limit=5)
        for n in kb.neighbours(best[0].uid, tasks=["citeseer", "pubmed"]):
            print(n.dimension, n.from_choice, "->", n.to_choice, n.gains)

Every query it runs is a named file of :mod:`mdesign.cypher`, always with parameters.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import secrets
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from mdesign import cypher
from mdesign.core.errors import InputError, MdesignError, ServerError, shorten
from mdesign.core.space import DesignSpace, key_of
from mdesign.kb import settings
from mdesign.kb.models import (
    BallEntry,
    EvidencePath,
    ImportReport,
    KBStats,
    Neighbour,
    RankedArchitecture,
    SpaceInfo,
    StoredScore,
    TaskDataSource,
    TaskInfo,
    TaskResult,
    TaskSimilarity,
)
from mdesign.kb.repositories import GenerationRepository, PredictorRepository, RunRepository
from neo4j import (
    Driver,
    GraphDatabase,
    ManagedTransaction,
    NotificationDisabledClassification,
    NotificationMinimumSeverity,
    Query,
    RoutingControl,
)
from neo4j.exceptions import (
    AuthError,
    ClientError,
    Neo4jError,
    ServiceUnavailable,
    SessionExpired,
)

GAIN_PREFIX = "gain:"
FEATURE_PREFIX = "mf_"

# What the server may report with a query: warnings only (no information such as a
# plan's cartesian product), and none of the classes that describe the store rather than
# a mistake: a property key, label or relationship type that no stored entity holds yet
# (`latency` of a table without costs, `Marker` before any marker). Without this filter
# the driver logs each one at WARNING through the library user's logging, one long line
# per call. Deprecations and the rest still reach the `neo4j.notifications` logger.
NOTIFICATIONS_MIN_SEVERITY = NotificationMinimumSeverity.WARNING
NOTIFICATIONS_DISABLED = [NotificationDisabledClassification.UNRECOGNIZED,
                          NotificationDisabledClassification.PERFORMANCE]
AUTH_RATE_LIMIT = "Neo.ClientError.Security.AuthenticationRateLimit"


def gain_property(task: str) -> str:
    """The edit property holding the gain on ``task``."""
    return GAIN_PREFIX + task


@dataclass
class Step:
    """One stage of an import: a named write query applied to rows in batches.

    ``check`` names a read query run first on each batch, in the same transaction: rows
    it returns are conflicts, and ``conflict`` turns them into the error raised.
    """

    label: str
    query: str
    rows: Sequence[dict[str, Any]]
    batch_size: int = 10_000
    check: str | None = None
    conflict: Callable[[list[dict[str, Any]]], MdesignError] | None = None

    def batches(self) -> list[Sequence[dict[str, Any]]]:
        return [self.rows[i:i + self.batch_size]
                for i in range(0, len(self.rows), self.batch_size)]


def fingerprint(*parts: Any) -> str:
    """A stable hash of an import's inputs, so a changed input restarts the import."""
    h = hashlib.sha256()
    for p in parts:
        h.update(json.dumps(p, sort_keys=True, default=str).encode())
    return h.hexdigest()[:24]


class KnowledgeBase:
    """A connection to the knowledge base, with the named queries as methods."""

    def __init__(self, driver: Driver, connection: settings.Connection) -> None:
        self.driver = driver
        self.connection = connection
        self.database = connection.database

    # -- connection ---------------------------------------------------------------------

    @classmethod
    def connect(cls, connection: settings.Connection | None = None) -> KnowledgeBase:
        """Connect to the user's server (``NEO4J_URI``) or the managed one.

        Raises :class:`ServerError` with the fix when the server is down or refuses us.
        """
        conn = connection or settings.connection()
        if conn.managed:
            from mdesign.kb.server import ManagedNeo4j

            status = ManagedNeo4j().status()
            if not status.running:
                raise ServerError(f"the managed Neo4j server under {status.home} is not "
                                  "running" + (f" ({status.note})" if status.note else ""),
                                  "start it with `mdesign db start`")
        driver = GraphDatabase.driver(
            conn.uri, auth=(conn.user, conn.password), connection_timeout=5.0,
            max_transaction_retry_time=5.0,
            notifications_min_severity=NOTIFICATIONS_MIN_SEVERITY,
            notifications_disabled_classifications=NOTIFICATIONS_DISABLED)
        where = (f"the managed server's password is in {settings.credentials_path()}"
                 if conn.managed else "check NEO4J_USER / NEO4J_PASSWORD")
        try:
            driver.verify_connectivity()
            driver.execute_query(cypher.load("ping"), database_=conn.database)
        except (AuthError, ClientError) as exc:
            driver.close()
            if exc.code == AUTH_RATE_LIMIT:
                lock = _auth_lock_time(conn)
                raise ServerError(
                    f"Neo4j at {conn.uri} has locked user {conn.user!r} out after too many "
                    f"failed logins: it refuses every login, even with the right password, "
                    f"for {lock} (dbms.security.auth_lock_time)",
                    f"wait {lock} and run the command again with the right password "
                    f"({where})") from None
            if isinstance(exc, AuthError):
                raise ServerError(f"Neo4j at {conn.uri} rejected the credentials of user "
                                  f"{conn.user!r}", where) from None
            raise ServerError(f"Neo4j at {conn.uri} refused the connection: {exc.message}",
                              "check NEO4J_DATABASE and the server's logs") from None
        except (ServiceUnavailable, SessionExpired, OSError, ValueError):
            driver.close()
            fix = ("start it with `mdesign db start`" if conn.managed
                   else "start your server or correct NEO4J_URI")
            raise ServerError(f"cannot reach Neo4j at {conn.uri}", fix) from None
        return cls(driver, conn)

    def close(self) -> None:
        self.driver.close()

    def __enter__(self) -> KnowledgeBase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- running named queries ------------------------------------------------------------

    def query(self, name: str, /, **params: Any) -> list[dict[str, Any]]:
        """Run the named query ``cypher/NAME.cypher`` with parameters; rows as dicts.

        Any shipped query, internal (writing) ones included: this is mdesign's own path.
        A parameter left out takes the default its header declares (``// defaults:``).
        """
        return self.run_cypher(cypher.load(name), {**cypher.defaults(name), **params},
                               label=repr(name))

    def query_plain(self, name: str, /, **params: Any) -> list[dict[str, Any]]:
        """:meth:`query` for the bulk reads whose rows hold only values, lists and maps
        (a task's every result, a space's keys): the rows as the driver decoded them,
        without its per-value walk that turns nodes, relationships and paths into dicts
        (more than half the time of a 26,206-result read: 0.17 s against 0.40 s)."""
        return self.run_cypher(cypher.load(name), {**cypher.defaults(name), **params},
                               label=repr(name), plain=True)

    def run_cypher(self, text: str, params: dict[str, Any], *, label: str,
                   read_only: bool = False, plain: bool = False) -> list[dict[str, Any]]:
        """Run Cypher ``text`` with ``params`` in one transaction; rows as dicts.

        ``label`` names the query in errors. ``read_only`` runs it in a read transaction,
        which the server refuses to let write (``mdesign query`` without --allow-write).
        ``plain``: the values as decoded (:meth:`query_plain`).
        """
        missing = [p for p in cypher.text_parameters(text) if p not in params]
        if missing:
            raise InputError(f"query {label} needs parameter(s) {', '.join(missing)}",
                             "pass them as --param key=value")
        try:
            records, _, _ = self.driver.execute_query(
                text, params, database_=self.database,
                routing_=RoutingControl.READ if read_only else RoutingControl.WRITE)
        except (ServiceUnavailable, SessionExpired):
            raise ServerError(f"lost the connection to Neo4j at {self.connection.uri}",
                              "check that the server runs (`mdesign db status`)") from None
        except Neo4jError as exc:
            if read_only and exc.code == "Neo.ClientError.Statement.AccessMode":
                raise InputError(f"query {label} writes to the knowledge base",
                                 "pass --allow-write to let it write") from None
            raise InputError(f"query {label} failed: {_one_line(exc.message)}",
                             "check the parameters' types and values") from None
        if plain:
            return [dict(zip(r.keys(), r.values(), strict=True)) for r in records]
        return [r.data() for r in records]

    def run_autocommit(self, name: str, /, **params: Any) -> list[dict[str, Any]]:
        """Run a named query in an auto-commit transaction (needed by IN TRANSACTIONS)."""
        try:
            with self.driver.session(database=self.database) as session:
                result = session.run(Query(cypher.load(name)), params)
                return [r.data() for r in result]
        except (ServiceUnavailable, SessionExpired):
            raise ServerError(f"lost the connection to Neo4j at {self.connection.uri}",
                              "check that the server runs, then run the command again") from None

    def init_schema(self) -> int:
        """Create constraints and indexes (idempotent). Returns the number of statements."""
        stmts = cypher.statements("schema")
        with self.driver.session(database=self.database) as session:
            for s in stmts:
                session.run(Query(s)).consume()
            session.run(Query(cypher.load("await_indexes"))).consume()
        return len(stmts)

    def clear(self) -> None:
        """Delete every node and relationship (used by tests and `kb reset`)."""
        with self.driver.session(database=self.database) as session:
            for statement in cypher.statements("clear_database"):
                session.run(Query(statement)).consume()

    # -- resumable batched writes ---------------------------------------------------------

    def import_complete(self, import_id: str, fp: str) -> bool:
        """Whether an import with this id and fingerprint has already finished."""
        state = self.query("import_state", id=import_id)[0]
        return state["fingerprint"] == fp and state["status"] == "complete"

    def run_import(self, import_id: str, kind: str, fp: str, steps: Sequence[Step],
                   progress: Callable[[str, int, int], None] | None = None) -> ImportReport:
        """Apply ``steps`` batch by batch, each batch one transaction.

        The batch and the import's position are committed together, so an import killed
        at any point resumes after its last committed batch; a complete import with the
        same fingerprint is skipped. Rows returned by a step's ``check`` are conflicts:
        the batch is rolled back and the step's ``conflict`` error raised.
        """
        t0 = time.perf_counter()
        plan = [(step, batch) for step in steps for batch in step.batches()]
        total = len(plan)
        state = self.query("import_state", id=import_id)[0]
        status = "imported"
        start = 0
        if state["fingerprint"] == fp and state["status"] == "complete":
            return ImportReport(import_id=import_id, status="up-to-date", batches=0, rows=0,
                                seconds=time.perf_counter() - t0)
        if state["fingerprint"] == fp and state["status"] == "running" and \
                state["total"] == total:
            start = int(state["position"] or 0)
            status = "resumed" if start else "imported"
        self.query("import_begin", id=import_id, fingerprint=fp, total=total,
                   position=start, kind=kind)
        advance = cypher.load("import_advance")
        rows_written = 0
        for index in range(start, total):
            step, batch = plan[index]
            text = cypher.load(step.query)
            check = cypher.load(step.check) if step.check else None

            def work(tx: ManagedTransaction, text: str = text, check: str | None = check,
                     batch: Any = batch, position: int = index + 1) -> list[dict[str, Any]]:
                if check is not None:
                    conflicts = [r.data() for r in tx.run(check, rows=list(batch))]
                    if conflicts:
                        return conflicts
                tx.run(text, rows=list(batch)).consume()
                tx.run(advance, id=import_id, position=position).consume()
                return []

            conflicts = self._write(work)
            if conflicts:
                if step.conflict is None:
                    raise InputError(f"import {import_id}: conflicting rows {conflicts[:2]}")
                raise step.conflict(conflicts)
            rows_written += len(batch)
            if progress:
                progress(step.label, index + 1, total)
        self.query("import_finish", id=import_id, rows=rows_written,
                   code_version=code_version())
        return ImportReport(import_id=import_id, status=status, batches=total - start,
                            rows=rows_written, seconds=time.perf_counter() - t0)

    def _write(self, work: Callable[[ManagedTransaction], Any]) -> Any:
        try:
            with self.driver.session(database=self.database) as session:
                return session.execute_write(work)
        except (ServiceUnavailable, SessionExpired):
            raise ServerError(
                f"lost the connection to Neo4j at {self.connection.uri}; every committed "
                "batch is kept", "restart the server and run the same command again to "
                "resume") from None

    def write_rows(self, name: str, rows: Sequence[dict[str, Any]], batch_size: int = 10_000,
                   progress: Callable[[int, int], None] | None = None) -> None:
        """Apply a named write query to rows in batches (idempotent writes only)."""
        text = cypher.load(name)
        for i in range(0, len(rows), batch_size):
            batch = list(rows[i:i + batch_size])
            self._write(lambda tx, b=batch: tx.run(text, rows=b).consume())
            if progress:
                progress(min(i + batch_size, len(rows)), len(rows))

    def query_rows(self, name: str, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """Run a named ``UNWIND $rows`` query on a small list of rows, one transaction."""
        return self.query(name, rows=list(rows))

    # -- records other than the evidence (one typed method per named query) ---------------

    @property
    def runs(self) -> RunRepository:
        return RunRepository(self)

    @property
    def predictors(self) -> PredictorRepository:
        return PredictorRepository(self)

    @property
    def generations(self) -> GenerationRepository:
        return GenerationRepository(self)

    def task_data(self, name: str) -> TaskDataSource | None:
        """Where task ``name``'s data came from and where its copy lies (None: no task;
        fields None: a task imported as a table of results)."""
        rows = self.query("task_data_source", name=name)
        return TaskDataSource(**rows[0]) if rows else None

    def set_task_data(self, name: str, source: str, path: str) -> None:
        self.query("set_task_data", name=name, source=source, path=path)

    def set_task_features(self, features: dict[str, dict[str, float]]) -> None:
        """``task -> {property: value}`` set on the tasks (meta-features), one transaction."""
        self.query_rows("set_task_features",
                        [{"task": t, "features": f} for t, f in features.items()])

    def server_info(self) -> dict[str, Any]:
        """Neo4j version and edition, the GDS version and its number of procedures."""
        return {**self.query("server_info")[0], **self.query("gds_procedures")[0]}

    # -- reads ----------------------------------------------------------------------------

    def tasks(self) -> list[TaskInfo]:
        return [_task_info(r["task"]) for r in self.query("task_list")]

    def task(self, name: str) -> TaskInfo:
        for t in self.tasks():
            if t.name == name:
                return t
        known = [shorten(t.name, 40) for t in self.tasks()]
        listed = ", ".join(known[:20]) + (f" and {len(known) - 20} more" if len(known) > 20
                                          else "")
        shown = shorten(name)
        raise InputError(f"unknown task {shown!r}",
                         f"known tasks: {listed or 'none (import some first)'} "
                         "(`mdesign kb stats` lists them all)")

    def tasks_in_space(self, space: str, exclude: str = "") -> list[TaskInfo]:
        """Tasks with results in ``space`` (the candidate sources of a refinement)."""
        return [_task_info(r["task"])
                for r in self.query("source_tasks", space=space, target=exclude)]

    def task_scores(self, task: str, space: str) -> dict[str, float]:
        """``key -> stored selection score`` of ``task``'s results in ``space`` (one per
        architecture, as ``task_results`` picks it; failed results left out)."""
        prefix = space + "/"
        return {key_of(r.uid): r.score for r in self.task_results(task)
                if r.score is not None and r.uid.startswith(prefix)}

    def task_results(self, task: str) -> list[TaskResult]:
        """Every stored result of ``task``, one per architecture (the one with the most
        seeds), failed ones (no score) included: the one decoder of ``task_results``."""
        return [TaskResult(*r)
                for r in self.query_plain("task_results", task=task)[0]["results"]]

    def best_architectures(self, task: str, limit: int = 10) -> list[RankedArchitecture]:
        return [RankedArchitecture(**r)
                for r in self.query("best_architectures", task=task, limit=limit)]

    def best_architectures_within(self, task: str, space: str, max_params: float | None,
                                  max_latency: float | None, limit: int = 500
                                  ) -> list[RankedArchitecture]:
        """``task``'s best results in ``space`` whose stored costs are within the limits
        (a None limit, or a result without that cost, passes), highest score first."""
        return [RankedArchitecture(**r) for r in self.query(
            "best_architectures_within", task=task, space=space, max_params=max_params,
            max_latency=max_latency, limit=limit)]

    @contextlib.contextmanager
    def _projection(self, graph: str, query: str, /, **params: Any) -> Iterator[str]:
        """The one GDS projection lifecycle: ``query`` projects ``graph`` into the catalog
        (a stale one of that name dropped first), dropped again on exit."""
        self.query("gds_drop_graph", graph=graph)
        self.query(query, graph=graph, **params)
        try:
            yield graph
        finally:
            with contextlib.suppress(MdesignError):
                self.query("gds_drop_graph", graph=graph)

    @contextlib.contextmanager
    def lookahead_graph(self) -> Iterator[_LookaheadProjection]:
        """The edit topology projected into the GDS catalog (multi-hop lookahead), dropped
        on exit."""
        with self._projection(f"mdesign-lookahead-{secrets.token_hex(4)}",
                              "lookahead_project") as graph:
            yield _LookaheadProjection(self, graph)

    def lookahead_ball(self, graph: str, uid: str, k: int) -> list[BallEntry]:
        """The architectures within ``k`` edits of ``uid`` on the lookahead projection
        ``graph`` (made by :meth:`lookahead_graph`, possibly on another connection)."""
        return [BallEntry(uid=r["uid"], key=r["key"], hops=r["hops"], first=r["first"]) for r in
                self.query("lookahead_ball_gds", graph=graph, uid=uid, k=k)]

    def neighbours(self, uid: str, tasks: Iterable[str]) -> list[Neighbour]:
        rows = self.query("neighbours_with_gains", uid=uid, tasks=list(tasks))
        return [Neighbour(uid=r["uid"], key=r["key"], dimension=r["dimension"],
                          from_choice=r["from_choice"], to_choice=r["to_choice"],
                          gains={g["task"]: g["gain"] for g in r["gains"]}) for r in rows]

    def space(self, name: str) -> DesignSpace:
        """The design space ``name`` as stored with its results (cached per connection)."""
        cache = self.__dict__.setdefault("_spaces", {})
        if name not in cache:
            rows = self.query("space_definition", name=name)
            if not rows:
                raise InputError(f"unknown design space {name!r}",
                                 "import results in it first (`mdesign kb import ...`)")
            cache[name] = DesignSpace.from_dict(json.loads(rows[0]["definition"]),
                                                origin=f"knowledge base: {name}")
        return cache[name]

    def task_spaces(self, task: str) -> list[str]:
        """The design spaces in which ``task`` has results, most results first."""
        return [r["space"] for r in self.query("task_spaces", task=task)]

    def target_space(self, task: str) -> str:
        """The design space of ``task``'s stored results (the one with most); for a task
        without results (a new task to train on), the space with the most tasks."""
        own = self.task_spaces(task)
        if own:
            return own[0]
        spaces = [s for s, n in self.spaces_by_tasks() if n > 0]
        if not spaces:
            raise InputError(f"task {task!r} has no results and the knowledge base holds no "
                             "design space with results", "import a model base first "
                             "(`mdesign kb import ...`)")
        return spaces[0]

    def spaces_by_tasks(self) -> list[tuple[str, int]]:
        """``(space, tasks with results in it)`` for every space, most tasks first."""
        return [(r["space"], r["tasks"]) for r in self.query("spaces_by_tasks")]

    def source_scores(self, uids: Sequence[str], tasks: Iterable[str]
                      ) -> dict[str, dict[str, StoredScore]]:
        """uid -> task -> stored result, for the architectures that exist (multi-hop)."""
        rows = self.query("source_scores", uids=list(uids), tasks=list(tasks))
        return {r["uid"]: {x["task"]: StoredScore(**x) for x in r["results"] if x}
                for r in rows}

    def improving_paths(self, uid: str, task: str, k: int = 2, limit: int = 10,
                        engine: str = "cypher") -> list[EvidencePath]:
        """Shortest improving paths of up to ``k`` edits from ``uid`` on ``task``.

        ``engine="cypher"`` runs a quantified path pattern (``k`` <= 4);
        ``engine="gds"`` projects the task's improving evidence graph and runs GDS's
        single-source shortest paths on it (any ``k``).
        """
        if k < 1:
            raise InputError(f"k must be at least 1 (got {k})", "pass k >= 1")
        if engine == "cypher":
            if k > 4:
                raise InputError(f"the Cypher engine plans at most 4 edits (got k={k})",
                                 "use engine='gds' for longer paths")
            rows = self.query("improving_paths", uid=uid, task=task, k=k, limit=limit)
        elif engine == "gds":
            name = f"mdesign-improving-{hashlib.sha1(task.encode()).hexdigest()[:12]}"
            with self._projection(name, "evidence_graph_project", task=task,
                                  min_gain=0.0) as graph:
                rows = self.query("improving_paths_gds", graph=graph, uid=uid, task=task,
                                  k=k, limit=limit)
        else:
            raise InputError(f"unknown engine {engine!r}", "use 'cypher' or 'gds'")
        return [EvidencePath(**r) for r in rows]

    def task_similarity(self, task_a: str, task_b: str) -> TaskSimilarity:
        return TaskSimilarity(**self.query("task_similarity", task_a=task_a, task_b=task_b)[0])

    def similar_tasks(self, task: str, limit: int = 5) -> list[TaskSimilarity]:
        return [TaskSimilarity(**r) for r in self.query("similar_tasks", task=task, limit=limit)]

    def stats(self) -> KBStats:
        r = self.query("kb_stats")[0]
        return KBStats(
            architectures=r["architectures"], tasks=r["tasks"], results=r["results"],
            edits=r["edits"], gains=r["gains"],
            spaces=[SpaceInfo(**s) for s in r["spaces"]],
            task_list=[_task_info(t) for t in r["task_list"]])


class _LookaheadProjection:
    """A projection made by :meth:`KnowledgeBase.lookahead_graph`."""

    def __init__(self, kb: KnowledgeBase, graph: str) -> None:
        self.kb, self.graph = kb, graph

    def ball(self, uid: str, k: int) -> list[BallEntry]:
        """The architectures within ``k`` edits of ``uid`` (GDS shortest paths)."""
        return self.kb.lookahead_ball(self.graph, uid, k)


def _one_line(text: str | None) -> str:
    return " ".join((text or "").split())


def _auth_lock_time(conn: settings.Connection) -> str:
    """How long Neo4j locks a user out after too many failed logins: the managed
    server's ``dbms.security.auth_lock_time``, else Neo4j's default (5 s)."""
    if conn.managed:
        from mdesign.kb.server import ManagedNeo4j

        try:
            conf = (ManagedNeo4j().neo4j_home / "conf" / "neo4j.conf").read_text()
        except OSError:
            conf = ""
        for line in conf.splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "dbms.security.auth_lock_time" and value.strip():
                return value.strip()
    return "5s"


def _task_info(props: dict[str, Any]) -> TaskInfo:
    features = {k.removeprefix(FEATURE_PREFIX): float(v) for k, v in props.items()
                if k.startswith(FEATURE_PREFIX)}
    restrict = json.loads(props["restrict"]) if props.get("restrict") else None
    return TaskInfo(name=props["name"], kind=props.get("kind", "?"),
                    metric=props.get("metric", "?"),
                    higher_is_better=props.get("higher_is_better", True),
                    split=props.get("split", "valid_test"), restrict=restrict,
                    features=features, results=props.get("results") or 0,
                    evidence_edits=props.get("evidence_edits") or 0)


def code_version() -> str:
    from mdesign import __version__

    return __version__

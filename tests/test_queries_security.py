"""`mdesign query` and the Python API as an attacker or a new user would try them.

Names are looked up in the shipped set (never joined to a path), writing queries are
internal, the library does not print Neo4j's notifications, and a failed-login lockout is
named as such.
"""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from conftest import run_cli
from mdesign import cypher
from mdesign.core.errors import InputError
from mdesign.kb import KnowledgeBase
from mdesign.kb.server import ManagedNeo4j
from tables import write_toy
from test_bad_input import one_line_error

CYPHER_DIR = Path(cypher.__file__).resolve().parent

# A clause or procedure that changes the store or the GDS catalog.
WRITES = re.compile(
    r"\b(CREATE|MERGE|SET|DELETE|REMOVE|DROP)\b"
    r"|\bgds\.[\w.]*\b(project|drop|write|mutate)\b"
    r"|\bdb\.create\.", re.IGNORECASE)


# -- names are looked up, never joined to a path --------------------------------------------


def _evil(tmp_path: Path) -> Path:
    evil = tmp_path / "evil.cypher"
    evil.write_text("RETURN 'pwned-by-file' AS pwned\n")
    return evil


def test_query_name_is_never_a_path(server: ManagedNeo4j, tmp_path: Path) -> None:
    evil = _evil(tmp_path)
    relative = os.path.relpath(evil.with_suffix(""), CYPHER_DIR)
    assert ".." in relative
    for name in (relative, str(evil.with_suffix("")), "../cypher/kb_stats",
                 "./kb_stats", "kb_stats/", "kb_stats\n"):
        out = run_cli("query", name)
        one_line_error(out, "no named query", "mdesign query --list")
        assert "pwned" not in out.stdout
    with pytest.raises(InputError, match="no named query"):
        cypher.load(str(evil.with_suffix("")))


def test_long_query_name_is_one_line() -> None:
    name = "q" * 300
    out = run_cli("query", name)
    one_line_error(out, "no named query", "...")
    assert len(out.stderr) < 400, "the name is shortened in the message"
    with pytest.raises(InputError):
        cypher.load("../" * 100 + "x" * 300)


def test_user_queries_come_through_file(kb: KnowledgeBase, tmp_path: Path) -> None:
    out = run_cli("query", "--file", str(_evil(tmp_path)), "--json")
    assert out.returncode == 0, out.stderr
    assert "pwned-by-file" in out.stdout
    q = tmp_path / "params.cypher"
    q.write_text("// my query\nRETURN $x + 1 AS y\n")
    out = run_cli("query", "--file", str(q), "--param", "x=41", "--json")
    assert out.returncode == 0 and '"y": 42' in out.stdout, out.stderr
    one_line_error(run_cli("query", "--file", str(q)), "needs parameter(s) x")


def test_bad_query_file_is_one_line(server: ManagedNeo4j, tmp_path: Path) -> None:
    latin = tmp_path / "latin1.cypher"
    latin.write_bytes("RETURN 'caf\xe9' AS x\n".encode("latin-1"))
    empty = tmp_path / "empty.cypher"
    empty.write_text("// nothing but a comment\n")
    one_line_error(run_cli("query", "--file", str(latin)), "not UTF-8")
    one_line_error(run_cli("query", "--file", str(tmp_path / "missing.cypher")),
                   "does not exist")
    one_line_error(run_cli("query", "--file", str(tmp_path)), "not a file")
    one_line_error(run_cli("query", "--file", str(empty)), "holds no query")
    one_line_error(run_cli("query", "--file", "f" * 300), "--file")
    one_line_error(run_cli("query", "kb_stats", "--file", str(empty)), "both")


# -- writing queries are internal -----------------------------------------------------------


def test_every_writing_query_is_internal() -> None:
    writing = [n for n in cypher.names()
               if WRITES.search(cypher.strip_comments(cypher.load(n)))]
    assert {"clear_database", "observations_forget", "run_finish", "run_create",
            "marker_upsert", "schema", "lookahead_project", "evidence_graph_project",
            "gds_drop_graph", "import_results"} <= set(writing)
    unmarked = [n for n in writing if not cypher.is_internal(n)]
    assert not unmarked, f"queries that write but lack `// internal`: {unmarked}"
    for n in ("best_architectures", "neighbours_with_gains", "kb_stats", "task_results"):
        assert not cypher.is_internal(n)


def test_list_shows_the_public_queries_with_parameters_and_defaults() -> None:
    out = run_cli("query", "--list", "--json")
    assert out.returncode == 0, out.stderr
    entries = json.loads(out.stdout)
    public = [n for n in cypher.names() if cypher.is_public(n)]
    assert [e["name"] for e in entries] == public
    assert not any(cypher.is_internal(n) for n in public)
    assert {"best_architectures", "improving_paths", "similar_tasks"} <= set(public)
    assert "clear_database" not in public and "checksum_evidence" not in public
    best = next(e for e in entries if e["name"] == "best_architectures")
    assert best["parameters"] == {"task": "(required)", "limit": 10}
    assert best["description"] == cypher.description("best_architectures")
    assert "public" not in best["description"].splitlines()
    text = run_cli("query", "--list").stdout
    assert "best_architectures(task, limit=10)" in text
    # the whole description, not its first line only
    last = cypher.description("best_architectures").splitlines()[-1]
    assert f"    {last}" in text.splitlines()
    out = run_cli("query", "--list", "--all", "--json")
    assert [e["name"] for e in json.loads(out.stdout)] == cypher.names()


def test_internal_queries_are_refused_without_allow_write(kb: KnowledgeBase,
                                                          tmp_path: Path) -> None:
    name = f"sec-marker-{uuid.uuid4().hex[:8]}"
    before = kb.stats()
    for query in ("marker_upsert", "clear_database", "observations_forget", "run_finish"):
        one_line_error(run_cli("query", query, "--param", f"name={name}"), "internal",
                       "--allow-write")
    assert kb.query("marker_count", name=name)[0]["n"] == 0
    assert kb.stats() == before  # clear_database did not run
    # the text stays readable
    out = run_cli("query", "--show", "marker_upsert")
    assert out.returncode == 0 and "MERGE" in out.stdout
    # a user's file that writes runs in a read-only transaction unless allowed
    w = tmp_path / "write.cypher"
    w.write_text("MERGE (m:Marker {name: $name}) RETURN m.name AS name\n")
    one_line_error(run_cli("query", "--file", str(w), "--param", f"name={name}"),
                   "writes", "--allow-write")
    assert kb.query("marker_count", name=name)[0]["n"] == 0
    out = run_cli("query", "marker_upsert", "--allow-write", "--param", f"name={name}")
    assert out.returncode == 0, out.stderr
    assert kb.query("marker_count", name=name)[0]["n"] == 1
    out = run_cli("query", "--file", str(w), "--allow-write", "--param", f"name={name}2")
    assert out.returncode == 0, out.stderr
    assert kb.query("marker_count", name=f"{name}2")[0]["n"] == 1


# -- a quiet library ------------------------------------------------------------------------


QUIET_SCRIPT = """
import logging, sys
logging.basicConfig(level=logging.WARNING)
from mdesign.kb import KnowledgeBase
task, other, absent = sys.argv[1:4]
with KnowledgeBase.connect() as kb:
    best = kb.best_architectures(task, limit=5)
    assert best and best[0].latency is None and best[0].valid_std is None, best[0]
    near = kb.neighbours(best[0].uid, [task, other])
    assert near
    stored = kb.source_scores([best[0].uid, near[0].uid], [task, other])
    assert stored[best[0].uid][task].latency is None
    kb.task_scores(task, best[0].space)
    kb.similar_tasks(task, limit=3)
    kb.tasks_in_space(best[0].space, exclude=task)
    kb.improving_paths(best[0].uid, task, k=2)
    kb.stats()
    kb.query("best_architectures_within", task=task, space=best[0].space,
             max_params=None, max_latency=1.0, limit=5)
    kb.query("marker_count", name=absent)
    # a label and a property key no store holds: Neo4j notifies, the filter drops it
    kb.driver.execute_query(f"MATCH (n:`{absent}`) RETURN n.`{absent}` AS x",
                            database_=kb.database)
print("ok")
"""


def _table_without_costs_or_std(tmp_path: Path, space: str, tasks: dict[str, str]
                                ) -> tuple[Path, Path]:
    space_file, table = write_toy(tmp_path, space, tasks)
    rows = list(csv.reader(table.read_text().splitlines()))
    keep = [i for i, c in enumerate(rows[0]) if not c.endswith("_std")]
    with table.open("w", newline="") as fh:
        csv.writer(fh).writerows([[r[i] for i in keep] for r in rows])
    return space_file, table


def test_python_api_prints_no_notifications(kb: KnowledgeBase, tmp_path: Path) -> None:
    space, table = _table_without_costs_or_std(tmp_path, "toy-quiet",
                                               {"toy-quiet-a": "node", "toy-quiet-b": "node"})
    out = run_cli("kb", "import", "table", str(table), "--space", str(space))
    assert out.returncode == 0, out.stderr
    absent = f"Absent_{uuid.uuid4().hex}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEO4J_")}
    out = subprocess.run([sys.executable, "-c", QUIET_SCRIPT, "toy-quiet-a", "toy-quiet-b",
                          absent], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
    assert "notification" not in out.stderr.lower(), out.stderr[:2000]
    assert "WARNING" not in out.stderr, out.stderr[:2000]


def test_api_queries_do_not_read_absent_keys_statically(kb: KnowledgeBase) -> None:
    """The per-step queries read optional result properties through properties(r), so
    even a driver without the filter gets no unknown-property warning from them."""
    from neo4j import GraphDatabase

    c = kb.connection
    calls = {
        "best_architectures": {"task": "toy-quiet-a", "limit": 5},
        "best_architectures_within": {"task": "toy-quiet-a", "space": "toy-quiet",
                                      "max_params": 10, "max_latency": 1.0, "limit": 5},
        "source_scores": {"uids": ["toy-quiet/x"], "tasks": ["toy-quiet-a"]},
        "task_results": {"task": "toy-quiet-a"},
        "evidence_results": {"task": "toy-quiet-a", "space": "toy-quiet"},
        "observation_edits": {"uids": ["toy-quiet/x"], "task": "toy-quiet-a"},
    }
    optional = {"valid", "test", "valid_std", "test_std", "score_std", "params", "latency",
                "seeds"}
    with GraphDatabase.driver(c.uri, auth=(c.user, c.password)) as raw:
        for name, params in calls.items():
            _, summary, _ = raw.execute_query(cypher.load(name), params, database_=c.database)
            warned = [g.status_description for g in summary.gql_status_objects
                      if g.is_notification and g.gql_status == "01N52"
                      and any(f"`{k}`" in g.status_description for k in optional)]
            assert not warned, (name, warned)
            text = cypher.strip_comments(cypher.load(name))
            assert not re.search(r"\br\.(" + "|".join(optional) + r")\b", text), name


# -- the failed-login lockout ---------------------------------------------------------------


def test_login_lockout_is_named(kb: KnowledgeBase, server: ManagedNeo4j) -> None:
    status = server.status()
    assert status.running and status.bolt_port
    env = {"NEO4J_URI": f"neo4j://127.0.0.1:{status.bolt_port}", "NEO4J_USER": "neo4j",
           "NEO4J_PASSWORD": f"wrong-{uuid.uuid4().hex}"}
    try:
        seen = []
        for _ in range(10):  # Neo4j locks after dbms.security.auth_max_failed_attempts (3)
            out = run_cli("kb", "stats", env=env, timeout=120)
            seen.append(out.stderr.strip())
            if "locked" in out.stderr:
                break
        else:
            pytest.fail(f"no lockout after 10 wrong passwords: {seen}")
        one_line_error(out, "locked user 'neo4j' out", "too many failed logins", "5s",
                       "wait 5s", "right password")
        assert "NEO4J_DATABASE" not in out.stderr
        assert "wrong" not in out.stderr, "the password is never printed"
    finally:
        _wait_for_unlock(kb)


def _wait_for_unlock(kb: KnowledgeBase, limit: float = 120.0) -> None:
    """The lock holds the user for everyone for auth_lock_time after the last failure
    (a right password during it does not extend it): wait it out, then log in."""
    time.sleep(6)
    deadline = time.monotonic() + limit
    while True:
        try:
            KnowledgeBase.connect(kb.connection).close()
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(2)

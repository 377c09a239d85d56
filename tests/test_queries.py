"""Every named query against a pure-Python computation over the same tables."""

from __future__ import annotations

import json
import random

import pytest
from conftest import run_cli
from mdesign import cypher
from mdesign.core.errors import InputError
from mdesign.core.stats import spearman
from mdesign.kb import KnowledgeBase
from nbg_reference import ALL, improving_reach, table


def test_best_architectures(nbg: KnowledgeBase) -> None:
    for task in ("cora", "proteins"):
        rows = nbg.best_architectures(task, limit=25)
        expected = sorted(table(task).items(), key=lambda kv: -kv[1]["valid"])[:25]
        assert [r.score for r in rows] == [v["valid"] for _, v in expected]
        top = rows[0]
        assert top.valid == table(task)[top.uid]["valid"]
        assert top.test == table(task)[top.uid]["test"]
        assert top.params == pytest.approx(table(task)[top.uid]["params"])


@pytest.mark.parametrize("engine", ["cypher", "gds"])
def test_improving_paths(nbg: KnowledgeBase, engine: str) -> None:
    rng = random.Random(1)
    for task in ("citeseer", "proteins"):
        for start in rng.sample(sorted(table(task)), 3):
            got = nbg.improving_paths(start, task, k=2, limit=100_000, engine=engine)
            expected = improving_reach(start, task, 2)
            assert {p.target: p.hops for p in got} == {t: h for t, (h, _) in expected.items()}
            for p in got:
                assert p.total_gain == pytest.approx(expected[p.target][1], abs=1e-9)
                assert p.path[0] == start and p.path[-1] == p.target
                assert len(p.path) == p.hops + 1
            gains = [p.total_gain for p in got]
            assert gains == sorted(gains, reverse=True)


def test_improving_paths_rejects_bad_k(nbg: KnowledgeBase) -> None:
    u = next(iter(table("cora")))
    with pytest.raises(InputError, match="at least 1"):
        nbg.improving_paths(u, "cora", k=0)
    with pytest.raises(InputError, match="at most 4"):
        nbg.improving_paths(u, "cora", k=5)


def _reference_spearman(a: str, b: str) -> tuple[float, int]:
    ta, tb = table(a), table(b)
    shared = sorted(ta.keys() & tb.keys())
    return spearman([ta[u]["valid"] for u in shared], [tb[u]["valid"] for u in shared]), \
        len(shared)


def test_task_similarity(nbg: KnowledgeBase) -> None:
    for a, b in (("cora", "citeseer"), ("cora", "proteins"), ("arxiv", "computers")):
        sim = nbg.task_similarity(a, b)
        rho, n = _reference_spearman(a, b)
        assert sim.shared == n
        assert sim.spearman == pytest.approx(rho, abs=1e-9)


def test_similar_tasks(nbg: KnowledgeBase) -> None:
    got = nbg.similar_tasks("cora", limit=10)
    expected = sorted(((b, *_reference_spearman("cora", b)) for b in ALL if b != "cora"),
                      key=lambda r: -r[1])
    assert [s.task_b for s in got] == [b for b, _, _ in expected]
    for s, (_, rho, n) in zip(got, expected, strict=True):
        assert s.spearman == pytest.approx(rho, abs=1e-9)
        assert s.shared == n


def test_similar_tasks_cache_matches_the_live_query(nbg: KnowledgeBase) -> None:
    from mdesign.kb.similarity import forget_similarities, refresh_similarities

    cached = nbg.query("similar_tasks", task="citeseer", limit=20)  # cached at import
    n_cached = nbg.run_cypher("MATCH (:Task {name: $t})-[s:SIMILARITY]->() RETURN count(s) "
                              "AS n", {"t": "citeseer"}, label="test")[0]["n"]
    assert n_cached >= len(ALL) - 1
    forget_similarities(nbg, ["citeseer"])
    live = nbg.query("similar_tasks", task="citeseer", limit=20)
    assert [r["task_b"] for r in live] == [r["task_b"] for r in cached]
    for a, b in zip(live, cached, strict=True):
        assert a["spearman"] == pytest.approx(b["spearman"], abs=1e-12)
        assert a["shared"] == b["shared"]
    assert refresh_similarities(nbg, ["citeseer"]) >= len(ALL) - 1


def test_refreshing_one_task_writes_what_a_full_refresh_writes(nbg: KnowledgeBase) -> None:
    """One task's refresh reads only the tasks of its spaces; no pair is lost by that."""
    from mdesign.kb.similarity import refresh_similarities

    def cached() -> list[tuple]:
        return [tuple(r.values()) for r in nbg.run_cypher(
            "MATCH (a:Task {name: $t})-[s:SIMILARITY]-(b:Task) "
            "RETURN b.name AS b, startNode(s) = a AS out, s.spearman AS rho, s.shared AS n "
            "ORDER BY b, out", {"t": "proteins"}, label="test")]

    pairs = refresh_similarities(nbg, ["proteins"])
    assert pairs >= len(ALL) - 1
    one = cached()
    refresh_similarities(nbg)
    assert cached() == one and len(one) == 2 * pairs


def test_stats_and_cli_agree(nbg: KnowledgeBase) -> None:
    out = run_cli("kb", "stats", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == json.loads(nbg.stats().model_dump_json())


def test_cli_query_matches_the_api(nbg: KnowledgeBase) -> None:
    u = nbg.best_architectures("pubmed", 1)[0].uid
    out = run_cli("query", "neighbours_with_gains", "--param", f"uid={u}",
                  "--param", '["pubmed","cs"]'.join(["tasks=", ""]), "--json")
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    api = nbg.neighbours(u, ["pubmed", "cs"])
    assert [r["uid"] for r in rows] == [n.uid for n in api]
    assert [{g["task"]: g["gain"] for g in r["gains"]} for r in rows] == [n.gains for n in api]
    # the best architecture of a task has no improving neighbour on that task
    assert all(n.gains["pubmed"] <= 0 for n in api)


def test_every_named_query_is_documented_and_parameterised() -> None:
    names = cypher.names()
    assert {"best_architectures", "neighbours_with_gains", "improving_paths",
            "task_similarity", "similar_tasks", "kb_stats"} <= set(names)
    for n in names:
        assert cypher.description(n), f"{n}.cypher lacks its leading comment"
        text = cypher.load(n)
        assert "{0}" not in text and "%s" not in text


def test_query_errors_are_one_line(nbg: KnowledgeBase) -> None:
    out = run_cli("query", "best_architectures")
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0
    assert "needs parameter(s) task" in out.stderr
    out = run_cli("query", "no_such_query")
    assert out.returncode == 2 and "no named query 'no_such_query'" in out.stderr


def test_query_defaults_bounds_and_unknown_tasks(nbg: KnowledgeBase) -> None:
    out = run_cli("query", "best_architectures", "--param", "task=cora", "--json")
    assert out.returncode == 0 and len(json.loads(out.stdout)) == 10  # limit's default
    # a float limit, as Neo4j Browser's `:param {limit: 5}` sets it, still works
    out = run_cli("query", "best_architectures", "--param", "task=cora", "--param",
                  "limit=5.0", "--json")
    assert out.returncode == 0 and len(json.loads(out.stdout)) == 5
    out = run_cli("query", "best_architectures", "--param", "task=no-such-task")
    assert out.returncode == 2 and "unknown task 'no-such-task'" in out.stderr
    uid = nbg.best_architectures("citeseer", 1)[0].uid
    out = run_cli("query", "improving_paths", "--param", f"uid={uid}", "--param",
                  "task=cora", "--param", "k=9")
    assert out.returncode == 2 and "k=9 is outside 1..4" in out.stderr
    assert out.stderr.strip().count("\n") == 0


def test_python_api_example_runs(nbg: KnowledgeBase) -> None:
    import subprocess
    import sys
    from pathlib import Path

    example = Path(__file__).resolve().parents[1] / "examples" / "kb_api.py"
    out = subprocess.run([sys.executable, str(example), "citeseer"], capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    best = nbg.best_architectures("citeseer", 1)[0]
    assert best.key in out.stdout
    assert "most similar tasks: [" in out.stdout
    assert " edits -> " in out.stdout


def test_plain_bulk_reads_answer_as_the_converted_rows(nbg: KnowledgeBase) -> None:
    """``query_plain`` (the bulk reads: a task's every result, a space's keys, mean
    scores, the evidence's results) skips the driver's graph-type conversion; their rows
    hold no node, relationship or path, so both answer alike, nulls included."""
    task, space = "cora", "nas-bench-graph"
    for name, params in (("task_results", {"task": task}),
                         ("task_mean_scores", {"task": task}),
                         ("evidence_results", {"task": task, "space": space}),
                         ("space_architecture_uids", {"space": space})):
        plain, converted = nbg.query_plain(name, **params), nbg.query(name, **params)
        assert plain == converted and plain and any(plain[0].values()), name
    # a query that returns nodes keeps the driver's conversion: maps, not Node objects
    row = nbg.run_cypher("MATCH (t:Task) RETURN t LIMIT 1", {}, label="t")[0]
    assert type(row["t"]) is dict

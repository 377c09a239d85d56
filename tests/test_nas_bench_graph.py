"""The NAS-Bench-Graph import against the package's own tables."""

from __future__ import annotations

import random

import pytest
from mdesign.kb import KnowledgeBase
from mdesign.kb.importers.nas_bench_graph import DATASETS, import_nas_bench_graph
from nbg_reference import adjacency, table


def test_counts_match_the_tables(nbg: KnowledgeBase) -> None:
    s = nbg.stats()  # other tests add their own spaces and tasks: compare per space
    space = {sp.name: sp for sp in s.spaces}["nas-bench-graph"]
    assert space.architectures == 26206
    by_task = {t.name: t for t in s.task_list}
    assert sum(by_task[d].results for d in DATASETS) == 8 * 26206 + 2021
    pairs = sum(len(v) for v in adjacency().values()) // 2
    assert space.edits == pairs
    for d in DATASETS:
        t = table(d)
        expected = sum(1 for a, ns in adjacency().items() if a in t
                       for b in ns if b in t) // 2
        assert by_task[d].evidence_edits == expected, d
        assert by_task[d].results == len(t)
    assert by_task["proteins"].restrict == {f"op{i}": ["gcn", "sage", "arma", "fc", "skip"]
                                            for i in range(1, 5)}
    assert by_task["proteins"].metric == "roc_auc"
    assert by_task["cora"].features["nodes"] == 2708


def test_results_and_gains_equal_the_tables(nbg: KnowledgeBase) -> None:
    rng = random.Random(0)
    uids = rng.sample(sorted(table("cora")), 40)
    for u in uids:
        for n in nbg.neighbours(u, tasks=["cora", "proteins"]):
            for d in ("cora", "proteins"):
                t = table(d)
                if u in t and n.uid in t:
                    assert n.gains[d] == pytest.approx(t[n.uid]["valid"] - t[u]["valid"],
                                                       abs=1e-12)
                else:
                    assert n.gains[d] is None
        assert {n.uid for n in nbg.neighbours(u, tasks=[])} == set(adjacency()[u])


def test_second_import_changes_nothing(nbg: KnowledgeBase) -> None:
    before = nbg.stats().model_dump()
    checksum = nbg.query("checksum_evidence", task="citeseer")
    report = import_nas_bench_graph(nbg)
    assert report.status == "up-to-date"
    assert nbg.stats().model_dump() == before
    assert nbg.query("checksum_evidence", task="citeseer") == checksum

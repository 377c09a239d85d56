"""Both evidence readers give the same answers: the knowledge base of an imported toy
table, and InMemoryEvidence built from the same rows as plain tables."""

from __future__ import annotations

import csv
import itertools
import math
import random

import pytest
from conftest import run_cli
from mdesign.core.space import DesignSpace
from mdesign.kb import KnowledgeBase
from mdesign.refinement.evaluators import BenchmarkEvaluator
from mdesign.refinement.evidence import EvidenceReader
from mdesign.refinement.memory import InMemoryEvidence, StoredResult, TaskTable
from mdesign.refinement.refine import RefineConfig, refine
from tables import SPACE_YAML

NAME = "toy-evidence"
TASKS = {"toy-eq-a": 1.0, "toy-eq-b": 0.7, "toy-eq-c": -0.3, "toy-eq-d": 0.9}
FEATURES = {"toy-eq-a": (100.0, 2.0), "toy-eq-b": (150.0, 3.0), "toy-eq-c": (90.0, 9.0),
            "toy-eq-d": (120.0, 2.5)}


def _rows(space: DesignSpace) -> list[dict]:
    """Canonical architectures only, distinct scores (no ties to order)."""
    out = []
    for task, scale in TASKS.items():
        rng = random.Random(task)
        for agg, layers, act in itertools.product(["add", "mean", "max"], [1, 2, 4],
                                                  ["relu", "tanh"]):
            if layers == 1 and act == "tanh":
                continue  # not canonical (layers 1 sets act=relu)
            base = {"add": 0.0, "mean": 0.02, "max": -0.01}[agg] + 0.01 * layers
            v = round(0.6 + scale * base + (0.004 if act == "tanh" else 0) +
                      rng.uniform(0, 0.003), 6)
            out.append({"dataset": task, "kind": "node", "agg": agg, "l_mp": layers,
                        "act": act, "val_acc": v, "val_acc_std": 0.01,
                        "acc": round(v - 0.01, 6), "params": 1000 * layers})
    return out


@pytest.fixture(scope="module")
def readers(kb: KnowledgeBase, tmp_path_factory: pytest.TempPathFactory
            ) -> tuple[KnowledgeBase, InMemoryEvidence]:
    tmp = tmp_path_factory.mktemp("eq")
    space_file = tmp / f"{NAME}.yaml"
    space_file.write_text(SPACE_YAML.format(name=NAME))
    space = DesignSpace.from_yaml(space_file)
    rows = _rows(space)
    table = tmp / f"{NAME}.csv"
    with table.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    out = run_cli("kb", "import", "table", str(table), "--space", str(space_file))
    assert out.returncode == 0, out.stderr
    feats = tmp / "features.csv"
    feats.write_text("task,nodes,degree\n" + "".join(f"{t},{n},{d}\n"
                                                     for t, (n, d) in FEATURES.items()))
    out = run_cli("kb", "import", "task-features", str(feats))
    assert out.returncode == 0, out.stderr
    tables: dict[str, TaskTable] = {}
    for r in rows:
        key = space.key({"agg": r["agg"], "layers": r["l_mp"], "act": r["act"]})
        t = tables.setdefault(r["dataset"], TaskTable(
            kind="node", metric="accuracy",
            features=dict(zip(("nodes", "degree"), FEATURES[r["dataset"]], strict=True))))
        t.results[key] = StoredResult(score=r["val_acc"], valid=r["val_acc"], test=r["acc"],
                                      valid_std=r["val_acc_std"], score_std=r["val_acc_std"],
                                      params=float(r["params"]),
                                      source=f"table:{table.name}")
    return kb, InMemoryEvidence(kb.space(NAME), tables)


def _both(readers: tuple[EvidenceReader, EvidenceReader], method: str, *args: object
          ) -> tuple[object, object]:
    a, b = (getattr(r, method)(*args) for r in readers)
    return a, b


def _dump(x: object) -> object:
    if isinstance(x, list):
        return [_dump(v) for v in x]
    if isinstance(x, dict):
        return {k: _dump(v) for k, v in x.items()}
    return x.model_dump() if hasattr(x, "model_dump") else x


def _same(x: object, y: object) -> bool:
    """Equal, floats to within rounding."""
    if isinstance(x, dict) and isinstance(y, dict):
        return x.keys() == y.keys() and all(_same(x[k], y[k]) for k in x)
    if isinstance(x, float) and isinstance(y, float):
        return math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-12)
    return x == y


def test_tasks_and_spaces_agree(readers: tuple[KnowledgeBase, InMemoryEvidence]) -> None:
    kb, mem = readers
    for t in TASKS:
        a, b = _both(readers, "task", t)
        assert _dump(a) == _dump(b)
        assert _both(readers, "task_spaces", t) == ([NAME], [NAME])
        assert _both(readers, "target_space", t) == (NAME, NAME)
        a, b = _both(readers, "task_scores", t, NAME)
        assert a == b and len(a) == 15
    a, b = _both(readers, "tasks_in_space", NAME, "toy-eq-b")
    assert _dump(a) == _dump(b) and [t.name for t in a] == ["toy-eq-a", "toy-eq-c", "toy-eq-d"]
    assert kb.space(NAME).model_dump() == mem.space(NAME).model_dump()


def test_rankings_agree(readers: tuple[KnowledgeBase, InMemoryEvidence]) -> None:
    for t in TASKS:
        for limit in (1, 5, 50):
            a, b = _both(readers, "best_architectures", t, limit)
            assert _dump(a) == _dump(b)
        for mp, ml in ((None, None), (2000.0, None), (1500.0, 1.0), (500.0, None)):
            a, b = _both(readers, "best_architectures_within", t, NAME, mp, ml, 4)
            assert _dump(a) == _dump(b)


def test_neighbours_and_scores_agree(readers: tuple[KnowledgeBase, InMemoryEvidence]
                                     ) -> None:
    _, mem = readers
    uids = [mem.uid(k) for k in mem.keys]
    tasks = list(TASKS)
    for uid in uids:
        a, b = _both(readers, "neighbours", uid, tasks[:3])
        assert _dump(a) == _dump(b), uid
    a, b = _both(readers, "source_scores", [*uids, f"{NAME}/nope"], tasks[1:])
    assert _dump(a) == _dump(b) and len(a) == len(uids)


@pytest.mark.parametrize("cfg", [{"sources": 2}, {"sources": 2, "lookahead": 2,
                                                  "uncertainty": True},
                                 {"sources": 2, "similarity": "both", "anchors": 3,
                                  "max_params": 2500.0},
                                 {"strategy": "surrogate"},
                                 {"strategy": "surrogate", "acquisition": "thompson",
                                  "seed": 2},
                                 {"strategy": "surrogate", "similarity": "both",
                                  "anchors": 3},
                                 {"strategy": "surrogate", "hyperparameters": "average",
                                  "kernel": "sources", "slope_prior": "sources"}])
def test_one_refinement_gives_the_same_steps(readers: tuple[KnowledgeBase, InMemoryEvidence],
                                             cfg: dict) -> None:
    results = []
    for r in readers:
        oracle = BenchmarkEvaluator(None, "toy-eq-a", 8,
                                    table=readers[1].oracle("toy-eq-a"))
        results.append(refine(r, RefineConfig(task="toy-eq-a", budget=8, **cfg),
                              oracle))
    a, b = ([s.model_dump(exclude={"overhead_ms"}) for s in x.steps] for x in results)
    # the same decisions; the planners' ridge fits sum the source's scores in the store's
    # (arbitrary) order, so their predictions agree to rounding, not bit for bit
    assert len(a) == len(b) == 8
    for x, y in zip(a, b, strict=True):
        assert _same(x, y), (x, y)
    assert results[0].sources == results[1].sources


def test_oracle_is_the_stored_table(readers: tuple[KnowledgeBase, InMemoryEvidence]) -> None:
    kb, mem = readers
    assert BenchmarkEvaluator(kb, "toy-eq-c", 1)._table == mem.oracle("toy-eq-c")


def test_gds_lookahead_agrees_with_the_space(readers: tuple[KnowledgeBase, InMemoryEvidence]
                                             ) -> None:
    kb, mem = readers
    results = []
    for r, engine in ((kb, "gds"), (mem, "space")):
        oracle = BenchmarkEvaluator(None, "toy-eq-b", 6, table=mem.oracle("toy-eq-b"))
        results.append(refine(r, RefineConfig(task="toy-eq-b", budget=6, lookahead=2,
                                               lookahead_engine=engine), oracle))
    a, b = ([s.uid for s in x.steps] for x in results)
    assert a == b

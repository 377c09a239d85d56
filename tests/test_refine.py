"""The refinement walk on NAS-Bench-Graph, leaving the target out."""

from __future__ import annotations

import pytest
from mdesign.kb import KnowledgeBase
from mdesign.kb.errors import InputError
from mdesign.refinement.evaluators import BenchmarkEvaluator, BudgetExhausted
from mdesign.refinement.refine import RefineConfig, refine
from nbg_reference import table


def test_budget_is_strict_and_re_reads_are_free(nbg: KnowledgeBase) -> None:
    ev = BenchmarkEvaluator(nbg, "citeseer", budget=2)
    a, b = sorted(table("citeseer"))[:2]
    assert ev.evaluate(a).paid and ev.spent == 1
    again = ev.evaluate(a)
    assert not again.paid and ev.spent == 1 and again.score == table("citeseer")[a]["valid"]
    ev.evaluate(b)
    with pytest.raises(BudgetExhausted):
        ev.evaluate(sorted(table("citeseer"))[2])
    assert ev.spent == 2
    with pytest.raises(InputError, match="at least 1"):
        BenchmarkEvaluator(nbg, "citeseer", budget=0)


@pytest.mark.parametrize("task", ["cora", "proteins"])
def test_refine_leaves_the_target_out_and_spends_exactly_the_budget(nbg: KnowledgeBase,
                                                                    task: str) -> None:
    ev = BenchmarkEvaluator(nbg, task, budget=15)
    result = refine(nbg, RefineConfig(task=task, budget=15), ev)
    assert task not in {s.task for s in result.sources}
    assert len(result.sources) == 3
    assert sum(s.weight for s in result.sources) == pytest.approx(1.0)
    assert result.spent == 15 == len({s.uid for s in result.steps})
    t = table(task)
    # the returned architecture is the best paid for, with the target's true numbers
    assert result.best.score == max(t[s.uid]["valid"] for s in result.steps)
    assert result.best.test == t[result.best.uid]["test"]
    for prev, s in zip(result.steps, result.steps[1:], strict=False):
        assert s.best_score >= prev.best_score
        assert sum(s.weights.values()) == pytest.approx(1.0)
    if task == "proteins":  # the walk stays inside the task's own space
        allowed = {"gcn", "sage", "arma", "fc", "skip"}
        for s in result.steps:
            ops = [p.split("=")[1] for p in s.uid.split("/", 1)[1].split(",")[1:]]
            assert set(ops) <= allowed


def test_refine_is_deterministic(nbg: KnowledgeBase) -> None:
    runs = [refine(nbg, RefineConfig(task="pubmed", budget=12),
                   BenchmarkEvaluator(nbg, "pubmed", 12)) for _ in range(2)]
    assert [s.uid for s in runs[0].steps] == [s.uid for s in runs[1].steps]
    assert runs[0].steps[-1].weights == runs[1].steps[-1].weights


def test_calibration_moves_the_weights(nbg: KnowledgeBase) -> None:
    on = refine(nbg, RefineConfig(task="cs", budget=20), BenchmarkEvaluator(nbg, "cs", 20))
    off = refine(nbg, RefineConfig(task="cs", budget=20, calibrate=False),
                 BenchmarkEvaluator(nbg, "cs", 20))
    assert off.steps[-1].weights == off.steps[0].weights
    assert on.steps[-1].weights != on.steps[0].weights


def test_refine_bad_input(nbg: KnowledgeBase) -> None:
    with pytest.raises(InputError, match="unknown task 'nope'"):
        refine(nbg, RefineConfig(task="nope", budget=5), BenchmarkEvaluator(nbg, "cora", 5))
    with pytest.raises(ValueError):
        RefineConfig(task="cora", budget=0)

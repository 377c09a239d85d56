"""Ask/tell over the refinement loop, on in-memory evidence (no server)."""

from __future__ import annotations

import threading

import pytest
from mdesign.core.errors import InputError
from mdesign.refinement.asktell import Refinement
from mdesign.refinement.evaluators import BenchmarkEvaluator
from mdesign.refinement.memory import InMemoryEvidence
from mdesign.refinement.refine import RefineConfig, refine

from tests.test_refine_memory import SPACE, TASKS, _table


@pytest.fixture(scope="module")
def evidence() -> InMemoryEvidence:
    return InMemoryEvidence(SPACE, {t: _table(t, *p) for t, p in TASKS.items()})


@pytest.mark.parametrize("strategy", ["walk", "surrogate"])
def test_ask_tell_proposes_what_refine_pays_for(evidence: InMemoryEvidence,
                                                strategy: str) -> None:
    cfg = RefineConfig(task="target", budget=10, strategy=strategy, seed=3)
    table = evidence.oracle("target")
    direct = refine(evidence, cfg, BenchmarkEvaluator(None, "target", 10, table=table))
    asked = []
    with Refinement(evidence, cfg) as run:
        while (p := run.ask()) is not None:
            assert p.choices == dict(SPACE.parse_key(p.uid.split("/", 1)[1]))
            assert p.reason
            asked.append(p)
            run.tell(p, table[p.uid].model_dump())
        result = run.result()
    assert [p.uid for p in asked] == [s.uid for s in direct.steps]
    assert result.best.uid == direct.best.uid
    assert [s.kind for s in result.steps] == [p.kind for p in asked]
    if strategy == "surrogate":
        assert all(p.uncertainty is not None and p.uncertainty > 0
                   for p in asked if p.kind == "search")


def test_second_ask_without_tell_is_refused_and_batch_allows_several(
        evidence: InMemoryEvidence) -> None:
    table = evidence.oracle("target")
    with Refinement(evidence, RefineConfig(task="target", budget=6)) as run:
        first = run.ask()
        assert first is not None
        with pytest.raises(InputError, match="out for evaluation"):
            run.ask()
        run.tell(first, table[first.uid].score)
        assert run.ask() is not None
    with Refinement(evidence, RefineConfig(task="target", budget=8, batch=3)) as run:
        p = run.ask()
        while p is not None and p.kind != "edit":
            run.tell(p, table[p.uid].score)
            p = run.ask()
        assert p is not None
        out = [p, run.ask(), run.ask()]  # a batch of three is out together
        assert len({q.uid for q in out if q is not None}) == 3
        # another thread tells while this one waits
        threading.Timer(0.2, lambda: [run.tell(q, table[q.uid].score) for q in out]).start()
        assert run.ask(wait=True) is not None


def test_foreign_results_are_kept_and_bad_tells_refused(evidence: InMemoryEvidence) -> None:
    table = evidence.oracle("target")
    cfg = RefineConfig(task="target", budget=6)
    direct = refine(evidence, cfg, BenchmarkEvaluator(None, "target", 6, table=table))
    later = direct.steps[-1].uid
    with Refinement(evidence, cfg) as run:
        run.tell(later, table[later].score)  # known before the loop asks for it
        with pytest.raises(InputError, match="already told"):
            run.tell(later, 0.5)
        with pytest.raises(InputError, match="not an architecture"):
            run.tell("other/agg=add", 0.5)
        asked = []
        while (p := run.ask()) is not None:
            asked.append(p.uid)
            run.tell(p, table[p.uid].score)
    assert later not in asked  # answered from what was told
    assert asked == [s.uid for s in direct.steps if s.uid != later]


def test_failed_result_and_loop_errors_reach_the_caller(evidence: InMemoryEvidence) -> None:
    with Refinement(evidence, RefineConfig(task="target", budget=3)) as run:
        p = run.ask()
        assert p is not None
        e = run.tell(p, float("nan"))
        assert e.failed and e.score == 0.0
    with pytest.raises(InputError, match="walk"), Refinement(
            evidence, RefineConfig(task="target", budget=3, strategy="surrogate",
                                   lookahead=2)) as run:
        run.ask()


def test_a_proposal_told_before_it_is_asked_is_not_handed_out(
        evidence: InMemoryEvidence) -> None:
    """The loop queues its first proposal as soon as it starts; a result for it told
    before anyone asks (another worker's, a resumed study's) must not come back out."""
    import time

    table = evidence.oracle("target")
    cfg = RefineConfig(task="target", budget=4)
    direct = refine(evidence, cfg, BenchmarkEvaluator(None, "target", 4, table=table))
    first = direct.steps[0].uid
    with Refinement(evidence, cfg) as run:
        deadline = time.monotonic() + 10
        while not run._queue and time.monotonic() < deadline:  # the loop has queued it
            time.sleep(0.01)
        run.tell(first, table[first].score)
        p = run.ask()
        assert p is not None and p.uid != first


@pytest.mark.parametrize("strategy", ["walk", "surrogate"])
@pytest.mark.parametrize("batch", [1, 3])
def test_drive_with_an_evaluator_pays_for_what_refine_does(evidence: InMemoryEvidence,
                                                           strategy: str, batch: int) -> None:
    """`mdesign refine` and the benchmarks run through drive(): the same run as refine()."""
    cfg = RefineConfig(task="target", budget=12, strategy=strategy, seed=5, batch=batch)
    table = evidence.oracle("target")
    direct = refine(evidence, cfg, BenchmarkEvaluator(None, "target", 12, table=table))
    ev = BenchmarkEvaluator(None, "target", 12, table=table)
    seen: list[str] = []
    driven = Refinement(evidence, cfg, evaluator=ev, on_step=lambda s: seen.append(s.uid)
                        ).drive()
    assert [s.uid for s in driven.steps] == [s.uid for s in direct.steps] == seen
    assert [s.score for s in driven.steps] == [s.score for s in direct.steps]
    assert driven.best.uid == direct.best.uid
    assert ev.spent == direct.spent == driven.spent


class _Failing(BenchmarkEvaluator):
    def _measure(self, uid: str):  # type: ignore[override]
        if self.spent > 3:
            raise RuntimeError("the GPU fell off")
        return super()._measure(uid)


def test_drive_raises_the_evaluators_error_and_needs_an_evaluator(
        evidence: InMemoryEvidence) -> None:
    table = evidence.oracle("target")
    cfg = RefineConfig(task="target", budget=8)
    with pytest.raises(RuntimeError, match="fell off"):
        Refinement(evidence, cfg, evaluator=_Failing(None, "target", 8, table=table)).drive()
    with pytest.raises(InputError, match="needs an evaluator"):
        Refinement(evidence, cfg).drive()
    run = Refinement(evidence, cfg, evaluator=BenchmarkEvaluator(None, "target", 8,
                                                                 table=table))
    assert run.ask() is not None  # asked: it cannot be driven as well
    with pytest.raises(InputError, match="already being asked"):
        run.drive()
    run.close()

"""The refinement loop on in-memory evidence: no server, no Java, seconds."""

from __future__ import annotations

import itertools
import random

import pytest
from mdesign.core.errors import InputError
from mdesign.core.space import DesignSpace
from mdesign.refinement.evaluators import BenchmarkEvaluator
from mdesign.refinement.memory import InMemoryEvidence, StoredResult, TaskTable
from mdesign.refinement.refine import RefineConfig, RefinementResult, refine

SPACE = DesignSpace.from_dict({"name": "syn", "dimensions": [
    {"name": "agg", "choices": ["add", "mean", "max"]},
    {"name": "layers", "choices": [1, 2, 4]},
    {"name": "act", "choices": ["relu", "tanh"]},
    {"name": "width", "choices": [16, 32, 64]},
]})
EFFECT = {"agg": {"add": 0.0, "mean": 0.02, "max": -0.01},
          "layers": {"1": 0.0, "2": 0.01, "4": 0.015},
          "act": {"relu": 0.0, "tanh": 0.004}, "width": {"16": 0.0, "32": 0.006, "64": 0.009}}
TASKS = {"t-a": (0.0, 1.0), "t-b": (0.01, 0.8), "t-c": (0.02, -0.5), "t-d": (0.0, 0.9),
         "target": (0.005, 0.95)}


def _table(task: str, shift: float, scale: float) -> TaskTable:
    rng = random.Random(task)
    results = {}
    for agg, layers, act, width in itertools.product(*[d.choices for d in SPACE.dimensions]):
        key = SPACE.key({"agg": agg, "layers": layers, "act": act, "width": width})
        parts = dict(p.split("=", 1) for p in key.split(","))
        s = 0.6 + shift + scale * sum(EFFECT[d][str(v)] for d, v in parts.items())
        s = round(s + rng.gauss(0, 0.002), 6)
        results[key] = StoredResult(score=s, valid=s, test=round(s - 0.01, 6),
                                    score_std=0.002, params=1000.0 * int(parts["layers"])
                                    * int(parts["width"]) / 16)
    return TaskTable(kind="node", features={"nodes": 100 + 50 * scale, "edges": 3 + shift},
                     results=results)


@pytest.fixture(scope="module")
def evidence() -> InMemoryEvidence:
    return InMemoryEvidence(SPACE, {t: _table(t, *p) for t, p in TASKS.items()})


def run(ev: InMemoryEvidence, budget: int = 12, **cfg: object) -> RefinementResult:
    oracle = BenchmarkEvaluator(None, "target", budget, table=ev.oracle("target"))
    return refine(ev, RefineConfig(task="target", budget=budget, **cfg), oracle)  # type: ignore[arg-type]


def steps(result: RefinementResult) -> list[dict]:
    return [s.model_dump(exclude={"overhead_ms"}) for s in result.steps]


def test_deterministic_within_budget_and_target_left_out(evidence: InMemoryEvidence) -> None:
    a, b = run(evidence), run(evidence)
    assert steps(a) == steps(b)
    assert a.spent == 12 == len({s.uid for s in a.steps})
    assert "target" not in {s.task for s in a.sources} and len(a.sources) == 3
    table = evidence.oracle("target")
    assert a.best.score == max(table[s.uid].score for s in a.steps)


@pytest.mark.parametrize("cfg", [
    {"calibrate": False}, {"window": 3}, {"planner": "off"}, {"planner": "fallback"},
    {"planner": "always"}, {"lookahead": 2}, {"lookahead": 3, "uncertainty": True},
    {"start": "vote"}, {"start": "weighted_vote"}, {"similarity": "anchors"},
    {"similarity": "both", "anchors": 3}, {"max_params": 4000.0}, {"batch": 3},
    {"expand": "current", "backtrack": False},
])
def test_options_run_and_are_deterministic(evidence: InMemoryEvidence, cfg: dict) -> None:
    a, b = run(evidence, **cfg), run(evidence, **cfg)
    assert steps(a) == steps(b) and a.spent <= 12 and a.steps
    if "max_params" in cfg:
        assert a.best.params is not None and a.best.params <= cfg["max_params"]


def test_options_change_the_walk(evidence: InMemoryEvidence) -> None:
    base = [s["uid"] for s in steps(run(evidence))]
    assert base != [s["uid"] for s in steps(run(evidence, planner="off", calibrate=False))]


def test_resume_replays_and_carries_on(evidence: InMemoryEvidence) -> None:
    full = run(evidence, budget=10)
    table = evidence.oracle("target")
    oracle = BenchmarkEvaluator(None, "target", 10, table=table)
    oracle.restore([table[s.uid] for s in full.steps[:5]])
    resumed = refine(evidence, RefineConfig(task="target", budget=10), oracle)
    assert steps(resumed) == steps(full)


@pytest.mark.parametrize(("cfg", "needle"), [
    ({"lookahead": 2, "lookahead_engine": "gds"}, "GDS lookahead"),
    ({"predictor": "p"}, "--predictor"), ({"ghn": "g"}, "--ghn"),
    ({"generator": "g"}, "--generator"),
])
def test_server_features_refused_clearly(evidence: InMemoryEvidence, cfg: dict,
                                         needle: str) -> None:
    with pytest.raises(InputError, match=needle):
        run(evidence, **cfg)


def test_unknown_task_and_foreign_space(evidence: InMemoryEvidence) -> None:
    with pytest.raises(InputError, match="unknown task"):
        refine(evidence, RefineConfig(task="nope", budget=3),
               BenchmarkEvaluator(None, "nope", 3, table={}))
    with pytest.raises(InputError, match="not 'other'"):
        run(evidence, space="other")


def test_the_walk_says_when_no_meta_feature_ranks_its_sources(evidence: InMemoryEvidence
                                                              ) -> None:
    assert run(evidence).notes == []  # the tables have meta-features
    bare = InMemoryEvidence(SPACE, {t: _table(t, *p).model_copy(update={"features": {}})
                                    for t, p in TASKS.items()})
    named = run(bare, featureless_sources="names")  # the behaviour before 2026-12-07
    assert [s.task for s in named.sources] == ["t-a", "t-b", "t-c"]
    assert len(named.notes) == 1 and "no meta-features" in named.notes[0]
    assert "first by name" in named.notes[0] and "--similarity anchors" in named.notes[0]
    assert run(bare, similarity="anchors").notes == []  # anchors rank them: nothing to say
    # the default (--featureless-sources agreement): t-c ranks architectures against
    # the others (scale -0.5), so agreement with the candidates' consensus leaves it
    # out, at no cost in budget
    agree = run(bare)
    assert sorted(s.task for s in agree.sources) == ["t-a", "t-b", "t-d"]
    assert len(agree.notes) == 1 and "--similarity anchors" in agree.notes[0]
    assert [s.weight for s in agree.sources] == pytest.approx([1 / 3] * 3)
    assert "agree most with the other candidates' consensus" in agree.notes[0]
    assert agree.spent == 12 and agree.steps[0].kind == "start"
    every = run(bare, featureless_sources="all")
    assert [s.task for s in every.sources] == ["t-a", "t-b", "t-c", "t-d"]
    assert "every candidate is a source" in every.notes[0]
    # with meta-features the option changes nothing
    assert steps(run(evidence, featureless_sources="names")) == steps(run(evidence))
    # --similarity agreement takes the same sources whether or not there are
    # meta-features: the walk reads them nowhere else, so the runs are alike
    agreed = run(evidence, similarity="agreement")
    assert [s.task for s in agreed.sources] == [s.task for s in agree.sources]
    assert steps(agreed) == steps(agree) and agreed.notes == []
    assert all(s.similarity != 0 for s in agreed.sources)


def test_surrogate_refuses_sources_by_agreement(evidence: InMemoryEvidence) -> None:
    with pytest.raises(InputError, match="--similarity agreement is an option of the walk"):
        run(evidence, strategy="surrogate", similarity="agreement")


@pytest.mark.parametrize(("cfg", "needle"), [
    ({"similarity": "agreement", "feature_similarity": "pair"},
     "--feature-similarity does not shape --similarity agreement"),
    ({"similarity": "anchors", "feature_similarity": "canberra"},
     "--feature-similarity does not shape --similarity anchors"),
    ({"similarity": "both", "featureless_sources": "names"},
     "--featureless-sources does not shape --similarity both"),
    ({"similarity": "agreement", "featureless_sources": "all"},
     "--featureless-sources does not shape --similarity agreement"),
])
def test_the_walk_refuses_similarity_options_it_would_ignore(evidence: InMemoryEvidence,
                                                             cfg: dict, needle: str) -> None:
    with pytest.raises(InputError, match=needle):
        run(evidence, **cfg)
    both = run(evidence, similarity="both", feature_similarity="pair")  # read by both
    assert both.spent == 12

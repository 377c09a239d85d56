"""The refinement walk on NAS-Bench-Graph, leaving the target out."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from conftest import run_cli
from mdesign.core.errors import InputError
from mdesign.core.evaluation import BudgetExhausted
from mdesign.core.space import DesignSpace
from mdesign.kb import KnowledgeBase
from mdesign.kb.importers.table import import_table
from mdesign.refinement.evaluators import BenchmarkEvaluator
from mdesign.refinement.refine import RefineConfig, refine
from mdesign.refinement.similarity import feature_similarity
from mdesign.refinement.sources import choose_sources
from mdesign.tasks.store import add_task
from nbg_reference import table
from tables import write_toy


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


def test_anchor_similarity_pays_for_its_anchors(nbg: KnowledgeBase) -> None:
    ev = BenchmarkEvaluator(nbg, "physics", 12)
    result = refine(nbg, RefineConfig(task="physics", budget=12, similarity="both",
                                      anchors=5), ev)
    anchors = [s for s in result.steps if s.kind == "anchor"]
    assert len(anchors) == 5 and result.steps[5].kind == "start"
    assert result.spent == 12 == ev.spent == len({s.uid for s in result.steps})
    assert all(s.anchor_tau is not None for s in result.sources)
    t = table("physics")
    # the anchor tau of the first source, recomputed from the tables
    from mdesign.core.stats import kendall_tau

    src = result.sources[0]
    xs = [table(src.task)[a.uid]["valid"] for a in anchors]
    ys = [t[a.uid]["valid"] for a in anchors]
    assert src.anchor_tau == pytest.approx(kendall_tau(xs, ys))
    assert src.similarity == pytest.approx((src.feature_similarity + src.anchor_tau) / 2)


def test_lookahead_plans_multi_edit_moves(nbg: KnowledgeBase) -> None:
    result = refine(nbg, RefineConfig(task="cora", budget=15, lookahead=2, planner="off"),
                    BenchmarkEvaluator(nbg, "cora", 15))
    edits = [s for s in result.steps if s.kind == "edit"]
    assert {s.hops for s in edits} == {1, 2}
    for s in edits:
        # the evidence of a move is the sum of its edits' gains: it telescopes to the
        # difference of the source's scores at both ends
        for src, g in s.source_gains.items():
            t = table(src)
            assert g == pytest.approx(t[s.uid]["valid"] - t[s.parent]["valid"], abs=1e-9)
    assert result.spent == 15


def test_cost_limit_is_respected(nbg: KnowledgeBase) -> None:
    t = table("pubmed")
    limit = sorted(r["params"] for r in t.values())[len(t) // 4]
    result = refine(nbg, RefineConfig(task="pubmed", budget=15, max_params=limit),
                    BenchmarkEvaluator(nbg, "pubmed", 15))
    # the returned architecture respects the limit, whatever the start cost
    assert result.best.params is not None and result.best.params <= limit
    assert result.best.score == max(s.score for s in result.steps if s.params <= limit)
    assert result.spent == 15


def test_uncertainty_adds_the_stored_std_as_a_bonus(kb: KnowledgeBase, tmp_path: Path) -> None:
    space_file, csv = write_toy(tmp_path, "toy-unc", {"unc-a": "node", "unc-b": "node"})
    import_table(kb, csv, DesignSpace.from_yaml(space_file))
    result = refine(kb, RefineConfig(task="unc-a", budget=6, sources=1, planner="off",
                                     uncertainty=True, expand="current"),
                    BenchmarkEvaluator(kb, "unc-a", 6))
    for prev, s in zip(result.steps, result.steps[1:], strict=False):
        evidence = sum(prev.weights[t] * g for t, g in s.source_gains.items()
                       if g is not None)
        # every stored result has std 0.01: bonus = sqrt(sum_i w_i^2 (0.01^2 + 0.01^2))
        bonus = math.sqrt(sum(w * w * 2e-4 for w in prev.weights.values()))
        assert s.predicted == pytest.approx(evidence + bonus)


@pytest.mark.parametrize("planner", ["off", "fallback", "always", "residual"])
def test_every_planner_mode_runs_within_budget(nbg: KnowledgeBase, planner: str) -> None:
    ev = BenchmarkEvaluator(nbg, "proteins", 10)
    result = refine(nbg, RefineConfig(task="proteins", budget=10, planner=planner,
                                      expand="current"), ev)
    assert result.spent == 10 == ev.spent
    if planner == "off":
        # the reference score: S(m) = sum_i w_i gain_i with the weights before the step,
        # a source without evidence contributing nothing
        for prev, s in zip(result.steps, result.steps[1:], strict=False):
            expect = sum(prev.weights[t] * g for t, g in s.source_gains.items()
                         if g is not None)
            assert s.predicted == pytest.approx(expect)


def test_gds_lookahead_ball_covers_the_space_rule_ball(nbg: KnowledgeBase) -> None:
    """GDS shortest paths over the stored (undirected) edits find every architecture the
    space's edit rule reaches within k edits, in as few edits or fewer."""
    from mdesign.refinement.refine import _ball

    uid = nbg.best_architectures("citeseer", 1)[0].uid  # a stored (canonical) architecture
    space = nbg.space("nas-bench-graph")
    by_rule = _ball(space, uid.split("/", 1)[1], 2)
    nbg.query("lookahead_project", graph="test-lookahead")
    try:
        rows = nbg.query("lookahead_ball_gds", graph="test-lookahead", uid=uid, k=2)
    finally:
        nbg.query("gds_drop_graph", graph="test-lookahead")
    by_gds = {r["key"]: r["hops"] for r in rows}
    assert len(by_rule) > 100
    assert set(by_rule) <= set(by_gds)
    assert all(by_gds[k] <= h for k, (h, _) in by_rule.items())
    one_hop = {n.key for n in nbg.neighbours(uid, [])}
    assert {k for k, h in by_gds.items() if h == 1} == one_hop
    # every first step of a 2-edit path is a neighbour
    assert {nbg_uid.split("/", 1)[1] for nbg_uid in (r["first"] for r in rows)} <= one_hop
    result = refine(nbg, RefineConfig(task="citeseer", budget=8, lookahead=2,
                                      lookahead_engine="gds"),
                    BenchmarkEvaluator(nbg, "citeseer", 8))
    assert result.spent == 8
    assert not [g for g in nbg.query("gds_list_graphs") if g["graph"].startswith("mdesign-")]


def test_surrogate_strategy_end_to_end(nbg: KnowledgeBase, tmp_path: Path) -> None:
    """`mdesign refine --strategy surrogate` on the real store: every other dataset is a
    source, the budget is spent exactly, resume replays, bad combinations are refused."""
    from conftest import run_cli

    out = run_cli("refine", "--task", "citeseer", "--budget", "6", "--strategy", "surrogate",
                  "--quiet", "--out", str(tmp_path))
    assert out.returncode == 0, out.stderr
    import json

    report = json.loads(next(tmp_path.glob("*.json")).read_text())
    assert report["spent"] == 6 and len({s["uid"] for s in report["steps"]}) == 6
    assert sorted(s["task"] for s in report["sources"]) == sorted(
        ["cora", "pubmed", "cs", "physics", "photo", "computers", "arxiv", "proteins"])
    assert [s["kind"] for s in report["steps"]] == ["design"] * 2 + ["search"] * 4
    # the summary says which evaluation found the returned architecture, and how
    found = next(n for n, s in enumerate(report["steps"], 1)
                 if s["uid"] == report["best"]["uid"])
    assert report["found"]["evaluation"] == found  # in the JSON report too
    line = next(ln for ln in out.stdout.splitlines() if "found at" in ln)
    assert line.strip().startswith(f"found at evaluation {found}, a ")
    if report["steps"][found - 1]["kind"] == "search":
        assert "p(sources transfer)" in line
    table_ = table("citeseer")
    for s in report["steps"]:
        assert s["score"] == table_[s["uid"]]["valid"]
    refused = run_cli("refine", "--task", "citeseer", "--budget", "6", "--strategy",
                      "surrogate", "--lookahead", "2", "--quiet")
    assert refused.returncode == 2
    assert "--lookahead is an option of the walk" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    # the walk's source count means nothing to the surrogate: refused, not ignored
    refused = run_cli("refine", "--task", "citeseer", "--budget", "6", "--strategy",
                      "surrogate", "--sources", "5", "--quiet")
    assert refused.returncode == 2 and "--sources is an option of the walk" in refused.stderr
    # paid anchors weigh the sources: they are the run's first steps
    anchored = tmp_path / "anchors"
    out = run_cli("refine", "--task", "citeseer", "--budget", "6", "--strategy", "surrogate",
                  "--similarity", "anchors", "--anchors", "3", "--quiet",
                  "--out", str(anchored))
    assert out.returncode == 0, out.stderr
    report = json.loads(next(anchored.glob("*.json")).read_text())
    assert [s["kind"] for s in report["steps"]][:3] == ["anchor"] * 3
    assert report["spent"] == 6 and len({s["uid"] for s in report["steps"]}) == 6
    taus = [s["anchor_tau"] for s in report["sources"] if s["task"] != "proteins"]
    assert all(t is not None for t in taus)  # each full table measured every anchor


def test_a_task_with_a_few_results_moves_no_other_targets_sources(nbg: KnowledgeBase,
                                                                  tmp_path: Path) -> None:
    """The issue's example: a 34-node task trained a couple of times joins the space as a
    candidate source; cora's walk sources and similarities stay as they were, since only
    the tables set the meta-features' scale (``reference_tables``)."""
    def sources() -> list[tuple[str, float | None]]:
        return [(s.task, s.feature_similarity)
                for s in choose_sources(nbg, nbg.task("cora"), "nas-bench-graph", 9)]

    before = sources()
    add_task(nbg, "ref-karate", "builtin:karate", "node")
    try:
        out = run_cli("refine", "--task", "ref-karate", "--budget", "2", "--space",
                      "nas-bench-graph", "--evaluator", "train", "--epochs", "5",
                      "--train-seeds", "1", "--quiet", "--out", str(tmp_path))
        assert out.returncode == 0, out.stderr
        candidates = nbg.tasks_in_space("nas-bench-graph", exclude="cora")
        karate = next(t for t in candidates if t.name == "ref-karate")
        assert karate.features and karate.results >= 1  # a real candidate with features
        after = sources()
        assert [s for s in after if s[0] != "ref-karate"] == before
        # standardised over every candidate (before this change) karate moved them
        every = feature_similarity(nbg.task("cora").features,
                                   {t.name: t.features for t in candidates})
        assert any(every[name] != pytest.approx(sim) for name, sim in before)
    finally:
        assert run_cli("task", "delete", "ref-karate", "--yes").returncode == 0

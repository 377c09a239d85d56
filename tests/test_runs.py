"""Refinement runs: persisted in Neo4j, resumable after kill -9 or a lost server, the CLI,
the benchmark command, and observations that become the target's evidence."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import MDESIGN, run_cli
from mdesign.core.errors import MdesignError
from mdesign.core.evaluation import Evaluation, PaidEvaluator
from mdesign.core.space import DesignSpace
from mdesign.kb import KnowledgeBase
from mdesign.kb.importers.table import import_table
from mdesign.kb.observations import record_observations
from mdesign.kb.server import ManagedNeo4j
from mdesign.refinement import runs
from mdesign.refinement.evaluators import BenchmarkEvaluator
from mdesign.refinement.refine import RefineConfig, refine
from tables import write_toy


def _paid(result) -> list[str]:
    return list(dict.fromkeys(s.uid for s in result.steps))


def test_a_run_is_stored_step_by_step(nbg: KnowledgeBase) -> None:
    cfg = RefineConfig(task="photo", budget=12)
    result = runs.execute(nbg, cfg, BenchmarkEvaluator(nbg, "photo", 12))
    stored = runs.load_run(nbg, result.run_id)
    assert stored.status == "finished" and stored.spent == 12
    assert [s.uid for s in stored.steps] == [s.uid for s in result.steps]
    assert stored.steps[-1].weights == result.steps[-1].weights
    assert stored.steps[3].source_gains == result.steps[3].source_gains
    assert stored.config.space == "nas-bench-graph"
    assert stored.report is not None and stored.report["best"]["uid"] == result.best.uid
    # the graph links run, target, sources and evaluated architectures
    row = nbg.run_autocommit("run_get", id=result.run_id)[0]
    assert row["run"]["sources"] == [s.task for s in result.sources]
    assert any(r["id"] == result.run_id for r in runs.list_runs(nbg))
    with pytest.raises(MdesignError, match="already finished"):
        runs.resumable(nbg, result.run_id)
    with pytest.raises(MdesignError, match="unknown run"):
        runs.resumable(nbg, "no-such-run")


def test_smaller_budget_is_a_prefix_of_a_larger_one(nbg: KnowledgeBase) -> None:
    """What lets the benchmark read every budget off one run."""
    small = refine(nbg, RefineConfig(task="computers", budget=8),
                   BenchmarkEvaluator(nbg, "computers", 8))
    large = refine(nbg, RefineConfig(task="computers", budget=20),
                   BenchmarkEvaluator(nbg, "computers", 20))
    assert _paid(large)[:8] == _paid(small)


def test_kill_9_mid_run_loses_at_most_the_step_in_flight(nbg: KnowledgeBase,
                                                        tmp_path: Path) -> None:
    budget = 300
    proc = subprocess.Popen([MDESIGN, "refine", "--task", "arxiv", "--budget", str(budget),
                             "--expand", "current", "--quiet", "--out", str(tmp_path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    run_id = None
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        rows = [r for r in runs.list_runs(nbg) if r["task"] == "arxiv"
                and r["status"] == "running"]
        if rows and rows[0]["spent"] >= 10:
            run_id = rows[0]["id"]
            break
        time.sleep(0.05)
    assert run_id is not None, "the run finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    stored = runs.load_run(nbg, run_id)
    assert stored.status == "running" and 10 <= stored.spent < budget
    assert stored.spent == len({s.uid for s in stored.steps})
    resumed = run_cli("refine", "--resume", run_id, "--quiet", "--out", str(tmp_path))
    assert resumed.returncode == 0, resumed.stderr
    final = runs.load_run(nbg, run_id)
    assert final.status == "finished" and final.spent == budget
    # the resumed run is the run that was never interrupted
    clean = refine(nbg, RefineConfig(task="arxiv", budget=budget, expand="current"),
                   BenchmarkEvaluator(nbg, "arxiv", budget))
    assert [s.uid for s in final.steps] == [s.uid for s in clean.steps]
    assert (tmp_path / f"{run_id}.json").exists() and (tmp_path / f"{run_id}.png").exists()


class StopsServerEvaluator(BenchmarkEvaluator):
    """The benchmark oracle, except that the server really goes away after n paid reads."""

    def __init__(self, kb: KnowledgeBase, task: str, budget: int, server: ManagedNeo4j,
                 after: int) -> None:
        super().__init__(kb, task, budget)
        self.server, self.after = server, after

    def evaluate(self, uid: str) -> Evaluation:
        if self.spent == self.after and uid not in self._paid:
            self.server.stop()
        return super().evaluate(uid)


def test_server_going_away_mid_run_leaves_a_resumable_run(nbg: KnowledgeBase,
                                                          server: ManagedNeo4j) -> None:
    cfg = RefineConfig(task="citeseer", budget=25)
    with pytest.raises(runs.RunFailed) as err:
        runs.execute(nbg, cfg, StopsServerEvaluator(nbg, "citeseer", 25, server, after=9))
    run_id = err.value.run_id
    assert f"mdesign refine --resume {run_id}" in str(err.value)
    assert "\n" not in str(err.value)
    server.start(echo=lambda m: None)
    stored = runs.load_run(nbg, run_id)
    assert stored.status == "running" and 9 <= stored.spent <= 10
    done = runs.execute(nbg, cfg, BenchmarkEvaluator(nbg, "citeseer", 25),
                        resume=runs.resumable(nbg, run_id))
    assert done.spent == 25 and runs.load_run(nbg, run_id).status == "finished"
    clean = refine(nbg, cfg, BenchmarkEvaluator(nbg, "citeseer", 25))
    assert _paid(done) == _paid(clean)
    assert (done.best.uid, done.best.score) == (clean.best.uid, clean.best.score)


def test_cli_refine_live_table_report_and_runs(nbg: KnowledgeBase, tmp_path: Path) -> None:
    out = run_cli("refine", "--task", "cs", "--budget", "8", "--sources", "2", "--out",
                  str(tmp_path))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split()[:6] == ["step", "kind", "edit", "gain", "score", "best"]
    assert sum(1 for ln in lines if ln.strip().split(" ")[0].isdigit()) == 8
    run_id = next(ln.split()[1].rstrip(":") for ln in lines if ln.startswith("run "))
    assert "best architecture: nas-bench-graph/" in out.stdout
    assert "validation" in out.stdout and "test" in out.stdout
    report = json.loads((tmp_path / f"{run_id}.json").read_text())
    assert report["spent"] == 8 and report["run_id"] == run_id
    assert len(report["sources"]) == 2
    png = (tmp_path / f"{run_id}.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    listed = json.loads(run_cli("runs", "list", "--json").stdout)
    assert any(r["id"] == run_id and r["status"] == "finished" for r in listed)
    shown = run_cli("runs", "show", run_id)
    assert shown.returncode == 0 and f"run {run_id}: task cs" in shown.stdout
    # where the walk found its best: said alike by the run and by the stored run
    found = next(ln.strip() for ln in out.stdout.splitlines() if "found at" in ln)
    assert found.startswith("found at evaluation ") and "step" in found
    assert found in [ln.strip() for ln in shown.stdout.splitlines()]
    assert json.loads(run_cli("runs", "show", run_id, "--json").stdout)["spent"] == 8


@pytest.mark.parametrize(("args", "message"), [
    (["--task", "no-such-task", "--budget", "5"], "unknown task 'no-such-task'"),
    (["--task", "cora", "--budget", "0"], "--budget"),
    (["--task", "cora", "--budget", "-3"], "--budget"),
    (["--task", "cora"], "needs a target task and a budget"),
    (["--resume", "no-such-run"], "unknown run 'no-such-run'"),
    (["--task", "cora", "--budget", "5", "--evaluator", "magic"], "unknown evaluator"),
    (["--task", "cora", "--budget", "5", "--lookahead", "9"], "--lookahead"),
])
def test_cli_refine_bad_input(nbg: KnowledgeBase, args: list[str], message: str) -> None:
    before = len(runs.list_runs(nbg, 1000))
    out = run_cli("refine", *args)
    assert out.returncode == 2
    err = out.stderr.strip()
    assert len(err.splitlines()) == 1 and message in err and " - " in err, err
    assert len(runs.list_runs(nbg, 1000)) == before  # nothing stored


def test_cli_resume_of_a_finished_run_is_refused(nbg: KnowledgeBase, tmp_path: Path) -> None:
    done = runs.execute(nbg, RefineConfig(task="cora", budget=3),
                        BenchmarkEvaluator(nbg, "cora", 3))
    out = run_cli("refine", "--resume", done.run_id)
    assert out.returncode == 2 and "already finished" in out.stderr


def test_no_source_sharing_the_space_and_a_foreign_space(nbg: KnowledgeBase,
                                                         tmp_path: Path) -> None:
    space_file, table = write_toy(tmp_path, "toy-alone", {"alone": "node"})
    import_table(nbg, table, DesignSpace.from_yaml(space_file))
    out = run_cli("refine", "--task", "alone", "--budget", "5")
    assert out.returncode == 2
    assert "no source task shares design space 'toy-alone'" in out.stderr
    out = run_cli("refine", "--task", "alone", "--budget", "5", "--space", "nas-bench-graph")
    assert out.returncode == 2
    assert "has its results in space(s) toy-alone, not 'nas-bench-graph'" in out.stderr


class ToyTrainer(PaidEvaluator):
    """A real evaluator of a toy space whose results the knowledge base does not hold
    (what real training will be): a fixed formula of the choices, paid per read."""

    records_evidence = True

    def can_evaluate(self, uid: str) -> bool:
        return uid.startswith("toy-obs/")

    def _measure(self, uid: str) -> Evaluation:
        arch = dict(p.split("=") for p in uid.split("/", 1)[1].split(","))
        score = {"add": 0.6, "mean": 0.7, "max": 0.65}[arch["agg"]] \
            + 0.02 * int(arch["layers"]) + (0.01 if arch["act"] == "tanh" else 0)
        return Evaluation(uid=uid, score=score, valid=score, test=score - 0.01)


class _FailingToyTrainer(PaidEvaluator):
    """:class:`ToyTrainer` of space ``toy-res``, with provenance, failing on its
    ``fail_at``-th new evaluation (None: never)."""

    records_evidence = True

    def __init__(self, task: str, budget: int, fail_at: int | None = None) -> None:
        super().__init__(task, budget)
        self.fail_at = fail_at

    def can_evaluate(self, uid: str) -> bool:
        return uid.startswith("toy-res/")

    def _measure(self, uid: str) -> Evaluation:
        if self.fail_at is not None and self.spent > self.fail_at:  # charged already
            raise MdesignError("the toy trainer broke down", "")
        arch = dict(p.split("=") for p in uid.split("/", 1)[1].split(","))
        score = {"add": 0.6, "mean": 0.7, "max": 0.65}[arch["agg"]] \
            + 0.02 * int(arch["layers"]) + (0.01 if arch["act"] == "tanh" else 0)
        return Evaluation(uid=uid, score=score, valid=score, test=score - 0.01,
                          provenance={"trainer": "toy"})


def test_resumed_run_records_every_paid_evaluation(kb: KnowledgeBase, tmp_path: Path) -> None:
    """The observations come from the evaluator's ledger; on resume, ``restore`` puts the
    run's earlier evaluations in it: the same set as the run's stored steps."""
    space_file, table = write_toy(tmp_path, "toy-res", {"res-a": "node", "res-b": "node",
                                                        "res-new": "node"})
    lines = table.read_text().splitlines()
    keep = [ln for ln in lines[1:] if not ln.startswith("res-new")
            or ln.startswith("res-new,node,add,1,relu")]
    table.write_text("\n".join([lines[0], *keep]) + "\n")
    import_table(kb, table, DesignSpace.from_yaml(space_file))
    cfg = RefineConfig(task="res-new", budget=6, sources=2, evaluator="toy")
    with pytest.raises(runs.RunFailed) as failed:
        runs.execute(kb, cfg, _FailingToyTrainer("res-new", 6, fail_at=3))
    stored = runs.resumable(kb, failed.value.run_id)
    assert len(stored.steps) == 3
    ev = _FailingToyTrainer("res-new", 6)
    result = runs.execute(kb, cfg, ev, resume=stored)
    paid = runs.load_run(kb, result.run_id).paid()
    assert [e.uid for e in ev.evaluations()] == [e.uid for e in paid] == _paid(result)
    assert len(paid) == 6
    recorded = {r.uid: r for r in kb.best_architectures("res-new", 50)}
    assert {recorded[e.uid].source for e in paid} == {"mdesign:toy"} \
        or {recorded[e.uid].source for e in paid} <= {"mdesign:toy", f"table:{table.name}"}
    assert all(abs(recorded[e.uid].score - e.score) < 1e-12 for e in paid)
    assert kb.task("res-new").results == len({e.uid for e in paid}
                                             | {"toy-res/agg=add,layers=1,act=relu"})


def test_observations_become_evidence_of_the_target(kb: KnowledgeBase, tmp_path: Path) -> None:
    space_file, table = write_toy(tmp_path, "toy-obs", {"obs-a": "node", "obs-b": "node",
                                                        "obs-new": "node"})
    # the new task has a single stored result (which also puts it in the space)
    lines = table.read_text().splitlines()
    keep = [ln for ln in lines[1:] if not ln.startswith("obs-new")
            or ln.startswith("obs-new,node,add,1,relu")]
    table.write_text("\n".join([lines[0], *keep]) + "\n")
    import_table(kb, table, DesignSpace.from_yaml(space_file))
    assert kb.task("obs-new").results == 1
    result = runs.execute(kb, RefineConfig(task="obs-new", budget=6, sources=2,
                                           evaluator="toy"), ToyTrainer("obs-new", 6))
    t = kb.task("obs-new")
    paid = set(_paid(result))
    stored = {r.uid: r for r in kb.best_architectures("obs-new", 50)}
    assert paid <= set(stored)
    assert {stored[u].source for u in paid} <= {"mdesign:toy", f"table:{table.name}"}
    assert stored[result.best.uid].source == "mdesign:toy"
    # gains between two observed neighbours are now the target's evidence
    gains = [g for u in paid for n in kb.neighbours(u, ["obs-new"])
             if n.uid in paid and (g := n.gains["obs-new"]) is not None]
    assert gains, "no edit between two observed architectures carries a gain"
    assert t.results == len(paid | {"toy-obs/agg=add,layers=1,act=relu"})
    assert t.evidence_edits >= len(gains) // 2
    # a later run on a similar task can use the new task as a source
    later = refine(kb, RefineConfig(task="obs-a", budget=4, sources=2),
                   BenchmarkEvaluator(kb, "obs-a", 4))
    assert "obs-new" in {s.task for s in later.sources}
    # recording the same observations again changes nothing
    again = record_observations(kb, kb.space("toy-obs"), "obs-new",
                                runs.load_run(kb, result.run_id).paid(), "mdesign:toy")
    assert again.results == len(paid) and kb.task("obs-new").results == t.results
    # and `mdesign task forget` takes them back out: imported results and other tasks'
    # gains stay, the target's gains go with the observations they came from
    a_gains = kb.query("task_gain_count", task="obs-a")[0]["n"]
    out = run_cli("task", "forget", "obs-new", "--yes")
    assert out.returncode == 0, out.stderr
    assert f"task obs-new: {len(paid)} recorded results deleted" in out.stdout
    left = kb.best_architectures("obs-new", 50)
    assert [(r.uid, r.source) for r in left] == [("toy-obs/agg=add,layers=1,act=relu",
                                                  f"table:{table.name}")]
    assert kb.task("obs-new").results == 1 and kb.task("obs-new").evidence_edits == 0
    assert kb.query("task_gain_count", task="obs-new")[0]["n"] == 0
    assert kb.query("task_gain_count", task="obs-a")[0]["n"] == a_gains
    assert "0 recorded results" in run_cli("task", "forget", "obs-new", "--yes").stdout
    bad = run_cli("task", "forget", "no-such-task", "--yes")
    assert bad.returncode == 2 and "no-such-task" in bad.stderr


def test_bench_refine_on_a_single_metric_table(kb: KnowledgeBase, tmp_path: Path) -> None:
    from tables import SINGLE_YAML

    space_file = tmp_path / "bench.yaml"
    space_file.write_text(SINGLE_YAML.format(name="toy-bench"))
    rows = ["dataset,agg,layers,mae"]
    for i, task in enumerate(["bench-a", "bench-b", "bench-c"]):
        for j, (agg, layers) in enumerate((a, n) for a in ("add", "mean", "max")
                                          for n in (1, 2, 4)):
            rows.append(f"{task},{agg},{layers},{0.5 - 0.03 * j + 0.01 * i:.3f}")
    table = tmp_path / "bench.csv"
    table.write_text("\n".join(rows) + "\n")
    import_table(kb, table, DesignSpace.from_yaml(space_file))
    out = run_cli("bench", "refine", "--tasks", "bench-a,bench-c", "--budgets", "2,4",
                  "--methods", "mdesign,mdesign-reference-nocal,retrieval,random,regevo,tpe",
                  "--seeds", "3", "--out", str(tmp_path), "--name", "b")
    assert out.returncode == 0, out.stderr
    o = json.loads((tmp_path / "b.json").read_text())
    assert {(r["task"], r["budget"]) for r in o["rows"]} == {
        (t, b) for t in ("bench-a", "bench-c") for b in (2, 4)}
    assert all(r["split"] == "single" for r in o["rows"])
    assert {r["runs"] for r in o["rows"] if r["method"] in ("random", "regevo", "tpe")} == {3}
    # the best of 9 architectures at budget 4 is never worse than at budget 2
    get = {(r["task"], r["budget"], r["method"]): r for r in o["rows"]}
    for t in ("bench-a", "bench-c"):
        assert get[(t, 4, "mdesign")]["valid_mean"] >= get[(t, 2, "mdesign")]["valid_mean"]
    md = (tmp_path / "b.md").read_text()
    assert "Single-metric tasks (bench-a, bench-c)" in md
    assert (tmp_path / "b.png").read_bytes()[:4] == b"\x89PNG"
    bad = run_cli("bench", "refine", "--tasks", "bench-a", "--methods", "magic")
    assert bad.returncode == 2 and "unknown method(s) magic" in bad.stderr
    bad = run_cli("bench", "refine", "--tasks", "bench-a", "--candidate", "magic")
    assert bad.returncode == 2 and "unknown --candidate method(s) magic" in bad.stderr


def test_bench_refine_selects_on_test_and_reports_a_candidates_targets(
        nbg: KnowledgeBase, tmp_path: Path) -> None:
    """`--select test`: the oracle reveals test scores and every method selects on them
    (the published designers' protocol); `--candidate`: the issue's targets of a new
    default against the peers of the same run. The help's default methods are the ones
    the command runs."""
    from mdesign.benchmarks.methods import DEFAULT_METHODS

    out = run_cli("bench", "refine", "--tasks", "photo", "--budgets", "3,5",
                  "--methods", "mdesign-surrogate,consensus,random", "--seeds", "2",
                  "--select", "test", "--candidate", "mdesign-surrogate",
                  "--out", str(tmp_path), "--name", "t")
    assert out.returncode == 0, out.stderr
    o = json.loads((tmp_path / "t.json").read_text())
    assert o["select"] == "test" and len(o["rows"]) == 6
    assert all(r["valid_mean"] == r["test_mean"] for r in o["rows"])
    assert o["targets"]["mdesign-surrogate@5 valid >= every peer (random, consensus)"] in \
        ("0/1", "1/1")
    assert "Selection on test" in (tmp_path / "t.md").read_text()
    # selecting on validation returns other architectures' test scores on photo
    out = run_cli("bench", "refine", "--tasks", "photo", "--budgets", "5",
                  "--methods", "consensus", "--out", str(tmp_path), "--name", "v")
    assert out.returncode == 0, out.stderr
    valid = json.loads((tmp_path / "v.json").read_text())["rows"][0]
    assert valid["valid_mean"] != valid["test_mean"]
    # click wraps the help at spaces and hyphens: compare without whitespace
    shown = "".join(run_cli("bench", "refine", "--help").stdout.split())
    assert f"[default:{','.join(DEFAULT_METHODS)}]" in shown
    assert "[default:5,10,20,30,50,100]" in shown


def test_named_runs_list_compare_and_delete(nbg: KnowledgeBase, tmp_path: Path) -> None:
    ids = []
    for name, strategy, tag in (("walk-a", "walk", "round=1"), ("sur-b", "surrogate",
                                                                "round=2")):
        out = run_cli("refine", "--task", "photo", "--budget", "6", "--strategy", strategy,
                      "--name", name, "--tag", tag, "--tag", "who=test", "--quiet",
                      "--out", str(tmp_path))
        assert out.returncode == 0, out.stderr
        ids.append(next(ln.split()[1].rstrip(":") for ln in out.stdout.splitlines()
                        if ln.startswith("run ")))
    rows = json.loads(run_cli("runs", "list", "--task", "photo", "--tag", "who=test",
                              "--json").stdout)
    assert {r["id"] for r in rows} == set(ids)
    first = next(r for r in rows if r["id"] == ids[0])
    assert first["name"] == "walk-a" and first["tags"] == ["round=1", "who=test"]
    assert first["evaluator"] == "benchmark" and first["spent"] == 6
    assert first["best_valid"] is not None and first["best_test"] is not None
    assert first["seconds"] is not None and first["seconds"] >= 0
    only = json.loads(run_cli("runs", "list", "--name", "sur-b", "--json").stdout)
    assert [r["id"] for r in only] == [ids[1]]
    assert json.loads(run_cli("runs", "list", "--tag", "round=3", "--json").stdout) == []
    text = run_cli("runs", "list", "--task", "photo", "--status", "finished")
    assert text.returncode == 0 and "walk-a" in text.stdout and "6/6" in text.stdout
    plot = tmp_path / "cmp.png"
    cmp = run_cli("runs", "compare", *ids, "--plot", str(plot))
    assert cmp.returncode == 0, cmp.stderr
    assert "surrogate" in cmp.stdout and "walk" in cmp.stdout
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    cmp_json = json.loads(run_cli("runs", "compare", *ids, "--json", "--plot",
                                  str(plot)).stdout)
    assert [r["strategy"] for r in cmp_json] == ["walk", "surrogate"]
    for row in cmp_json:  # which evaluation found the best, and what kind of step it was
        assert 1 <= row["best found at"] <= 6 and row["best found by"]
    assert cmp_json[1]["best found by"].split()[0] in ("design", "search")
    relabel = run_cli("refine", "--resume", ids[0], "--name", "x")
    assert relabel.returncode == 2 and "label a new run" in relabel.stderr
    # an unknown id: nothing deleted; no --yes without a terminal: nothing deleted
    bad = run_cli("runs", "delete", ids[0], "no-such-run", "--yes")
    assert bad.returncode == 2 and "unknown run 'no-such-run'" in bad.stderr
    asked = run_cli("runs", "delete", ids[0])
    assert asked.returncode != 0
    assert nbg.runs.get(ids[0]) is not None
    before = len(nbg.task_results("photo"))
    gone = run_cli("runs", "delete", *ids, "--yes")
    assert gone.returncode == 0, gone.stderr
    assert "deleted 2 run(s) and 12 step(s)" in gone.stdout
    assert all(nbg.runs.get(i) is None for i in ids)
    assert len(nbg.task_results("photo")) == before  # other data untouched
    again = run_cli("runs", "delete", *ids, "--yes")
    assert again.returncode == 2 and "unknown run" in again.stderr

"""Plugging the knowledge base into other tools, against the real server: `mdesign
suggest`, stored ask/tell runs (steps, evidence, resume), evaluators of your own from the
command line, and the examples."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import run_cli
from mdesign.kb import KnowledgeBase
from mdesign.refinement import RefineConfig, load_run
from mdesign.refinement.asktell import Refinement
from mdesign.tasks.store import add_task

ROOT = Path(__file__).resolve().parent.parent
SPACE = "nas-bench-graph"
CREATED = ("at-karate", "ce-karate", "ex-karate", "example-sbm6")


@pytest.fixture(autouse=True)
def _leave_the_store_as_found(nbg: KnowledgeBase) -> Iterator[None]:
    """The tasks these tests add get results in NAS-Bench-Graph's space; later tests
    (sources, similar tasks, generators) expect only the nine datasets there."""
    yield
    from mdesign.kb.deletion import delete_task

    known = {t.name for t in nbg.tasks()}
    for name in CREATED:
        if name in known:
            delete_task(nbg, name)


def _formula(choices: dict) -> float:
    """A deterministic stand-in for a training (not stored anywhere)."""
    ops = [str(choices[f"op{i}"]) for i in range(1, 5)]
    return round(0.5 + 0.05 * ops.count("gcn") + 0.03 * ops.count("sage")
                 + 0.01 * (str(choices["link"]) == "0012"), 6)


def test_suggest_json_and_text(nbg: KnowledgeBase) -> None:
    out = run_cli("suggest", "--task", "cora", "-n", "4", "--json")
    assert out.returncode == 0, out.stderr
    found = json.loads(out.stdout)
    uids = [s["uid"] for s in found["suggestions"]]
    assert len(set(uids)) == 4 and all(u.startswith(SPACE + "/") for u in uids)
    assert "cora" not in {s["task"] for s in found["sources"]}  # left out
    predicted = [s["predicted"] for s in found["suggestions"]]
    assert predicted[0] == max(predicted)  # the consensus best comes first
    assert set(found["suggestions"][0]["sources"]) == {s["task"] for s in found["sources"]}
    text = run_cli("suggest", "--task", "cora", "-n", "2")
    assert text.returncode == 0 and uids[0] in text.stdout
    bad = run_cli("suggest", "--task", "no-such-task")
    assert bad.returncode == 2 and "no-such-task" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1


def test_stored_ask_tell_records_steps_evidence_and_resumes(nbg: KnowledgeBase) -> None:
    add_task(nbg, "at-karate", "builtin:karate", "node")
    cfg = RefineConfig(task="at-karate", budget=5, space=SPACE)
    run = Refinement(nbg, cfg)
    for _ in range(2):
        p = run.ask()
        assert p is not None
        run.tell(p, _formula(p.choices))
    run.close()
    assert run.run_id is not None
    stored = load_run(nbg, run.run_id)
    assert stored.status == "interrupted" and len(stored.steps) == 2
    assert stored.config.evaluator == "ask-tell"
    assert len(nbg.task_results("at-karate")) == 2  # evidence as each result was told
    refused = run_cli("refine", "--resume", run.run_id)
    assert refused.returncode == 2 and "ask/tell" in refused.stderr
    resumed = Refinement.resume(nbg, run.run_id)
    while (p := resumed.ask()) is not None:
        resumed.tell(p, _formula(p.choices))
    done = resumed.result()
    assert done.run_id == run.run_id and done.spent == 5
    straight = Refinement(nbg, cfg)
    while (p := straight.ask()) is not None:
        straight.tell(p, _formula(p.choices))
    assert [s.uid for s in straight.result().steps] == [s.uid for s in done.steps]
    assert load_run(nbg, run.run_id).status == "finished"


_MODULE = '''
import os
CALLS = []

def score(choices):
    CALLS.append(choices)
    if len(CALLS) == int(os.environ.get("FAIL_AT", "0")):
        raise RuntimeError("the GPU fell off")
    ops = [str(choices[f"op{i}"]) for i in range(1, 5)]
    return {"score": 0.5 + 0.05 * ops.count("gcn"), "test": 0.4}
'''


def test_custom_evaluator_from_the_cli(nbg: KnowledgeBase, tmp_path: Path) -> None:
    add_task(nbg, "ce-karate", "builtin:karate", "node")
    (tmp_path / "myeval.py").write_text(_MODULE)
    env = {"PYTHONPATH": str(tmp_path), "FAIL_AT": "3"}
    spec = "python:myeval:score"
    args = ["refine", "--task", "ce-karate", "--budget", "5", "--space", SPACE,
            "--evaluator", spec, "--quiet", "--out", str(tmp_path)]
    failed = run_cli(*args, env=env)
    assert failed.returncode == 2
    assert "RuntimeError" in failed.stderr and "the GPU fell off" in failed.stderr
    run_id = re.search(r"--resume (\S+)`", failed.stderr).group(1)
    stored = load_run(nbg, run_id)
    assert stored.config.evaluator == spec and len(stored.steps) == 2
    assert (stored.config.evaluator_version or "").startswith("sha256:")
    (tmp_path / "myeval.py").write_text(_MODULE + "\n# edited\n")
    changed = run_cli("refine", "--resume", run_id, "--quiet", "--out", str(tmp_path),
                      env={"PYTHONPATH": str(tmp_path)})
    assert changed.returncode == 2 and "the run was made with sha256:" in changed.stderr
    (tmp_path / "myeval.py").write_text(_MODULE)
    ok = run_cli("refine", "--resume", run_id, "--quiet", "--out", str(tmp_path),
                 env={"PYTHONPATH": str(tmp_path)})
    assert ok.returncode == 0, ok.stderr
    assert load_run(nbg, run_id).spent == 5
    results = nbg.task_results("ce-karate")
    assert len(results) == 5 and all(r.test == 0.4 for r in results)
    unknown = run_cli("refine", "--task", "ce-karate", "--budget", "2", "--space", SPACE,
                      "--evaluator", "python:nowhere_at_all:f")
    assert unknown.returncode == 2 and "cannot import 'nowhere_at_all'" in unknown.stderr
    absent = run_cli("refine", "--task", "ce-karate", "--budget", "2", "--space", SPACE,
                     "--evaluator", "no-such-entry-point")
    assert absent.returncode == 2 and "unknown evaluator" in absent.stderr


def _example(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True,
                          text=True, env=env, timeout=900)


def test_custom_evaluator_example(nbg: KnowledgeBase) -> None:
    out = _example("examples/custom_evaluator.py", "ex-karate")
    assert out.returncode == 0, out.stderr
    run_id = re.search(r"run (\S+):", out.stdout).group(1)
    stored = load_run(nbg, run_id)
    assert stored.config.evaluator == "python:custom_evaluator:score"
    assert stored.spent == 6 and len(nbg.task_results("ex-karate")) == 6


def test_optuna_sampler_example(nbg: KnowledgeBase, tmp_path: Path) -> None:
    plot = tmp_path / "history.png"
    out = _example("examples/optuna_sampler.py", "3", str(plot))
    assert out.returncode == 0, out.stderr
    assert "mdesign's first trial: nas-bench-graph/" in out.stdout
    assert plot.stat().st_size > 10_000
    # the sampler's trials became evidence of the task
    assert len(nbg.task_results("example-sbm6")) == 3

"""Deleting tasks and stored models against the real server: refused without the flag
for imported tables, nothing of other tasks changes, run again after an interruption."""

from __future__ import annotations

from pathlib import Path

from conftest import run_cli
from mdesign.kb import KnowledgeBase
from mdesign.refinement import RefineConfig
from mdesign.refinement.asktell import Refinement
from mdesign.tasks.store import add_task
from tables import write_toy


def _gains(kb: KnowledgeBase, task: str) -> int:
    return kb.query("task_gain_count", task=task)[0]["n"]


def test_task_delete(kb: KnowledgeBase, tmp_path: Path) -> None:
    space, table = write_toy(tmp_path, "toy-del", {"toy-del-a": "node", "toy-del-b": "node",
                                                   "toy-del-c": "node"})
    assert run_cli("kb", "import", "table", str(table), "--space", str(space)).returncode == 0
    # a run and recorded results on toy-del-a (through ask/tell)
    run = Refinement(kb, RefineConfig(task="toy-del-a", budget=3))
    while (p := run.ask()) is not None:
        run.tell(p, 0.5)
    assert kb.query("task_result_sources", task="toy-del-a")[0]["recorded"] >= 1
    before_b = (kb.task_results("toy-del-b"), _gains(kb, "toy-del-b"))
    refused = run_cli("task", "delete", "toy-del-a", "--yes")
    assert refused.returncode == 2 and "imported results" in refused.stderr
    assert kb.runs.get(run.run_id) is not None  # nothing deleted
    no = run_cli("task", "delete", "toy-del-a", "--with-imported")  # no answer: no
    assert no.returncode == 1 and "nothing changed" in no.stderr
    # interrupted after its first steps (the runs and recorded results gone): run again
    kb.runs.delete([run.run_id])
    out = run_cli("task", "delete", "toy-del-a", "--with-imported", "--yes")
    assert out.returncode == 0, out.stderr
    assert "task toy-del-a deleted: 0 runs" in out.stdout and "imported results" in out.stdout
    assert "toy-del-a" not in {t.name for t in kb.tasks()}
    assert _gains(kb, "toy-del-a") == 0
    assert (kb.task_results("toy-del-b"), _gains(kb, "toy-del-b")) == before_b
    again = run_cli("task", "delete", "toy-del-a", "--yes")
    assert again.returncode == 2 and "unknown task 'toy-del-a'" in again.stderr


def test_task_delete_of_a_user_task_removes_its_data(kb: KnowledgeBase) -> None:
    add_task(kb, "del-karate", "builtin:karate", "node")
    folder = Path(kb.task_data("del-karate").path).parent
    assert folder.exists()
    out = run_cli("task", "delete", "del-karate", "--yes")
    assert out.returncode == 0, out.stderr
    assert not folder.exists() and "data folder" in out.stdout


def test_model_delete_refuses_unknown_and_wrong_kind(kb: KnowledgeBase) -> None:
    for group, message in (("predictor", "no predictor named 'nope'"),
                           ("ghn", "no graph hypernetwork named 'nope'"),
                           ("generator", "no generator named 'nope'")):
        out = run_cli(group, "delete", "nope", "--yes")
        assert out.returncode == 2 and message in out.stderr

"""Bad input, tried as a new user would: one clear line, exit status 2, nothing lost."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import MDESIGN, run_cli
from mdesign.core.space import DesignSpace
from mdesign.kb import KnowledgeBase
from tables import write_graphgym, write_toy


def one_line_error(out: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert out.returncode == 2, (out.returncode, out.stdout, out.stderr)
    lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("mdesign: error: ")
    assert " - " in lines[0], "the message names the fix"
    for n in needles:
        assert n in lines[0], (n, lines[0])


@pytest.fixture()
def toy(tmp_path: Path, kb: KnowledgeBase) -> tuple[Path, Path]:
    """A stored toy model base whose checksum must survive every bad input below.

    Its last architecture is left out of the stored table (kept in `missing.csv`), so a
    refused import that wrote anything would show up as one architecture more."""
    space, table = write_toy(tmp_path, "toy-bad", {"toy-bad1": "node"})
    lines = table.read_text().splitlines()
    (tmp_path / "missing.csv").write_text(lines[-1] + "\n")
    table.write_text("\n".join(lines[:-1]) + "\n")
    out = run_cli("kb", "import", "table", str(table), "--space", str(space))
    assert out.returncode == 0, out.stderr
    return space, table


def snapshot(kb: KnowledgeBase) -> tuple:
    s = kb.stats()
    return (s.architectures, s.results, s.edits, s.gains,
            json.dumps(kb.query("checksum_evidence", task="toy-bad1"), sort_keys=True))


def test_malformed_row(kb: KnowledgeBase, toy: tuple[Path, Path], tmp_path: Path) -> None:
    space, table = toy
    before = snapshot(kb)
    bad = tmp_path / "bad.csv"
    lines = table.read_text().splitlines()
    lines[3] += ",extra"
    bad.write_text("\n".join(lines) + "\n")
    one_line_error(run_cli("kb", "import", "table", str(bad), "--space", str(space)),
                   "malformed", "line 4")
    assert snapshot(kb) == before


def test_unknown_choice(kb: KnowledgeBase, toy: tuple[Path, Path], tmp_path: Path) -> None:
    space, table = toy
    before = snapshot(kb)
    bad = tmp_path / "choice.csv"
    bad.write_text(table.read_text().replace(",mean,", ",median,", 1))
    one_line_error(run_cli("kb", "import", "table", str(bad), "--space", str(space)),
                   "unknown choice 'median' for dimension 'agg'", "row ")
    assert snapshot(kb) == before


def test_missing_column(kb: KnowledgeBase, toy: tuple[Path, Path], tmp_path: Path) -> None:
    space, table = toy
    before = snapshot(kb)
    bad = tmp_path / "nocol.csv"
    bad.write_text(table.read_text().replace("val_acc,", "valacc,", 1))
    one_line_error(run_cli("kb", "import", "table", str(bad), "--space", str(space)),
                   "lacks column(s) val_acc")
    assert snapshot(kb) == before


@pytest.mark.parametrize("text, needle", [
    ("name: [unclosed\n", "not valid YAML"),
    ("name: x\ndimensions:\n  - {name: agg, choices: [add]}\ntable:\n  metric: {}\n",
     "metric column"),
    ("name: x\ndimensions:\n  - {name: agg, choices: [add]}\nconstraints:\n"
     "  - forbid: {nope: [1]}\n", "unknown dimension 'nope'"),
])
def test_wrong_space_file(kb: KnowledgeBase, toy: tuple[Path, Path], tmp_path: Path,
                          text: str, needle: str) -> None:
    _, table = toy
    before = snapshot(kb)
    space = tmp_path / "wrong.yaml"
    space.write_text(text)
    one_line_error(run_cli("kb", "import", "table", str(table), "--space", str(space)), needle)
    assert snapshot(kb) == before


def test_space_name_reused_with_another_definition(kb: KnowledgeBase, toy: tuple[Path, Path],
                                                   tmp_path: Path) -> None:
    space, table = toy
    before = snapshot(kb)
    other = tmp_path / "other.yaml"
    other.write_text(space.read_text().replace("[relu, tanh]", "[relu, tanh, gelu]"))
    one_line_error(run_cli("kb", "import", "table", str(table), "--space", str(other)),
                   "different design space named 'toy-bad'")
    assert snapshot(kb) == before


def test_repeated_row_with_different_values(kb: KnowledgeBase, toy: tuple[Path, Path],
                                            tmp_path: Path) -> None:
    space, table = toy
    before = snapshot(kb)
    lines = table.read_text().splitlines()
    dup = lines[5].split(",")
    dup[5] = "0.1234"
    bad = tmp_path / "dup.csv"
    bad.write_text("\n".join([*lines, ",".join(dup)]) + "\n")
    one_line_error(run_cli("kb", "import", "table", str(bad), "--space", str(space)),
                   "listed twice with different values")
    assert snapshot(kb) == before


def test_changed_value_conflicts_with_stored_result(kb: KnowledgeBase, toy: tuple[Path, Path],
                                                    tmp_path: Path) -> None:
    space, table = toy
    before = snapshot(kb)
    changed = tmp_path / "sub" / table.name  # same file name -> same source
    changed.parent.mkdir()
    lines = table.read_text().splitlines()
    row = lines[-1].split(",")
    row[5] = "0.99"
    new_arch = (tmp_path / "missing.csv").read_text().strip()
    # a new architecture (written first if nothing checked) and one contradicting value
    changed.write_text("\n".join([*lines[:-1], new_arch, ",".join(row)]) + "\n")
    one_line_error(run_cli("kb", "import", "table", str(changed), "--space", str(space)),
                   "already stored with different values")
    assert snapshot(kb) == before


def test_unknown_task_kind_and_features(kb: KnowledgeBase, toy: tuple[Path, Path],
                                        tmp_path: Path) -> None:
    space, table = toy
    before = snapshot(kb)
    bad = tmp_path / "kind.csv"
    bad.write_text(table.read_text().replace("toy-bad1,node", "toy-bad9,edge"))
    one_line_error(run_cli("kb", "import", "table", str(bad), "--space", str(space)),
                   "unknown kind 'edge'")
    feats = tmp_path / "f.csv"
    feats.write_text("task,nodes\nno-such-task,3\n")
    one_line_error(run_cli("kb", "import", "task-features", str(feats)), "unknown task(s)")
    feats.write_text("task,nodes\ntoy-bad1,many\n")
    one_line_error(run_cli("kb", "import", "task-features", str(feats)), "is not a number")
    one_line_error(run_cli("kb", "import", "table", str(tmp_path / "nope.csv"), "--space",
                           str(space)), "does not exist")
    assert snapshot(kb) == before


def test_dead_server_and_wrong_password(server, kb: KnowledgeBase) -> None:
    one_line_error(run_cli("kb", "stats", env={"NEO4J_URI": "neo4j://127.0.0.1:9",
                                               "NEO4J_PASSWORD": "x"}),
                   "cannot reach Neo4j at neo4j://127.0.0.1:9")
    creds = server.credentials()
    one_line_error(run_cli("kb", "stats", env={
        "NEO4J_URI": f"neo4j://127.0.0.1:{creds['bolt_port']}",
        "NEO4J_PASSWORD": "not-the-password"}), "rejected the credentials")
    one_line_error(run_cli("kb", "stats", env={"NEO4J_URI": "neo4j://127.0.0.1:9"}),
                   "NEO4J_PASSWORD is not")


def start_import_and_signal(kb: KnowledgeBase, table: Path, sig: int, after_batches: int
                            ) -> subprocess.Popen[str]:
    """Start `mdesign kb import table` and send ``sig`` once ``after_batches`` committed."""
    cmd = [MDESIGN, "kb", "import", "table", str(table), "--space", "graphgym"]
    # As from a terminal: SIGINT at its default disposition, even when this test runs
    # under a parent that ignores it (nohup, a background job), which Python inherits.
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ), start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    position = 0
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        rows = kb.query("import_progress", kind="table")
        position = max((r["position"] or 0 for r in rows
                        if r["status"] == "running" and table.name in r["id"]), default=0)
        if position >= after_batches:
            os.killpg(proc.pid, sig)
            break
        time.sleep(0.1)
    proc.wait()
    assert position >= after_batches, "the import finished before it could be stopped"
    return proc


def test_interrupted_import_says_so_and_resumes(kb: KnowledgeBase, tmp_path: Path) -> None:
    table = tmp_path / "gym-int.csv"
    write_graphgym(table, ["gym-i1", "gym-i2"], archs=12_000, seed=1)
    proc = start_import_and_signal(kb, table, signal.SIGINT, after_batches=2)
    assert proc.returncode == 130
    err = [ln for ln in proc.stderr.read().splitlines() if ln.strip()]
    assert err == ["mdesign: interrupted; committed work is kept - run the same command "
                   "again to resume"]
    out = run_cli("kb", "import", "table", str(table), "--space", "graphgym", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["status"] == "resumed"
    assert kb.task("gym-i1").results == kb.task("gym-i2").results == 12_000
    assert kb.query("duplicate_results", space="graphgym") == [{"duplicates": 0}]


def test_killed_import_resumes_and_finishes_correctly(kb: KnowledgeBase, tmp_path: Path
                                                      ) -> None:
    table = tmp_path / "gym.csv"
    write_graphgym(table, ["gym-k1", "gym-k2"], archs=12_000)
    # 3 batches of architectures and one of results committed, then kill -9
    start_import_and_signal(kb, table, signal.SIGKILL, after_batches=4)
    partial = kb.query("checksum_evidence", task="gym-k1")[0]["results"]
    assert partial > 0
    out = run_cli("kb", "import", "table", str(table), "--space", "graphgym", "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["status"] == "resumed"
    counts = report["counts"]
    assert counts["results"] == 24_000
    # no duplicates, every result and every edit present once
    dupes = kb.query("duplicate_results", space="graphgym")
    assert dupes == [{"duplicates": 0}]
    assert kb.task("gym-k1").results == kb.task("gym-k2").results == 12_000
    space = DesignSpace.builtin("graphgym")
    keys = set(kb.query("space_architecture_uids", space="graphgym")[0]["keys"])
    pairs = {tuple(sorted((k, n))) for k in keys for *_, n in space.neighbour_keys(k)
             if n in keys}
    assert kb.query("space_counts", space="graphgym")[0]["edits"] == len(pairs)
    mine = {r.key for r in kb.best_architectures("gym-k1", 100_000)}
    assert kb.task("gym-k1").evidence_edits == sum(1 for a, b in pairs
                                                   if a in mine and b in mine)

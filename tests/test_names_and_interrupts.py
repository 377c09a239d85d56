"""Untrusted names never become paths; interrupts and refused input do what they say.

A task name comes from any imported table: whatever it holds, every file it names (run
ids, reports, plots, task data, checkpoints) is a safe slug plus a hash, directly in its
folder, while the knowledge base keeps the name verbatim. Ctrl-C stops a refinement
within seconds, even in a request the server cannot answer yet, marks the run
`interrupted` and prints the command that resumes it; a "no" at a prompt is an answer,
not an interruption; a refinement refused for its input leaves no run behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import MDESIGN, run_cli
from mdesign.core.errors import InputError
from mdesign.kb import KnowledgeBase, settings
from mdesign.refinement import runs
from tables import write_toy
from test_bad_input import one_line_error

SAFE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
NASTY = {
    "traversal": "../../../../x/pwned",
    "long": "long-" + "t" * 300,
    "newline": "first line\nsecond/../line",
    "unicode": "données Größe 日本語 ✓",
}


# -- the helper ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["../../../../x/pwned", "..", ".", "/", "/etc/passwd",
                                  "a\x00b", "x" * 300, "日本語", "données", "A b\nc", "",
                                  ".hidden", "-rf", "con", "a..b", "graphs"])
def test_safe_name_is_a_plain_file_name(name: str, tmp_path: Path) -> None:
    safe = settings.safe_name(name)
    assert SAFE.match(safe), safe
    assert len(safe) <= 60 and ".." not in safe and "/" not in safe and "\x00" not in safe
    assert safe != name  # always the hash too: never one of the store's own names
    assert safe.endswith("-" + hashlib.sha256(name.encode()).hexdigest()[:8])
    assert settings.confined(tmp_path, safe).parent == tmp_path.resolve()
    assert settings.safe_name(name) == safe  # stable
    assert len(settings.safe_name(name, max_len=20)) <= 20
    run_id = runs.new_run_id(name)
    assert SAFE.match(run_id) and settings.is_safe_name(run_id) and len(run_id) <= 70


def test_safe_name_keeps_names_apart() -> None:
    same_slug = ["a/b", "a-b", "A B", "a..b", "a\nb", "a\x00b", "a--b"]
    assert len({settings.slug(n) for n in same_slug}) == 1
    assert len({settings.safe_name(n) for n in same_slug}) == len(same_slug)
    assert len({settings.safe_name("x" * 300 + c) for c in "abc"}) == 3


def test_confined_refuses_to_leave(tmp_path: Path) -> None:
    for bad in ("../x", "/etc/passwd", "a/../../x", ".", ""):
        with pytest.raises(InputError, match="would leave"):
            settings.confined(tmp_path, bad)
    assert settings.confined(tmp_path, "a", "b.pt") == tmp_path.resolve() / "a" / "b.pt"


def test_task_and_checkpoint_folders_stay_in_their_place(kb: KnowledgeBase) -> None:
    from mdesign.predictors.store import predictor_dir
    from mdesign.tasks.store import task_dir

    home = settings.home()
    for name in [*NASTY.values(), "graphs", "modèle", "a" * 300]:
        folder = task_dir(name)
        assert folder.parent == home / "tasks" and SAFE.match(folder.name), folder
    for name in ["graphs", "modèle", "a" * 300, "ghn-1", "gen_2"]:  # names it accepts
        folder = predictor_dir(name)
        assert folder.parent == home / "predictors" and SAFE.match(folder.name), folder
        assert folder.name != "graphs" and len(folder.name) <= 60


# -- nasty task names through the CLI ------------------------------------------------------


@pytest.fixture(scope="module")
def names_space(kb: KnowledgeBase, tmp_path_factory: pytest.TempPathFactory
                ) -> tuple[Path, Path]:
    """The `toy-names` space with a source task and a one-task table to import under any
    name."""
    tmp = tmp_path_factory.mktemp("names")
    space, source = write_toy(tmp, "toy-names", {"names-src": "node"})
    assert run_cli("kb", "import", "table", str(source), "--space", str(space)).returncode == 0
    one = tmp / "one.csv"
    one.write_text(source.read_text().replace("names-src", "names-one"))
    return space, one


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()


@pytest.mark.parametrize("label", list(NASTY))
def test_a_nasty_task_name_never_becomes_a_path(kb: KnowledgeBase,
                                                names_space: tuple[Path, Path],
                                                tmp_path: Path, label: str) -> None:
    name = NASTY[label]
    space, table = names_space
    out = run_cli("kb", "import", "table", str(table), "--space", str(space), "--task", name)
    assert out.returncode == 0, out.stderr
    # four levels down, so that `../../../..` would still land inside tmp_path
    out_dir = tmp_path / "a" / "b" / "c" / "runs"
    done = run_cli("refine", "--task", name, "--budget", "2", "--quiet", "--out", str(out_dir))
    assert done.returncode == 0, done.stderr
    run_id = re.search(r"^run (\S+): ", done.stdout, re.MULTILINE).group(1)
    assert SAFE.match(run_id)
    assert _files(tmp_path) == {out_dir / f"{run_id}.json", out_dir / f"{run_id}.png"}
    stored = runs.load_run(kb, run_id)
    assert stored.status == "finished" and stored.task == name  # verbatim
    assert kb.task(name).name == name
    assert json.loads((out_dir / f"{run_id}.json").read_text())["config"]["task"] == name


def test_the_default_report_folder_holds_the_report(kb: KnowledgeBase,
                                                    names_space: tuple[Path, Path]) -> None:
    name = NASTY["traversal"]
    space, table = names_space
    assert run_cli("kb", "import", "table", str(table), "--space", str(space),
                   "--task", name).returncode == 0
    runs_dir = settings.home() / "runs"
    above = (runs_dir / name).parent.resolve()  # where the old code wrote
    before = _files(above)
    done = run_cli("refine", "--task", name, "--budget", "2", "--quiet")
    assert done.returncode == 0, done.stderr
    paths = [Path(p) for p in re.findall(r"^(?:report|plot): +(.+)$", done.stdout, re.M)]
    assert len(paths) == 2 and all(p.parent == runs_dir and p.exists() for p in paths)
    assert _files(above) == before


def test_out_must_be_a_directory(kb: KnowledgeBase, names_space: tuple[Path, Path],
                                 tmp_path: Path) -> None:
    before = len(runs.list_runs(kb, 10_000))
    file = tmp_path / "a-file"
    file.write_text("")
    one_line_error(run_cli("refine", "--task", "names-src", "--budget", "2", "--out",
                           str(file)), "is not a directory")
    assert len(runs.list_runs(kb, 10_000)) == before


# -- refused input leaves no run -----------------------------------------------------------


def _runs_of(kb: KnowledgeBase, task: str) -> list[dict]:
    return [r for r in runs.list_runs(kb, 10_000) if r["task"] == task]


def test_refused_input_leaves_no_run(kb: KnowledgeBase, names_space: tuple[Path, Path],
                                     tmp_path: Path) -> None:
    space, table = write_toy(tmp_path, "toy-refused-alone", {"alone-1": "node"})
    assert run_cli("kb", "import", "table", str(table), "--space", str(space)).returncode == 0
    one_line_error(run_cli("refine", "--task", "alone-1", "--budget", "2"),
                   "no source task shares design space 'toy-refused-alone'")
    assert _runs_of(kb, "alone-1") == []
    for wrong in ("toy-refused-alone", "no-such-space"):
        one_line_error(run_cli("refine", "--task", "names-src", "--budget", "2",
                               "--space", wrong), f"not {wrong!r}")
    assert _runs_of(kb, "names-src") == []
    listed = json.loads(run_cli("runs", "list", "--json", "--limit", "10000").stdout)
    assert not [r for r in listed if r["task"] in ("alone-1", "names-src")]


# -- interrupts ----------------------------------------------------------------------------


def test_ctrl_c_in_source_retrieval_stops_at_once_and_resumes(kb: KnowledgeBase,
                                                              tmp_path: Path) -> None:
    """The run's source retrieval waits for the server, which waits for a lock this test
    holds on a source task: Ctrl-C must not wait with it."""
    space, table = write_toy(tmp_path, "toy-intr", {"intr-tgt": "node", "intr-src": "node"})
    assert run_cli("kb", "import", "table", str(table), "--space", str(space)).returncode == 0
    with kb.driver.session(database=kb.database) as session:
        tx = session.begin_transaction()
        try:
            tx.run("MATCH (t:Task {name: 'intr-src'}) SET t.intr_lock = 1").consume()
            proc = subprocess.Popen(
                [MDESIGN, "refine", "--task", "intr-tgt", "--budget", "2", "--quiet",
                 "--out", str(tmp_path)],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                env=dict(os.environ), start_new_session=True,
                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
            run_id = None
            deadline = time.monotonic() + 120
            while run_id is None and time.monotonic() < deadline and proc.poll() is None:
                rows = _runs_of(kb, "intr-tgt")
                run_id = rows[0]["id"] if rows else None
                time.sleep(0.1)
            assert run_id is not None, proc.communicate()
            time.sleep(1.5)  # into the blocked write of the sources
            assert proc.poll() is None, "the run did not wait for the lock"
            assert runs.load_run(kb, run_id).sources == []
            t0 = time.monotonic()
            os.killpg(proc.pid, signal.SIGINT)
            try:
                _, err = proc.communicate(timeout=15)
            except subprocess.TimeoutExpired:
                tx.rollback()  # let the old code go, then fail
                proc.communicate(timeout=120)
                pytest.fail("Ctrl-C waited for the server")
            stopped_in = time.monotonic() - t0
        finally:
            if not tx.closed():
                tx.rollback()
    assert proc.returncode == 130, err
    assert stopped_in < 10
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and f"mdesign refine --resume {run_id}`" in lines[0], err
    assert runs.load_run(kb, run_id).status == "interrupted"
    resumed = run_cli("refine", "--resume", run_id, "--quiet", "--out", str(tmp_path))
    assert resumed.returncode == 0, resumed.stderr
    final = runs.load_run(kb, run_id)
    assert final.status == "finished" and final.spent == 2 and final.sources == ["intr-src"]


def test_declining_a_prompt_is_not_an_interruption(kb: KnowledgeBase) -> None:
    for answer in ("n\n", ""):
        out = subprocess.run([MDESIGN, "task", "forget", "names-src"], input=answer,
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 1, (out.returncode, out.stderr)
        assert [ln for ln in out.stderr.splitlines() if ln.strip()] == ["nothing changed"]
        assert "interrupted" not in out.stdout + out.stderr


def test_errors_stay_on_one_line() -> None:
    """An error quoting an untrusted name (a task name with a newline, say) is still one
    line: non-printable characters are escaped, printable unicode is kept."""
    err = InputError("unknown task 'a\nb\x00c'", "known tasks: x\ny, é")
    assert "\n" not in str(err) and "\x00" not in str(err)
    assert str(err) == "unknown task 'a\\nb\\x00c' - known tasks: x\\ny, é"


def test_unknown_task_lists_known_names_briefly(kb: KnowledgeBase,
                                                names_space: tuple[Path, Path]) -> None:
    """The list of known tasks in the error is bounded, whatever names the store holds."""
    with pytest.raises(InputError) as err:
        kb.task("no-such-task-" + "z" * 300)
    text = str(err.value)
    assert "\n" not in text and len(text) < 2000
    assert "mdesign kb stats" in text

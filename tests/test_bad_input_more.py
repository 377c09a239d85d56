"""More bad input (tables, task names, spaces, missing extras): one line, exit 2, nothing
stored."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import run_cli
from mdesign.kb import KnowledgeBase
from tables import write_toy
from test_bad_input import one_line_error, snapshot, toy  # noqa: F401  (toy: a fixture)


def import_table(table: Path, space: Path | str, *extra: str
                 ) -> subprocess.CompletedProcess[str]:
    return run_cli("kb", "import", "table", str(table), "--space", str(space), *extra)


def task_names(kb: KnowledgeBase) -> set[str]:
    return {t.name for t in kb.tasks()}


# -- task names ----------------------------------------------------------------------------


@pytest.mark.parametrize("name, needle", [
    ("", "is empty"), ("   ", "is empty"), ("\t", "is empty"),
    (" toy-pad", "starts or ends with whitespace"), ("toy-pad ", "starts or ends with"),
])
def test_bad_task_option(kb: KnowledgeBase, toy: tuple[Path, Path], tmp_path: Path,  # noqa: F811
                         name: str, needle: str) -> None:
    space, table = toy
    # a single-task file: no task column, the task is named by --task
    single = tmp_path / "single.csv"
    single.write_text("\n".join(ln.split(",", 1)[1] for ln in table.read_text().splitlines())
                      + "\n")
    before, names = snapshot(kb), task_names(kb)
    one_line_error(import_table(single, space, "--task", name), "--task", needle)
    one_line_error(import_table(table, space, "--task", name), "--task", needle)
    assert snapshot(kb) == before and task_names(kb) == names


def test_empty_task_cell(kb: KnowledgeBase, toy: tuple[Path, Path], tmp_path: Path  # noqa: F811
                         ) -> None:
    space, table = toy
    before = snapshot(kb)
    bad = tmp_path / "blank.csv"
    lines = table.read_text().splitlines()
    lines[3] = "   " + lines[3][len("toy-bad1"):]
    bad.write_text("\n".join(lines) + "\n")
    one_line_error(import_table(bad, space), "row 4: empty task name")
    assert snapshot(kb) == before


# -- the space file --------------------------------------------------------------------------


def test_space_is_a_directory_or_not_utf8(kb: KnowledgeBase, toy: tuple[Path, Path],  # noqa: F811
                                          tmp_path: Path) -> None:
    space, table = toy
    before = snapshot(kb)
    folder = tmp_path / "spaces"
    folder.mkdir()
    one_line_error(import_table(table, folder), "is a directory")
    one_line_error(import_table(table, str(folder) + ".yaml"), "does not exist")
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("name: espace-\u00e9\ndimensions: []\n".encode("latin-1"))
    one_line_error(import_table(table, latin), "not UTF-8", "save it as UTF-8")
    bad_table = tmp_path / "latin.csv"
    bad_table.write_bytes(table.read_bytes().replace(b"toy-bad1",
                                                     "toy-b\u00e9d".encode("latin-1")))
    one_line_error(import_table(bad_table, space), "not UTF-8")
    assert snapshot(kb) == before


# -- the table's header and cells --------------------------------------------------------------


def test_duplicated_header_column(kb: KnowledgeBase, toy: tuple[Path, Path],  # noqa: F811
                                  tmp_path: Path) -> None:
    space, table = toy
    before = snapshot(kb)
    lines = table.read_text().splitlines()
    bad = tmp_path / "twice.csv"  # a second `val_acc` (pandas would read it as val_acc.1)
    bad.write_text("\n".join([lines[0] + ",val_acc", *(ln + ",0.5" for ln in lines[1:])])
                   + "\n")
    one_line_error(import_table(bad, space), "'val_acc' more than once")
    assert snapshot(kb) == before


@pytest.mark.parametrize("sep, called", [(";", "semicolon"), ("\t", "tab")])
def test_other_delimiter_is_named(kb: KnowledgeBase, toy: tuple[Path, Path],  # noqa: F811
                                  tmp_path: Path, sep: str, called: str) -> None:
    space, table = toy
    before = snapshot(kb)
    plain = table.read_text().replace(",", sep)
    for name, text in (("plain", plain),
                       # a European spreadsheet: decimal commas too
                       ("decimal", plain.replace(".", ","))):
        bad = tmp_path / f"{name}.csv"
        bad.write_text(text)
        one_line_error(import_table(bad, space), f"looks {called}-delimited")
    assert snapshot(kb) == before


def test_std_without_its_metric(kb: KnowledgeBase, toy: tuple[Path, Path],  # noqa: F811
                                tmp_path: Path) -> None:
    space, table = toy
    before = snapshot(kb)
    lines = table.read_text().splitlines()
    rows = [ln.split(",") for ln in lines]
    acc = rows[0].index("acc")
    rows[0].insert(acc + 1, "acc_std")
    for r in rows[1:]:
        r.insert(acc + 1, "0.01")
    rows[5][acc] = ""  # line 6: a std for an empty test metric
    bad = tmp_path / "orphan.csv"
    bad.write_text("\n".join(",".join(r) for r in rows) + "\n")
    one_line_error(import_table(bad, space, "--task", "toy-orphan"), "row 6",
                   "'acc_std' has a value", "'acc' is empty")
    assert snapshot(kb) == before and "toy-orphan" not in task_names(kb)


def test_numeric_choices_match_however_written(kb: KnowledgeBase, toy: tuple[Path, Path],  # noqa: F811
                                               tmp_path: Path) -> None:
    space, table = toy
    lines = table.read_text().splitlines()
    l_mp = lines[0].split(",").index("l_mp")

    def with_layers(spell: dict[str, str], rows: list[str]) -> str:
        out = [lines[0]]
        for ln in rows:
            cells = ln.split(",")
            cells[l_mp] = spell.get(cells[l_mp], cells[l_mp])
            out.append(",".join(cells))
        return "\n".join(out) + "\n"

    archs = kb.stats().architectures
    # cells `1.0`, `2.0`, `4e0` name the space's choices 1, 2, 4
    floats = tmp_path / "floats.csv"
    floats.write_text(with_layers({"1": "1.0", "2": "2.0", "4": "4e0"}, lines[1:]))
    out = import_table(floats, space, "--task", "toy-floats")
    assert out.returncode == 0, out.stderr
    assert kb.stats().architectures == archs  # the same architectures, no `layers=1.0`
    assert kb.task("toy-floats").results == kb.task("toy-bad1").results
    # ... and `1.5` names none of them
    before = snapshot(kb)
    half = tmp_path / "half.csv"
    half.write_text(with_layers({"1": "1.5"}, lines[1:]))
    one_line_error(import_table(half, space, "--task", "toy-half"),
                   "unknown choice '1.5' for dimension 'layers'")
    # `2` and `2.0` are one architecture: two different values for it are refused
    twice = tmp_path / "twice.csv"
    row = next(ln for ln in lines[1:] if ln.split(",")[l_mp] == "2")
    cells = row.split(",")
    cells[l_mp], cells[5] = "2.0", "0.4321"
    twice.write_text("\n".join([*lines, ",".join(cells)]) + "\n")
    one_line_error(import_table(twice, space, "--task", "toy-twice"),
                   "listed twice with different values")
    assert snapshot(kb) == before


def test_numeric_choice_written_as_float_in_the_space(kb: KnowledgeBase, tmp_path: Path
                                                      ) -> None:
    """Vice versa: the space lists `"1.0"`, `2.0`; the table's cells say `1`, `2`."""
    space, table = write_toy(tmp_path, "toy-eq", {"eq-1": "node"})
    space.write_text(space.read_text().replace("[1, 2, 4]", '["1.0", 2.0, "4.00"]'))
    out = import_table(table, space)
    assert out.returncode == 0, out.stderr
    stored = {r.uid for r in kb.best_architectures("eq-1", 100)}
    assert "toy-eq/agg=mean,layers=1.0,act=relu" in stored
    assert "toy-eq/agg=mean,layers=2,act=tanh" in stored
    assert "toy-eq/agg=mean,layers=4.00,act=tanh" in stored
    # a space listing one number twice is refused
    other = tmp_path / "dup.yaml"
    other.write_text(space.read_text().replace('["1.0", 2.0, "4.00"]', '[1, "1.0", 2]')
                     .replace("toy-eq", "toy-eq-dup"))
    one_line_error(import_table(table, other), "lists a choice twice")


# -- optional extras -----------------------------------------------------------------------------

BLOCKER = '''
import os
import sys

BLOCKED = set(filter(None, os.environ.get("MDESIGN_TEST_BLOCK", "").split(",")))


class Block:
    """As if these top-level packages were not installed (find_spec and import)."""

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, Block())
'''


@pytest.fixture()
def without(tmp_path: Path):
    """``without("torch")`` -> the environment of a `mdesign` lacking those packages."""
    folder = tmp_path / "blocker"
    folder.mkdir()
    (folder / "sitecustomize.py").write_text(BLOCKER)

    def env(*modules: str) -> dict[str, str]:
        path = os.pathsep.join(filter(None, [str(folder), os.environ.get("PYTHONPATH")]))
        e = {"PYTHONPATH": path, "MDESIGN_TEST_BLOCK": ",".join(modules)}
        # the interpreter honours it: the package really is missing there
        check = subprocess.run([sys.executable, "-c", f"import {modules[0]}"],
                               env={**os.environ, **e}, capture_output=True, text=True)
        assert check.returncode == 1 and "No module named" in check.stderr, check.stderr
        return e

    return env


def run_ids(kb: KnowledgeBase, task: str) -> set[str]:
    return {r["id"] for r in kb.query("run_list", limit=100_000) if r["task"] == task}


@pytest.fixture()
def two_tasks(kb: KnowledgeBase, tmp_path: Path) -> None:
    space, table = write_toy(tmp_path, "toy-extra", {"extra-a": "node", "extra-b": "node"})
    out = import_table(table, space)
    assert out.returncode == 0, out.stderr


@pytest.mark.parametrize("blocked, args", [
    (("matplotlib",), ()),
    (("torch",), ("--evaluator", "train")),
    (("torch",), ("--predictor", "some-predictor")),
    (("torch_geometric",), ("--generator", "some-generator")),
    (("torch",), ("--ghn", "some-ghn")),
])
def test_refine_without_the_train_extra(kb: KnowledgeBase, two_tasks: None, without,
                                        tmp_path: Path, blocked: tuple[str, ...],
                                        args: tuple[str, ...]) -> None:
    before = snapshot(kb), run_ids(kb, "extra-a")
    out = run_cli("refine", "--task", "extra-a", "--budget", "2", "--sources", "1", "--quiet",
                  "--out", str(tmp_path), *args, env=without(*blocked))
    one_line_error(out, f"`mdesign refine` needs {blocked[0]}",
                   "pip install 'mdesign[train]'")
    assert (snapshot(kb), run_ids(kb, "extra-a")) == before
    assert not list(tmp_path.glob("*.json"))


def test_refine_on_stored_results_needs_no_torch(kb: KnowledgeBase, two_tasks: None, without,
                                                 tmp_path: Path) -> None:
    """Only what a path imports is required: the benchmark evaluator trains nothing."""
    out = run_cli("refine", "--task", "extra-b", "--budget", "2", "--sources", "1", "--quiet",
                  "--out", str(tmp_path), env=without("torch", "torch_geometric"))
    assert out.returncode == 0, out.stderr
    assert len(list(tmp_path.glob("*.json"))) == len(list(tmp_path.glob("*.png"))) == 1
    # the toy table has no meta-features: the run says how its source was chosen
    assert "note: no meta-features shared by the target and its sources" in out.stdout


def test_task_add_without_the_train_extra(kb: KnowledgeBase, without) -> None:
    names = task_names(kb)
    for blocked in ("torch", "torch_geometric"):
        out = run_cli("task", "add", "extra-karate", "--data", "builtin:karate", "--kind",
                      "node", env=without(blocked))
        one_line_error(out, f"`mdesign task add` needs {blocked}",
                       "pip install 'mdesign[train]'")
    assert task_names(kb) == names


def test_mistakes_are_answered_before_torch_loads(kb: KnowledgeBase, tmp_path: Path) -> None:
    """A bad option or an unknown stored name is refused before torch is imported: a torch
    that cannot be imported would show in the answer otherwise."""
    fake = tmp_path / "fake" / "torch"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('torch was imported')\n")
    env = {"PYTHONPATH": str(fake.parent)}
    for args, message in [
        (("task", "add", "x", "--data", "builtin:karate", "--kind", "nodes"),
         "'nodes' is not one of"),
        (("ghn", "score", "--name", "no-such-ghn", "--arch", "x"),
         "no predictor named 'no-such-ghn'"),
        (("predict", "--task", "x", "--predictor", "no-such-p", "--arch", "x"),
         "no predictor named 'no-such-p'"),
    ]:
        out = run_cli(*args, env=env)
        assert out.returncode == 2, out.stderr
        assert message in out.stderr and "torch was imported" not in out.stderr

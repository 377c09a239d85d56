"""Generator training with user tasks: a space whose tasks hold very
different numbers of results (full tables, a task with two results, a task added with
`mdesign task add` plus one trained refinement) trains a generator whose guide has its
full set of anchors, and generating for the small tasks works; a space where no task has
enough results gives one line naming the tasks."""

from __future__ import annotations

from pathlib import Path

from conftest import run_cli
from mdesign.core.space import DesignSpace
from mdesign.generation.generator import (
    GenerationSettings,
    GeneratorConfig,
    choose_anchors,
    generate_for_task,
    load_generator_meta,
    train_generator,
)
from mdesign.kb import KnowledgeBase
from mdesign.kb.importers.table import import_table
from tables import write_graphgym, write_toy
from test_bad_input import one_line_error

SPACES = Path(__file__).resolve().parents[1] / "spaces"
SMALL = ("--score-steps", "2", "--guide-steps", "2")  # a few seconds of training


def test_anchors_fill_the_guide_from_less_measured_architectures() -> None:
    # one architecture measured by all three tasks, two by two tasks, the rest by one
    scores = {"full-a": {k: 0.5 for k in "abcdefgh"}, "full-b": {k: 0.6 for k in "abcdefgh"},
              "small": {"a": 0.1, "z": 0.2}}
    keys = sorted(set().union(*scores.values()))
    anchors = choose_anchors(keys, scores, 8, seed=0)
    assert len(anchors) == len(set(anchors)) == 8 and "a" in anchors
    assert set(anchors) <= set(keys) and anchors == choose_anchors(keys, scores, 8, seed=0)
    # never more anchors than architectures with results
    assert sorted(choose_anchors(["a", "z"], {"small": scores["small"]}, 8, 0)) == ["a", "z"]
    assert choose_anchors(keys, scores, 0, 0) == []


def test_generator_trains_with_a_user_task_next_to_full_tables(kb: KnowledgeBase,
                                                                tmp_path: Path) -> None:
    space_file = tmp_path / "gg-usertask.yaml"
    space_file.write_text((SPACES / "graphgym.yaml").read_text()
                          .replace("name: graphgym", "name: gg-usertask", 1))
    space = DesignSpace.from_yaml(space_file)
    full = tmp_path / "full.csv"
    write_graphgym(full, ["ggu-full-a", "ggu-full-b"], 30)
    import_table(kb, full, space)
    # a task with two results, both on architectures the full tables measured: the
    # architectures most tasks measured are only these two, fewer than the 8 anchors
    lines = full.read_text().splitlines()
    few = tmp_path / "few.csv"
    few.write_text("\n".join([lines[0], *(ln.replace("ggu-full-a", "ggu-few", 1)
                                          for ln in lines[1:3])]) + "\n")
    import_table(kb, few, space)
    assert run_cli("task", "add", "ggu-user", "--data", "builtin:sbm:2:20",
                   "--kind", "node").returncode == 0
    out = run_cli("refine", "--task", "ggu-user", "--space", "gg-usertask", "--evaluator",
                  "train", "--budget", "2", "--epochs", "2", "--train-seeds", "1", "--quiet",
                  "--out", str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert kb.task_scores("ggu-user", "gg-usertask")

    out = run_cli("generator", "train", "--name", "ggu-gen", "--space", "gg-usertask", *SMALL)
    assert out.returncode == 0, out.stderr
    meta = load_generator_meta(kb, "ggu-gen")
    assert meta.config["guided"] == 1 and meta.config["anchors"] == 8
    assert len(meta.metrics["anchors"]) == 8
    assert {"ggu-full-a", "ggu-full-b", "ggu-few"} <= set(meta.tasks)
    # the user task serves the guide, or is named as left out (one result only)
    assert ("ggu-user" in meta.tasks) != ("ggu-user" in meta.metrics["skipped_tasks"])
    if "ggu-user" not in meta.tasks:
        assert "left out of the guide" in out.stdout and "'ggu-user'" in out.stdout

    gen = run_cli("generate", "--task", "ggu-user", "--generator", "ggu-gen", "-n", "2",
                  "--steps", "2", "--no-store")
    assert gen.returncode == 0, gen.stderr
    assert "2 of 2 returned" in gen.stdout
    settings = GenerationSettings(n=2, steps=2, batch=8)
    assert len(generate_for_task(kb, "ggu-gen", "ggu-few", settings,
                                 save=False).architectures) == 2


def test_generator_train_names_the_tasks_that_cannot_serve(kb: KnowledgeBase,
                                                           tmp_path: Path) -> None:
    space_file, table = write_toy(tmp_path, "toy-lonely", {"lonely-task": "node"})
    lines = table.read_text().splitlines()
    table.write_text("\n".join(lines[:2]) + "\n")  # one result
    import_table(kb, table, DesignSpace.from_yaml(space_file))
    one_line_error(run_cli("generator", "train", "--name", "lonely-gen", "--space",
                           "toy-lonely", *SMALL),
                   "'lonely-task' (1)", "--guide-steps 0")
    # nothing stored; unguided training is the way out
    assert "lonely-gen" not in {r["name"] for r in kb.query("generator_list")}
    _, meta = train_generator(kb, GeneratorConfig(name="lonely-gen", space="toy-lonely",
                                                  dim=8, layers=1, heads=2, score_steps=2,
                                                  guide_steps=0, batch_size=8))
    assert meta.config["guided"] == 0

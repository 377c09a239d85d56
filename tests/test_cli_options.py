"""The options of ``mdesign refine`` (no server needed): every option it has ever had,
with its default, and one option per :class:`RefineConfig` field, made from the field."""

from __future__ import annotations

import json
from typing import Any

import click
import pytest
from click.testing import CliRunner
from conftest import run_cli
from mdesign.cli.main import cli
from mdesign.cli.refine import refine_cmd
from mdesign.refinement.refine import RefineConfig
from mdesign.training.config import TrainConfig

FLAG = object()  # a flag, off unless given

# The options of `mdesign refine` before its options were made from RefineConfig, with
# their defaults (and choices, in the order --help lists them).
BEFORE: dict[str, Any] = {
    "--task": None, "--budget": None, "--evaluator": "benchmark", "--sources": 3,
    "--seed": 0,  # --similarity agreement was added in round 19
    "--similarity": ("features", ["features", "anchors", "both", "agreement"]),
    "--anchors": 5, "--start": ("best", ["best", "vote", "weighted_vote"]),
    "--lookahead": 1, "--lookahead-engine": ("space", ["space", "gds"]),
    "--expand": ("best", ["best", "current"]),
    "--planner": ("residual", ["residual", "fallback", "always", "off"]),
    "--predictor": None, "--ghn": None, "--ghn-pool": 4, "--ghn-init": None,
    "--generator": None, "--generated": 3, "--generator-patience": 0,
    "--no-calibrate": FLAG, "--uncertainty": FLAG, "--max-params": None,
    "--max-latency": None, "--space": None, "--resume": None, "--out": None,
    "--quiet": FLAG, "--epochs": 100, "--train-seeds": 2, "--threads": 1, "--batch": 1,
    "--workers": 1, "--executor": ("local", ["local", "ray"]), "--address": None,
}
# RefineConfig.train is set by these options together.
TRAIN_OPTIONS = {"--epochs", "--train-seeds", "--threads", "--ghn-init"}


def _options() -> dict[str, click.Option]:
    return {o: p for p in refine_cmd.params if isinstance(p, click.Option)
            for o in (*p.opts, *p.secondary_opts)}


def _values(*args: str) -> dict[str, Any]:
    ctx = refine_cmd.make_context("refine", list(args))
    return dict(ctx.params)


@pytest.mark.parametrize("option", list(BEFORE))
def test_every_option_is_kept_with_its_default(option: str) -> None:
    options = _options()
    assert option in options, f"mdesign refine lost {option}"
    opt, before = options[option], BEFORE[option]
    value = _values()[opt.name]
    if before is FLAG:
        assert opt.is_flag and not opt.secondary_opts
        assert isinstance(value, bool)
        assert _values(option)[opt.name] is (not value)  # given, it turns the default
        return
    if isinstance(before, tuple):
        before, choices = before
        assert list(opt.type.choices) == choices
    assert value == before


def test_the_help_lists_the_options_in_their_old_order() -> None:
    out = CliRunner().invoke(cli, ["refine", "--help"], terminal_width=200).output
    at = [out.index(f"  {o} ") for o in BEFORE]
    assert at == sorted(at)


def test_every_config_field_has_its_option() -> None:
    options = _options()
    names = {p.name for p in refine_cmd.params}
    for name, field in RefineConfig.model_fields.items():
        if name == "train":
            assert set(options) >= TRAIN_OPTIONS
            continue
        if name == "evaluator_version":  # recorded from --evaluator, never given
            assert name not in names
            continue
        assert name in names, f"RefineConfig.{name} has no option"
        opt = next(p for p in refine_cmd.params if p.name == name)
        assert opt.help == field.description or name == "calibrate"
        if not field.is_required():
            assert _values()[name] == field.default, name


def test_special_flags_set_the_config() -> None:
    assert _values()["calibrate"] is True and _values("--no-calibrate")["calibrate"] is False
    assert _values()["backtrack"] is True
    assert _values("--no-backtrack")["backtrack"] is False
    assert _values("--uncertainty")["uncertainty"] is True


def test_options_alone_make_the_default_config() -> None:
    values = {k: v for k, v in _values("--task", "t", "--budget", "5").items()
              if k in RefineConfig.model_fields}
    assert RefineConfig(**values) == RefineConfig(task="t", budget=5)


def test_train_is_typed_and_stored_as_before() -> None:
    """A stored run's config (train as a plain dict) loads, and dumps as it was."""
    stored = json.dumps({"task": "t", "budget": 3, "evaluator": "train",
                         "train": {"epochs": 15, "seeds": 1, "threads": 1, "ghn": None}})
    config = RefineConfig.model_validate_json(stored)
    assert isinstance(config.train, TrainConfig) and config.train.epochs == 15
    assert config.train.lr == TrainConfig().lr
    assert json.loads(config.model_dump_json())["train"] == json.loads(stored)["train"]
    assert RefineConfig.model_validate_json(config.model_dump_json()) == config
    assert RefineConfig(task="t", budget=3).model_dump()["train"] is None


def test_a_negative_seed_is_refused_in_one_line() -> None:
    # numpy's generators take no negative seed: refused up front, not as a traceback,
    # and before the server is reached (none runs for these tests)
    out = run_cli("refine", "--task", "t", "--budget", "3", "--seed", "-1",
                  "--strategy", "surrogate", env={"MDESIGN_HOME": "/nonexistent-home"})
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "mdesign: error: --seed: input should be greater than or equal to 0 (got -1) - see "
        "`mdesign refine --help` for --seed"]

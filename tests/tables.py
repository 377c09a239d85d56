"""Helpers that write small model-base tables and their design-space files."""

from __future__ import annotations

import csv
import itertools
import random
from pathlib import Path

SPACE_YAML = """
name: {name}
dimensions:
  - {{name: agg, choices: [add, mean, max]}}
  - {{name: layers, choices: [1, 2, 4]}}
  - {{name: act, choices: [relu, tanh]}}
canonical:
  rules:
    - when: {{layers: [1]}}
      set: {{act: relu}}
table:
  task: dataset
  kind: kind
  columns: {{layers: l_mp}}
  metric: {{name: accuracy, valid: val_acc, test: acc}}
  costs: {{params: params}}
"""

SINGLE_YAML = """
name: {name}
dimensions:
  - {{name: agg, choices: [add, mean, max]}}
  - {{name: layers, choices: [1, 2, 4]}}
table:
  task: dataset
  default_kind: graph
  metric: {{name: mae, higher_is_better: false, single: mae}}
"""


def toy_score(task: str, agg: str, layers: int, act: str) -> float:
    base = {"add": 0.70, "mean": 0.72, "max": 0.66}[agg] + 0.01 * layers
    return round(base + (0.005 if act == "tanh" else 0.0) + (0.02 if task.endswith("b") else 0),
                 6)


def write_toy(tmp: Path, space_name: str, tasks: dict[str, str]) -> tuple[Path, Path]:
    """A two-metric table over every raw architecture, for tasks {name: kind}."""
    space = tmp / f"{space_name}.yaml"
    space.write_text(SPACE_YAML.format(name=space_name))
    table = tmp / f"{space_name}.csv"
    with table.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["dataset", "kind", "agg", "l_mp", "act", "val_acc", "val_acc_std", "acc",
                    "params"])
        for task, kind in tasks.items():
            for agg, layers, act in itertools.product(["add", "mean", "max"], [1, 2, 4],
                                                      ["relu", "tanh"]):
                v = toy_score(task, agg, layers, act)
                w.writerow([task, kind, agg, layers, act, v, 0.01, round(v - 0.01, 6),
                            1000 * layers])
    return space, table


GYM = {"pre_layers": [1, 2, 3], "mp_layers": [2, 4, 6, 8], "post_layers": [1, 2, 3],
       "stage": ["stack", "skipsum", "skipconcat"], "conv": ["gcn", "gat", "gin", "sage", "graph"],
       "agg": ["add", "mean", "max"], "act": ["relu", "prelu", "swish"],
       "batchnorm": ["true", "false"], "dropout": ["0", "0.3", "0.6"], "hidden": [64, 128, 256]}


def write_graphgym(path: Path, tasks: list[str], archs: int, seed: int = 0) -> None:
    """A table for the built-in `graphgym` space: `archs` random architectures per task."""
    rng = random.Random(seed)
    combos = set()
    while len(combos) < archs:
        combos.add(tuple(rng.choice(v) for v in GYM.values()))
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["dataset", "task", "l_pre", "l_mp", "l_post", "stage", "conv", "agg", "act",
                    "batchnorm", "dropout", "hidden", "val_accuracy", "accuracy", "params",
                    "latency"])
        for t in tasks:
            for c in sorted(combos):
                acc = round(rng.uniform(0.5, 0.9), 4)
                w.writerow([t, "node", *c, acc, round(acc - 0.02, 4), 1000, 0.01])

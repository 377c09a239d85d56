"""An evaluator of your own: your training function drives `mdesign refine`.

    mdesign task add --name karate-own --data builtin:karate --kind node
    PYTHONPATH=examples mdesign refine --task karate-own --budget 6 \
        --space nas-bench-graph --evaluator python:custom_evaluator:score

``score`` takes an architecture's choices (here a NAS-Bench-Graph cell: ``link``,
``op1`` .. ``op4``) and returns its validation accuracy, with the test accuracy and
parameter count beside it. The run records ``python:custom_evaluator:score`` and the hash
of this file as its evaluator, so ``mdesign refine --resume RUN_ID`` trains with the same
function (and refuses once the file changed); every result becomes evidence of the task.
``KarateEvaluator`` is the same as an Evaluator class (``python:custom_evaluator:
KarateEvaluator``), for when a training needs set-up that outlives one call. A package
can also declare either under the ``mdesign.evaluators`` entry-point group and users
then pass its name to ``--evaluator``.

Run as a script, it does the above from Python, with the first command's task.
"""

from __future__ import annotations

import sys
from functools import cache
from typing import Any

import torch
from mdesign.core.evaluation import Evaluation, PaidEvaluator
from mdesign.core.space import DesignSpace, key_of
from mdesign.models.builder import build_model
from torch_geometric.data import Data
from torch_geometric.datasets import KarateClub

EPOCHS = 60


@cache
def _karate() -> tuple[Data, DesignSpace]:
    data = KarateClub()[0]  # 34 nodes, 4 communities; shipped with PyG (no download)
    g = torch.Generator().manual_seed(0)
    order = torch.randperm(data.num_nodes, generator=g)
    split = {"train": order[:14], "val": order[14:24], "test": order[24:]}
    for name, idx in split.items():
        mask = torch.zeros(data.num_nodes, dtype=torch.bool)
        mask[idx] = True
        data[f"{name}_mask"] = mask
    return data, DesignSpace.builtin("nas-bench-graph")


def score(choices: dict[str, Any]) -> dict[str, float]:
    """Train the cell ``choices`` on Karate Club; validation accuracy at its best epoch."""
    torch.manual_seed(0)
    torch.set_num_threads(1)
    data, space = _karate()
    model = build_model(space, choices, data.num_features, 4, "node", dim=32)
    opt = torch.optim.Adam(model.parameters(), lr=0.01, weight_decay=5e-4)
    best_val, best_test = 0.0, 0.0
    for _ in range(EPOCHS):
        model.train()
        opt.zero_grad()
        out = model(data)
        torch.nn.functional.cross_entropy(out[data.train_mask], data.y[data.train_mask]).backward()
        opt.step()
        model.eval()
        with torch.no_grad():
            pred = model(data).argmax(-1)
        val = (pred[data.val_mask] == data.y[data.val_mask]).float().mean().item()
        if val > best_val:
            best_val = val
            best_test = (pred[data.test_mask] == data.y[data.test_mask]).float().mean().item()
    return {"score": best_val, "valid": best_val, "test": best_test,
            "params": float(sum(p.numel() for p in model.parameters()))}


class KarateEvaluator(PaidEvaluator):
    """``score`` as an Evaluator class: built as ``cls(task, budget, space)``."""

    def __init__(self, task: str, budget: int, space: DesignSpace) -> None:
        super().__init__(task, budget)
        self.space = space

    def can_evaluate(self, uid: str) -> bool:
        return uid.startswith(self.space.name + "/")

    def _measure(self, uid: str) -> Evaluation:
        return Evaluation(uid=uid, **score(dict(self.space.parse_key(key_of(uid)))))


def main(task: str = "karate-own", budget: int = 6) -> None:
    from mdesign.kb import KnowledgeBase
    from mdesign.refinement import RefineConfig, Refinement
    from mdesign.refinement.custom import make
    from mdesign.refinement.target import resolve
    from mdesign.tasks.store import add_task

    spec = "python:custom_evaluator:score"
    with KnowledgeBase.connect() as kb:
        add_task(kb, task, "builtin:karate", "node")
        config = RefineConfig(task=task, budget=budget, space="nas-bench-graph",
                              evaluator=spec)
        target = resolve(kb, config)
        evaluator = make(spec, task, budget, target.space)
        result = Refinement(kb, config, evaluator=evaluator, target=target).drive()
    print(f"run {result.run_id}: best {result.best.uid}")
    print(f"  validation {result.best.valid:.3f}, test {result.best.test:.3f}, "
          f"{result.spent} trainings")


if __name__ == "__main__":
    main(*sys.argv[1:2])

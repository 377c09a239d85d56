"""Training a graph hypernetwork on a task, and scoring architectures with its weights.

:func:`train_ghn`: every step samples ``archs_per_step`` architectures of the space, builds
each for the task (its feature and class counts, the trainer's width), generates its
weights with the hypernetwork (:mod:`mdesign.predictors.hypernetwork`), runs it on a batch
of the task's training data and minimises the mean cross-entropy; only the hypernetwork
learns. :func:`ghn_scores`: validation accuracy of architectures under generated weights,
with no training (a zero-cost ranking). :func:`ghn_initialise` writes generated weights
into a module, as the starting point of training; :func:`ghn_initialiser` wraps it for
training (``TrainConfig.ghn`` names the checkpoint folder, the initialiser reads it).

Generated weights run with dropout off and BatchNorm on batch statistics (the module has no
running statistics of its own yet). Link tasks are not supported.
"""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import torch
from mdesign.core.errors import InputError
from mdesign.core.space import DesignSpace
from mdesign.kb.knowledge_base import KnowledgeBase, code_version
from mdesign.models.builder import build_model
from mdesign.predictors import store
from mdesign.predictors.graph import example_graph, trace
from mdesign.predictors.hypernetwork import (
    GraphHyperNetwork,
    PlannedParameter,
    parameter_plan,
    prepare,
)
from mdesign.training.data import TaskData
from mdesign.training.trainer import resolve_device
from pydantic import BaseModel, Field
from torch import nn
from torch.func import functional_call
from torch.nn import functional as F
from torch.nn.modules.batchnorm import _BatchNorm
from torch_geometric.data import Batch, Data

Echo = Callable[[str], None]


class GHNConfig(BaseModel):
    name: str = "ghn"
    task: str
    space: str = "nas-bench-graph"
    steps: int = Field(default=300, ge=1)
    archs_per_step: int = Field(default=4, ge=1)
    batch_size: int = Field(default=64, ge=1)  # graphs per step (graph tasks)
    lr: float = Field(default=1e-3, gt=0)
    dim: int = Field(default=64, ge=4)
    block: int = Field(default=32, ge=2)
    max_distance: int = Field(default=3, ge=1)
    model_dim: int = Field(default=128, ge=2)  # the width the trainer builds (TrainConfig.dim)
    holdout: list[str] = []  # architecture keys never sampled (for benchmarks)
    seed: int = 0
    device: Literal["auto", "cpu", "cuda"] = "auto"  # auto: the GPU when there is one


class Realised:
    """An architecture built for a task: the module, its prepared graph and its plan."""

    def __init__(self, space: DesignSpace, key: str, task: TaskData, dim: int,
                 max_distance: int, device: torch.device | None = None) -> None:
        self.key = key
        self.module = build_model(space, space.parse_key(key), task.num_features,
                                  task.num_outputs, task.kind, dim=dim)
        graph = trace(self.module, (example_graph(task.num_features, task.kind),))
        self.graph: Data = prepare(graph, max_distance)
        self.plan: list[PlannedParameter] = parameter_plan(self.module, graph)
        _inference_mode(self.module)
        if device is not None:
            self.module.to(device)
            self.graph = self.graph.to(device)


def _inference_mode(module: nn.Module) -> None:
    module.eval()
    for m in module.modules():
        if isinstance(m, _BatchNorm):
            m.train()


def _check_task(task: TaskData) -> None:
    if task.kind not in ("node", "graph"):
        raise InputError(f"the hypernetwork supports node and graph tasks, not {task.kind!r}",
                         "use a node or graph classification task")


def _logits(r: Realised, params: dict[str, torch.Tensor], data: Data) -> torch.Tensor:
    return functional_call(r.module, params, (data,), strict=False)


def _task_batch(task: TaskData, split: str, size: int | None, g: random.Random,
                device: torch.device) -> tuple[Data, torch.Tensor]:
    """Inputs and the labels to score: a node task's graph and its split's labels (mask),
    or a batch of a graph task's graphs."""
    if task.kind == "node":
        d = task.graph.to(device)
        mask = {"train": d.train_mask, "val": d.val_mask, "test": d.test_mask}[split]
        return d, mask
    idx = list(task.split[split])
    if size is not None and size < len(idx):
        idx = g.sample(idx, size)
    b = Batch.from_data_list([task.graphs[i] for i in idx]).to(device)
    return b, torch.ones(b.num_graphs, dtype=torch.bool, device=device)


def train_ghn(space: DesignSpace, task: TaskData, cfg: GHNConfig,
              progress: Callable[[int, int, float], None] | None = None
              ) -> tuple[GraphHyperNetwork, dict[str, Any]]:
    """Train a hypernetwork for ``task`` over the architectures of ``space``."""
    _check_task(task)
    torch.manual_seed(cfg.seed)
    rng = random.Random(cfg.seed)
    held = set(cfg.holdout)
    keys = [k for k in space.all_keys() if k not in held]
    device = resolve_device(cfg.device)
    ghn = GraphHyperNetwork(cfg.dim, cfg.block, cfg.max_distance).to(device)
    opt = torch.optim.AdamW(ghn.parameters(), lr=cfg.lr, weight_decay=1e-5)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, cfg.steps)
    cache: dict[str, Realised] = {}
    losses: list[float] = []
    t0 = time.perf_counter()
    ghn.train()
    for step in range(cfg.steps):
        picked = rng.sample(keys, min(cfg.archs_per_step, len(keys)))
        archs = [cache.get(k) or cache.setdefault(
            k, Realised(space, k, task, cfg.model_dim, cfg.max_distance, device))
            for k in picked]
        if len(cache) > 4096:  # a bounded cache: tracing is cheap next to a step
            cache.clear()
        params = ghn.generate([a.graph for a in archs], [a.plan for a in archs])
        data, mask = _task_batch(task, "train", cfg.batch_size, rng, device)
        loss = torch.stack([F.cross_entropy(_logits(a, p, data)[mask], data.y[mask])
                            for a, p in zip(archs, params, strict=True)]).mean()
        if not torch.isfinite(loss):
            raise InputError(f"the hypernetwork's loss diverged at step {step + 1}",
                             "lower --lr")
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(ghn.parameters(), 5.0)
        opt.step()
        schedule.step()
        losses.append(loss.item())
        if progress:
            progress(step + 1, cfg.steps, loss.item())
    ghn.eval().cpu()
    tail = losses[-max(1, len(losses) // 10):]
    return ghn, {"device": device.type, "loss_first": losses[0],
                 "loss_last": sum(tail) / len(tail),
                 "train_s": round(time.perf_counter() - t0, 1), "steps": cfg.steps,
                 "archs_per_step": cfg.archs_per_step}


@torch.no_grad()
def ghn_scores(ghn: GraphHyperNetwork, space: DesignSpace, task: TaskData,
               keys: Sequence[str], split: str = "val", model_dim: int = 128,
               chunk: int = 16) -> list[float]:
    """Accuracy on ``split`` of each architecture under generated weights."""
    _check_task(task)
    device = next(ghn.parameters()).device
    ghn.eval()
    data, mask = _task_batch(task, split, None, random.Random(0), device)
    out = []
    for i in range(0, len(keys), chunk):
        archs = [Realised(space, k, task, model_dim, ghn.max_distance, device)
                 for k in keys[i:i + chunk]]
        params = ghn.generate([a.graph for a in archs], [a.plan for a in archs])
        for a, p in zip(archs, params, strict=True):
            pred = _logits(a, p, data)[mask].argmax(-1)
            out.append(float((pred == data.y[mask]).float().mean()))
    return out


@torch.no_grad()
def ghn_initialise(ghn: GraphHyperNetwork, module: nn.Module, task: TaskData) -> int:
    """Overwrite ``module``'s parameters with generated ones; returns how many tensors."""
    graph = trace(module, (example_graph(task.num_features, task.kind),))
    plan = parameter_plan(module, graph)
    params = ghn.generate([prepare(graph, ghn.max_distance)], [plan])[0]
    own = dict(module.named_parameters())
    for name, value in params.items():
        own[name].copy_(value)
    return len(params)


def _initialise_from(folder: str, module: nn.Module, task: TaskData) -> int:
    return ghn_initialise(read_ghn(folder), module, task)


def ghn_initialiser(folder: str) -> Callable[[nn.Module, TaskData], int]:
    """The initialiser that training takes (``initialise`` of
    :func:`~mdesign.training.trainer.train_architecture` and
    :class:`~mdesign.training.evaluator.TrainEvaluator`) for the hypernetwork stored in
    ``folder`` (``TrainConfig.ghn``): picklable, so that spawned and Ray workers can use
    it; each process reads the checkpoint once (:func:`read_ghn`)."""
    return functools.partial(_initialise_from, folder)


def save_ghn(kb: KnowledgeBase, ghn: GraphHyperNetwork, cfg: GHNConfig,
             metrics: dict[str, Any]) -> store.PredictorMeta:
    meta = store.PredictorMeta(name=cfg.name, type="ghn", version=code_version(),
                               created=store.now(), config=ghn.config, spaces=[cfg.space],
                               tasks=[cfg.task], metrics={**metrics,
                                                          "settings": cfg.model_dump()})
    store.save(kb, ghn, meta)
    return meta


def load_ghn(kb: KnowledgeBase, name: str) -> tuple[GraphHyperNetwork, store.PredictorMeta]:
    return store.load(kb, name, expect="ghn")


@functools.cache
def read_ghn(folder: str) -> GraphHyperNetwork:
    """A stored hypernetwork read from its folder alone (training workers have no knowledge
    base connection); cached per process."""
    path = Path(folder)
    try:
        meta = store.PredictorMeta.model_validate_json((path / "meta.json").read_text())
        if meta.type != "ghn":
            raise ValueError(f"it holds a {meta.type} predictor")
        ghn = GraphHyperNetwork(**meta.config)
        ghn.load_state_dict(torch.load(path / "model.pt", weights_only=True))
    except (OSError, ValueError, RuntimeError) as err:
        raise InputError(f"no graph hypernetwork readable at {folder} "
                         f"({str(err).splitlines()[0]})",
                         "train one with `mdesign ghn train` and give its name") from err
    return ghn.eval()

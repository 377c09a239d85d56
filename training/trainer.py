"""Train one architecture on one task, over several seeds (``train_architecture``).

For each seed: set the seed, build the model, train with Adam (cross-entropy, or binary
cross-entropy on edges and as many sampled non-edges for link prediction), evaluate on
validation every epoch, keep the epoch with the best validation score and report the test
score at that epoch, stop after ``patience`` epochs without improvement. A loss that is
not finite stops the seed as diverged; a result with any diverged seed is a failed result
(``status="failed"`` with the reason), never an exception. The result records the mean
and std over seeds, per-seed numbers, parameter count, wall time, device and the
hyper-parameters.
"""

from __future__ import annotations

import math
import platform
import statistics
import time
from collections.abc import Mapping
from typing import Any, Literal

import torch
from mdesign.core.space import DesignSpace
from mdesign.models.builder import build_model
from mdesign.training.config import TrainConfig
from mdesign.training.data import TaskData
from mdesign.training.metrics import METRICS, accuracy, roc_auc
from pydantic import BaseModel
from torch.nn import functional as F


class SeedRun(BaseModel):
    seed: int
    status: Literal["ok", "failed"]
    valid: float | None = None
    test: float | None = None
    epochs: int
    reason: str | None = None


class TrainResult(BaseModel):
    status: Literal["ok", "failed"]
    reason: str | None = None
    metric: str
    valid: float | None = None
    valid_std: float | None = None
    test: float | None = None
    test_std: float | None = None
    runs: list[SeedRun]
    params: int
    wall_s: float
    device: str
    hardware: str
    config: TrainConfig


class Diverged(Exception):
    pass


def resolve_device(name: str) -> torch.device:
    """``auto``: the GPU when there is one, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def _check(loss: torch.Tensor, epoch: int) -> None:
    if not math.isfinite(loss.item()):
        raise Diverged(f"loss {loss.item()} at epoch {epoch}")


def _run_seed(space: DesignSpace, arch: Mapping[str, Any], task: TaskData, cfg: TrainConfig,
              seed: int, device: torch.device) -> tuple[SeedRun, int]:
    torch.manual_seed(seed)
    model = build_model(space, arch, task.num_features, task.num_outputs, task.kind,
                        dim=cfg.dim, dropout=cfg.dropout)
    if cfg.ghn:
        from mdesign.predictors.ghn import ghn_initialise, read_ghn

        ghn_initialise(read_ghn(cfg.ghn), model, task)
    model = model.to(device)
    params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    step, score = _loops(model, task, cfg, device)
    best_val, best_test, since, epoch = -math.inf, math.nan, 0, 0
    try:
        for epoch in range(1, cfg.epochs + 1):
            model.train()
            step(opt, epoch)
            model.eval()
            with torch.no_grad():
                val, test = score("val"), score("test")
            if val > best_val:
                best_val, best_test, since = val, test, 0
            else:
                since += 1
                if since >= cfg.patience:
                    break
    except Diverged as exc:
        return SeedRun(seed=seed, status="failed", epochs=epoch,
                       reason=f"diverged: {exc}"), params
    return SeedRun(seed=seed, status="ok", valid=best_val, test=best_test, epochs=epoch), params


def _loops(model: torch.nn.Module, task: TaskData, cfg: TrainConfig, device: torch.device
           ) -> tuple[Any, Any]:
    """``(step(opt, epoch), score(split) -> metric)`` for the task's kind."""
    if task.kind == "node":
        d = task.graph.to(device)  # type: ignore[union-attr]

        def step(opt: torch.optim.Optimizer, epoch: int) -> None:
            opt.zero_grad()
            loss = F.cross_entropy(model(d)[d.train_mask], d.y[d.train_mask])
            _check(loss, epoch)
            loss.backward()
            opt.step()

        def score(split: str) -> float:
            mask = d.val_mask if split == "val" else d.test_mask
            return accuracy(model(d)[mask], d.y[mask])

        return step, score
    if task.kind == "graph":
        from torch_geometric.loader import DataLoader

        g = torch.Generator().manual_seed(0)
        loaders = {s: DataLoader([task.graphs[i] for i in idx], batch_size=cfg.batch_size,
                                 shuffle=(s == "train"), generator=g if s == "train" else None)
                   for s, idx in task.split.items()}

        def step(opt: torch.optim.Optimizer, epoch: int) -> None:
            for batch in loaders["train"]:
                batch = batch.to(device)
                opt.zero_grad()
                loss = F.cross_entropy(model(batch), batch.y)
                _check(loss, epoch)
                loss.backward()
                opt.step()

        def score(split: str) -> float:
            correct = total = 0
            for batch in loaders[split]:
                batch = batch.to(device)
                correct += int((model(batch).argmax(-1) == batch.y).sum())
                total += batch.num_graphs
            return correct / total if total else math.nan

        return step, score
    from torch_geometric.utils import negative_sampling

    parts = {k: v.to(device) for k, v in task.link.items()}

    def step(opt: torch.optim.Optimizer, epoch: int) -> None:
        tr = parts["train"]
        neg = negative_sampling(tr.edge_index, num_nodes=tr.num_nodes,
                                num_neg_samples=tr.edge_label_index.size(1))
        pairs = torch.cat([tr.edge_label_index, neg], dim=1)
        labels = torch.cat([torch.ones(tr.edge_label_index.size(1)),
                            torch.zeros(neg.size(1))]).to(device)
        opt.zero_grad()
        h = model.encoder(tr.x, tr.edge_index)
        logits = (h[pairs[0]] * h[pairs[1]]).sum(-1)
        loss = F.binary_cross_entropy_with_logits(logits, labels)
        _check(loss, epoch)
        loss.backward()
        opt.step()

    def score(split: str) -> float:
        part = parts["val" if split == "val" else "test"]
        return roc_auc(model(part), part.edge_label)

    return step, score


def train_architecture(space: DesignSpace, arch: Mapping[str, Any], task: TaskData,
                       config: TrainConfig | None = None) -> TrainResult:
    cfg = config or TrainConfig()
    torch.set_num_threads(cfg.threads)
    device = resolve_device(cfg.device)
    t0 = time.perf_counter()
    runs, params = [], 0
    for seed in range(cfg.first_seed, cfg.first_seed + cfg.seeds):
        run, params = _run_seed(space, arch, task, cfg, seed, device)
        runs.append(run)
    wall = time.perf_counter() - t0
    ok = [r for r in runs if r.status == "ok"]
    hardware = f"{platform.machine()} {device.type}" + (
        f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else "")
    common = {"metric": METRICS[task.kind], "runs": runs, "params": params,
              "wall_s": round(wall, 3), "device": device.type, "hardware": hardware,
              "config": cfg}
    if len(ok) < len(runs):
        failed = next(r for r in runs if r.status == "failed")
        return TrainResult(status="failed", reason=f"seed {failed.seed} {failed.reason}",
                           **common)
    valid = [r.valid for r in ok]
    test = [r.test for r in ok]
    return TrainResult(status="ok", valid=statistics.mean(valid),  # type: ignore[arg-type]
                       valid_std=statistics.pstdev(valid),  # type: ignore[arg-type]
                       test=statistics.mean(test),  # type: ignore[arg-type]
                       test_std=statistics.pstdev(test), **common)  # type: ignore[arg-type]

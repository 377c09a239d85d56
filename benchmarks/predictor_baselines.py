"""Baselines of the predictor: an MLP on the one-hot encoding of the architecture (with the
same task vector), and the zero-cost proxies of :mod:`mdesign.predictors.proxies` on a
stand-in graph of the task's sizes."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from mdesign.core.space import DesignSpace, OneHot
from mdesign.predictors.encoder import TASK_DIM
from mdesign.predictors.graph import example_graph
from mdesign.predictors.training import rank_targets
from torch import nn
from torch.nn import functional as F
from torch_geometric.data import Data


def one_hot(space: DesignSpace, keys: Sequence[str]) -> torch.Tensor:
    """:class:`~mdesign.core.space.OneHot` of the architecture keys, as a float32 tensor
    (one block per dimension, one column per choice)."""
    return torch.as_tensor(OneHot(space)(keys), dtype=torch.float32)


class OneHotMLP(nn.Module):
    def __init__(self, inputs: int, dim: int = 64, task_dim: int = 32) -> None:
        super().__init__()
        self.arch = nn.Sequential(nn.Linear(inputs, dim), nn.ReLU(), nn.Linear(dim, dim))
        self.task = nn.Sequential(nn.Linear(TASK_DIM, task_dim), nn.ReLU())
        self.head = nn.Sequential(nn.Linear(dim + task_dim, dim), nn.ReLU(), nn.Linear(dim, 1))

    def forward(self, x: torch.Tensor, tasks: torch.Tensor) -> torch.Tensor:
        z, t = torch.relu(self.arch(x)), self.task(tasks)
        pairs = torch.cat([z[:, None].expand(-1, t.size(0), -1),
                           t[None].expand(z.size(0), -1, -1)], -1)
        return self.head(pairs).squeeze(-1)


def fit_onehot(x: torch.Tensor, targets: torch.Tensor, tasks: torch.Tensor,
               epochs: int = 60, lr: float = 1e-3, seed: int = 0,
               model: OneHotMLP | None = None) -> OneHotMLP:
    """Regression of per-task percentiles ``targets`` [N, T] (NaN = unknown)."""
    torch.manual_seed(seed)
    model = model or OneHotMLP(x.size(1))
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=1e-5)
    g = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        for idx in torch.randperm(x.size(0), generator=g).split(128):
            pred, y = model(x[idx], tasks), targets[idx]
            known = ~torch.isnan(y)
            loss = F.mse_loss(pred[known], y[known])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model


def finetune_onehot(model: OneHotMLP, x: torch.Tensor, scores: torch.Tensor,
                    task: torch.Tensor, steps: int = 200, lr: float = 1e-3) -> OneHotMLP:
    target = rank_targets(scores[:, None].double()).float()
    opt = torch.optim.Adam([*model.task.parameters(), *model.head.parameters()], lr=lr)
    for _ in range(steps):
        loss = F.mse_loss(model(x, task[None]), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model


def stand_in_graph(features: int, classes: int, nodes: int = 200, seed: int = 0) -> Data:
    """A random graph with a task's feature and class counts: the zero-cost proxies need an
    input batch, and the benchmark datasets themselves are not available offline."""
    g = torch.Generator().manual_seed(seed)
    data = example_graph(features, "node", nodes=nodes, generator=g)
    data.y = torch.randint(0, classes, (nodes,), generator=g)  # drawn after the graph
    return data

"""The architecture encoder and the task-conditioned performance predictor.

:class:`ArchitectureEncoder` is a stack of k-GNN layers (``GraphConv``, Morris et al.) run
over the computation graph in both directions, so that a node sees what feeds it and what
it feeds:

.. math::
    h_i^{(l+1)} = \\mathrm{ReLU}\\Big(W_0 h_i^{(l)} + W_1 \\sum_{j \\to i} h_j^{(l)}
                  + W_2 \\sum_{i \\to j} h_j^{(l)}\\Big)

then mean pooling over nodes gives the architecture embedding ``z``.

:class:`PerformancePredictor` scores an architecture for a task from ``z`` and the task
vector ``t`` (:func:`task_vector`, the dataset's meta-features): ``f(z, g(t))``, two small
MLPs, so one model predicts for every task, including tasks it never saw.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
from mdesign.predictors.graph import FEATURES
from torch import nn
from torch_geometric import nn as gnn

# Meta-features the task vector reads (the names of the NAS-Bench-Graph feature table and
# of mdesign.tasks.features); a missing one is 0 with its "missing" flag set.
TASK_FEATURES = ("nodes", "edges", "avg_degree", "density", "degree_std", "max_degree",
                 "edge_homophily", "features", "classes", "graphs")
KINDS = ("node", "graph", "link")
TASK_DIM = 2 * len(TASK_FEATURES) + len(KINDS)


def task_vector(features: Mapping[str, float], kind: str) -> torch.Tensor:
    """``sign(x) log1p(|x|) / 10`` per meta-feature, a presence flag each, and the kind."""
    values, present = [], []
    for name in TASK_FEATURES:
        v = features.get(name)
        ok = v is not None and math.isfinite(v)
        values.append(math.copysign(math.log1p(abs(v)), v) / 10 if ok else 0.0)
        present.append(1.0 if ok else 0.0)
    kinds = [1.0 if kind == k else 0.0 for k in KINDS]
    return torch.tensor(values + present + kinds)


class ArchitectureEncoder(nn.Module):
    def __init__(self, dim: int = 64, layers: int = 3) -> None:
        super().__init__()
        self.dim = dim
        self.inp = nn.Linear(FEATURES, dim)
        self.forward_convs = nn.ModuleList(gnn.GraphConv(dim, dim) for _ in range(layers))
        self.backward_convs = nn.ModuleList(gnn.GraphConv(dim, dim, bias=False)
                                            for _ in range(layers))
        self.norms = nn.ModuleList(nn.LayerNorm(dim) for _ in range(layers))

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor,
                batch: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.inp(x))
        back = edge_index.flip(0)
        for fwd, bwd, norm in zip(self.forward_convs, self.backward_convs, self.norms,
                                  strict=True):
            # both layers carry a root weight: their sum is W0
            h = norm(torch.relu(fwd(h, edge_index) + bwd(h, back)))
        return gnn.global_mean_pool(h, batch)


class PerformancePredictor(nn.Module):
    """``predict(graphs, tasks) -> [architectures, tasks]`` scores (higher is better)."""

    def __init__(self, dim: int = 64, layers: int = 3, task_dim: int = 32) -> None:
        super().__init__()
        self.encoder = ArchitectureEncoder(dim, layers)
        self.task = nn.Sequential(nn.Linear(TASK_DIM, task_dim), nn.ReLU(),
                                  nn.Linear(task_dim, task_dim))
        self.head = nn.Sequential(nn.Linear(dim + task_dim, dim), nn.ReLU(),
                                  nn.Linear(dim, 1))
        self.projection = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, dim))
        self.config = {"dim": dim, "layers": layers, "task_dim": task_dim}

    def score(self, z: torch.Tensor, tasks: torch.Tensor) -> torch.Tensor:
        """Scores of embeddings ``z`` [A, dim] for task vectors ``tasks`` [T, TASK_DIM]."""
        t = self.task(tasks)
        pairs = torch.cat([z[:, None, :].expand(-1, t.size(0), -1),
                           t[None, :, :].expand(z.size(0), -1, -1)], dim=-1)
        return self.head(pairs).squeeze(-1)

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor, batch: torch.Tensor,
                tasks: torch.Tensor) -> torch.Tensor:
        return self.score(self.encoder(x, edge_index, batch), tasks)

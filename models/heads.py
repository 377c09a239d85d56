"""Task heads on top of node embeddings ``H`` (``[num_nodes, dim]``).

* node classification: ``Y = H W`` per node;
* graph classification: ``Y = pool(H) W`` with ``pool`` a global add, mean or max over
  each graph's nodes (``data.batch``);
* link prediction: ``y_uv = <h_u, h_v>`` for each pair of ``data.edge_label_index`` (or
  ``edge_index``), a logit of the edge's existence.
"""

from __future__ import annotations

import torch
from mdesign.core.errors import InputError
from torch import nn
from torch_geometric import nn as gnn
from torch_geometric.data import Data

KINDS = ("node", "graph", "link")


class GlobalPool(nn.Module):
    """``global_{add,mean,max}_pool`` as a module: one operator when the model is traced
    (:mod:`mdesign.predictors.graph`), since its scatter size cannot be traced."""

    def __init__(self, reduce: str = "mean") -> None:
        super().__init__()
        self.reduce = reduce
        self.fn = {"add": gnn.global_add_pool, "mean": gnn.global_mean_pool,
                   "max": gnn.global_max_pool}[reduce]

    def forward(self, h: torch.Tensor, batch: torch.Tensor) -> torch.Tensor:
        return self.fn(h, batch)


class Head(nn.Module):
    def __init__(self, kind: str, dim: int, out_dim: int, pool: str = "mean") -> None:
        super().__init__()
        if kind not in KINDS:
            raise InputError(f"unknown task kind {kind!r}", f"use one of {', '.join(KINDS)}")
        self.kind = kind
        self.pool = GlobalPool(pool)
        self.out = nn.Identity() if kind == "link" else nn.Linear(dim, out_dim)

    def forward(self, h: torch.Tensor, data: Data) -> torch.Tensor:
        if self.kind == "node":
            return self.out(h)
        if self.kind == "graph":
            batch = data.batch if getattr(data, "batch", None) is not None else \
                torch.zeros(h.size(0), dtype=torch.long, device=h.device)
            return self.out(self.pool(h, batch))
        pairs = getattr(data, "edge_label_index", None)
        if pairs is None:
            pairs = data.edge_index
        return (h[pairs[0]] * h[pairs[1]]).sum(dim=-1)


class GraphModel(nn.Module):
    """An encoder (``(x, edge_index) -> H``) with a head: ``model(data) -> predictions``."""

    def __init__(self, encoder: nn.Module, head: Head) -> None:
        super().__init__()
        self.encoder, self.head = encoder, head

    def forward(self, data: Data) -> torch.Tensor:
        return self.head(self.encoder(data.x, data.edge_index), data)

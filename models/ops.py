"""Message-passing operations by name, each ``(x, edge_index) -> x`` at a fixed width.

=========  =====================================================================
name       layer (PyTorch Geometric)
=========  =====================================================================
``gcn``    ``GCNConv``: ``X' = D^-1/2 (A + I) D^-1/2 X W``
``gat``    ``GATConv``, 2 heads of ``dim / 2`` concatenated (NAS-Bench-Graph: 2 heads)
``gin``    ``GINConv`` with a 2-layer MLP: ``x_i' = MLP((1 + eps) x_i + sum_j x_j)``
``cheb``   ``ChebConv``, K = 2 (Chebyshev polynomials of the scaled Laplacian)
``sage``   ``SAGEConv``, mean aggregation: ``x_i' = W1 x_i + W2 mean_j x_j``
``arma``   ``ARMAConv``, 1 stack, 1 layer
``graph``  ``GraphConv`` (the k-GNN of Morris et al.): ``x_i' = W1 x_i + W2 sum_j x_j``
``fc``     ``Linear``: no message passing
``skip``   identity
=========  =====================================================================

``aggr`` (``add``, ``mean``, ``max``) is passed to the layers that take one (GraphGym's
aggregation dimension); GCN, GAT, Cheb and ARMA keep their defining normalisation.
"""

from __future__ import annotations

import torch
from mdesign.core.errors import InputError
from torch import nn
from torch_geometric import nn as gnn

OPS = ("gat", "gcn", "gin", "cheb", "sage", "arma", "graph", "fc", "skip")


class Op(nn.Module):
    """One named operation; ``fc`` and ``skip`` ignore the graph."""

    def __init__(self, name: str, in_dim: int, out_dim: int, aggr: str | None = None) -> None:
        super().__init__()
        self.name = name
        self.graph = name not in ("fc", "skip")
        if name == "skip" and in_dim != out_dim:
            raise InputError(f"a skip operation cannot change width {in_dim} -> {out_dim}",
                             "put a pre-process layer before it")
        kw = {} if aggr is None else {"aggr": aggr}
        if name == "gcn":
            self.layer: nn.Module = gnn.GCNConv(in_dim, out_dim)
        elif name == "gat":
            if out_dim % 2:
                raise InputError(f"gat needs an even width (got {out_dim})", "use an even dim")
            self.layer = gnn.GATConv(in_dim, out_dim // 2, heads=2)
        elif name == "gin":
            mlp = nn.Sequential(nn.Linear(in_dim, out_dim), nn.ReLU(), nn.Linear(out_dim, out_dim))
            self.layer = gnn.GINConv(mlp, **kw)
        elif name == "cheb":
            self.layer = gnn.ChebConv(in_dim, out_dim, K=2)
        elif name == "sage":
            self.layer = gnn.SAGEConv(in_dim, out_dim, **({"aggr": aggr} if aggr else {}))
        elif name == "arma":
            self.layer = gnn.ARMAConv(in_dim, out_dim)
        elif name == "graph":
            self.layer = gnn.GraphConv(in_dim, out_dim, **({"aggr": aggr} if aggr else {}))
        elif name == "fc":
            self.layer = nn.Linear(in_dim, out_dim)
        elif name == "skip":
            self.layer = nn.Identity()
        else:
            raise InputError(f"unknown operation {name!r}", f"use one of {', '.join(OPS)}")

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        return self.layer(x, edge_index) if self.graph else self.layer(x)

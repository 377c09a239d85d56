"""Augmentations of computation graphs for contrastive pretraining (two views per graph).

Both keep a graph valid: the same nodes with finite features, edges between existing nodes
that still point forward (a DAG in topological order), no duplicates.

- :func:`mask_ops`: each node's operator one-hot is cleared with probability ``p`` (its
  shape features stay), so the encoder must infer an operator from its context.
- :func:`drop_edges`: each edge is dropped with probability ``p``; edges out of the input
  node are kept so that no view loses its input entirely.
"""

from __future__ import annotations

import torch
from mdesign.predictors.graph import OP_VOCAB
from torch_geometric.data import Data


def mask_ops(data: Data, p: float, generator: torch.Generator) -> Data:
    x = data.x.clone()
    masked = torch.rand(x.size(0), generator=generator) < p
    x[masked, : len(OP_VOCAB)] = 0.0
    return Data(x=x, edge_index=data.edge_index, num_nodes=data.num_nodes)


def drop_edges(data: Data, p: float, generator: torch.Generator) -> Data:
    ei = data.edge_index
    keep = (torch.rand(ei.size(1), generator=generator) >= p) | (ei[0] == 0)
    return Data(x=data.x, edge_index=ei[:, keep], num_nodes=data.num_nodes)


def view(data: Data, generator: torch.Generator, p_mask: float = 0.2,
         p_drop: float = 0.2) -> Data:
    """One random view: operators masked, then edges dropped."""
    return drop_edges(mask_ops(data, p_mask, generator), p_drop, generator)

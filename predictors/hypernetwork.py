"""A GHN-2-style graph hypernetwork: the weights of an architecture from its computation
graph (:mod:`mdesign.predictors.graph`), without training the architecture.

**Propagation** (Knyazev et al., 2021). Node states start from the node features
(operator one-hot and shapes), :math:`h_v = W_0 x_v`. One round visits the nodes in
topological order, then in reverse order over the reversed edges. A node's message sums
its in-neighbours at forward distance :math:`s \\le s_{max}` (its real inputs, ``s = 1``,
and "virtual edges" to the nodes farther up), scaled by the distance,

.. math::
    m_v = \\sum_{u:\\, s(u, v) = 1} \\mathrm{MLP}(h_u)
        + \\sum_{u:\\, 1 < s(u, v) \\le s_{max}} \\frac{1}{s(u, v)} \\mathrm{MLP}_{sp}(h_u),
    \\qquad h_v \\leftarrow \\mathrm{LayerNorm}\\big(\\mathrm{GRU}(m_v, h_v)\\big).

Nodes of the same depth (longest path from an input, :func:`schedule`) have no path
between them, so they update together; the visit is the same as node by node.

**Decoding.** Each parameter tensor of the module belongs to the node that calls its
submodule (``ComputationGraph.targets``). From the node's final state and an embedding of
the parameter's local name (``lin.weight``, ``att_src``, ...; hashed into ``slots``), one
shared MLP emits a ``block x block`` matrix, tiled and cut to the tensor's shape viewed as
``[prod(shape[:-1]), shape[-1]]`` (GHN-2's tiling). Weights are standardised and scaled by
:math:`1 / \\sqrt{\\text{fan-in}}` times a learned per-slot gain, so activations keep their
size whatever the width; biases are :math:`0.1 \\tanh(\\cdot)`; the 1-D scales of
normalisation layers are :math:`1 + 0.1 \\tanh(\\cdot)`.
"""

from __future__ import annotations

import math
import zlib
from collections import deque
from dataclasses import dataclass

import torch
from mdesign.core.errors import InputError
from mdesign.predictors.graph import FEATURES, ComputationGraph
from torch import nn
from torch_geometric.data import Batch, Data


def schedule(edge_index: torch.Tensor, num_nodes: int) -> torch.Tensor:
    """Depth of every node: the length of the longest path from a node without inputs.
    Visiting depths in increasing order is a topological order."""
    depth = torch.zeros(num_nodes, dtype=torch.long)
    for s, d in sorted(edge_index.t().tolist(), key=lambda e: e[1]):
        # edges i -> j have i < j (trace order), so sources are final when j is reached
        depth[d] = max(int(depth[d]), int(depth[s]) + 1)
    return depth


def reverse_schedule(edge_index: torch.Tensor, num_nodes: int) -> torch.Tensor:
    """Depth over the reversed edges (longest path to a node without outputs)."""
    return schedule(num_nodes - 1 - edge_index.flip(0), num_nodes).flip(0)


def distances(edge_index: torch.Tensor, num_nodes: int,
              max_distance: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Pairs ``(u, v)`` with a forward shortest path ``u -> v`` of ``s <= max_distance``
    edges, and ``s``: the real edges (``s = 1``) and GHN-2's virtual edges."""
    out: list[list[int]] = [[] for _ in range(num_nodes)]
    for s, d in edge_index.t().tolist():
        out[s].append(d)
    pairs, dist = [], []
    for u in range(num_nodes):
        seen = {u: 0}
        todo = deque([u])
        while todo:
            a = todo.popleft()
            if seen[a] == max_distance:
                continue
            for b in out[a]:
                if b not in seen:
                    seen[b] = seen[a] + 1
                    todo.append(b)
        for v, s in seen.items():
            if s > 0:
                pairs.append((u, v))
                dist.append(s)
    ei = torch.tensor(pairs, dtype=torch.long).t().reshape(2, -1)
    return ei, torch.tensor(dist, dtype=torch.float)


def prepare(graph: ComputationGraph, max_distance: int = 3) -> Data:
    """A graph with what propagation needs: features, depths and (virtual) edges."""
    data = graph.to_data()
    data.depth = schedule(data.edge_index, data.num_nodes)
    data.rdepth = reverse_schedule(data.edge_index, data.num_nodes)
    data.vedge_index, data.vdist = distances(data.edge_index, data.num_nodes, max_distance)
    return data


SLOTS = 256  # hashed vocabulary of parameter local names


@dataclass(frozen=True)
class PlannedParameter:
    name: str               # the parameter's name in the module
    node: int               # the graph node it belongs to
    slot: int               # hashed local name
    shape: tuple[int, ...]
    kind: str               # "weight", "bias" or "scale"


def parameter_plan(module: nn.Module, graph: ComputationGraph) -> list[PlannedParameter]:
    """Every trainable parameter of ``module`` with the node it belongs to. Raises
    :class:`InputError` when one belongs to no node (the hypernetwork could not emit it)."""
    if not graph.targets:
        raise InputError("the computation graph carries no module targets",
                         "trace it again with this version (mdesign.predictors.graph.trace)")
    owner: dict[str, tuple[int, str]] = {}
    for i, t in enumerate(graph.targets):
        if not t:
            continue
        if graph.ops[i] == "attr":
            owner[t] = (i, t.rsplit(".", 1)[-1])
            continue
        sub = module.get_submodule(t)
        for local, _ in sub.named_parameters():
            owner[f"{t}.{local}"] = (i, local)
    plan = []
    for name, p in module.named_parameters():
        if not p.requires_grad:
            continue
        if name not in owner:
            raise InputError(f"parameter {name!r} of {type(module).__name__} belongs to no "
                             "node of its computation graph",
                             "trace the module that owns it (a leaf or attribute access)")
        node, local = owner[name]
        kind = "bias" if local.endswith("bias") else "scale" if p.dim() == 1 else "weight"
        plan.append(PlannedParameter(name, node, zlib.crc32(local.encode()) % SLOTS,
                                     tuple(p.shape), kind))
    return plan


class GraphHyperNetwork(nn.Module):
    """``generate(graphs, plans) -> [{parameter name: tensor}]``, one dict per graph."""

    def __init__(self, dim: int = 64, block: int = 32, max_distance: int = 3,
                 rounds: int = 1) -> None:
        super().__init__()
        self.dim, self.block, self.max_distance, self.rounds = dim, block, max_distance, rounds
        self.embed = nn.Linear(FEATURES, dim)
        self.message = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, dim))
        self.virtual = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, dim))
        self.gru = nn.GRUCell(dim, dim)
        self.norm = nn.LayerNorm(dim)
        self.slot = nn.Embedding(SLOTS, dim)
        self.decoder = nn.Sequential(nn.Linear(dim, 2 * dim), nn.ReLU(),
                                     nn.Linear(2 * dim, block * block))
        self.gain = nn.Embedding(SLOTS, 1)
        nn.init.zeros_(self.gain.weight)
        self.config = {"dim": dim, "block": block, "max_distance": max_distance,
                       "rounds": rounds}

    def _sweep(self, h: torch.Tensor, depth: torch.Tensor, src: torch.Tensor,
               dst: torch.Tensor, dist: torch.Tensor) -> torch.Tensor:
        near = (dist == 1)[:, None]
        for level in range(int(depth.max()) + 1):
            nodes = (depth == level).nonzero().flatten()
            into = torch.isin(dst, nodes)
            s, d, w, n = src[into], dst[into], dist[into, None], near[into]
            msg = torch.where(n, self.message(h[s]), self.virtual(h[s]) / w)
            m = torch.zeros_like(h).index_add(0, d, msg)[nodes]
            h = h.index_copy(0, nodes, self.norm(self.gru(m, h[nodes])))
        return h

    def states(self, batch: Batch) -> torch.Tensor:
        """Final node states [nodes, dim] of a batch of :func:`prepare` graphs."""
        h = self.embed(batch.x)
        src, dst = batch.vedge_index
        for _ in range(self.rounds):
            h = self._sweep(h, batch.depth, src, dst, batch.vdist)
            h = self._sweep(h, batch.rdepth, dst, src, batch.vdist)
        return h

    def decode(self, h: torch.Tensor, plans: list[list[PlannedParameter]],
               offsets: list[int]) -> list[dict[str, torch.Tensor]]:
        flat = [(g, p) for g, plan in enumerate(plans) for p in plan]
        nodes = torch.tensor([offsets[g] + p.node for g, p in flat], dtype=torch.long,
                             device=h.device)
        slots = torch.tensor([p.slot for _, p in flat], dtype=torch.long, device=h.device)
        blocks = self.decoder(h[nodes] + self.slot(slots)).view(-1, self.block, self.block)
        gains = self.gain(slots)[:, 0]
        out: list[dict[str, torch.Tensor]] = [{} for _ in plans]
        for k, (g, p) in enumerate(flat):
            out[g][p.name] = self._shape(blocks[k], p, gains[k])
        return out

    def _shape(self, block: torch.Tensor, p: PlannedParameter,
               gain: torch.Tensor) -> torch.Tensor:
        cols = p.shape[-1]
        rows = math.prod(p.shape[:-1]) if len(p.shape) > 1 else 1
        if p.kind != "weight":
            v = block[0].repeat(math.ceil(cols / self.block))[:cols]
            v = 0.1 * torch.tanh(v)
            return (v if p.kind == "bias" else 1 + v).view(p.shape)
        w = block.repeat(math.ceil(rows / self.block), math.ceil(cols / self.block))
        w = w[:rows, :cols]
        w = (w - w.mean()) / (w.std() + 1e-5) if w.numel() > 1 else w
        return (w * torch.exp(gain) / math.sqrt(cols)).view(p.shape)

    def generate(self, graphs: list[Data],
                 plans: list[list[PlannedParameter]]) -> list[dict[str, torch.Tensor]]:
        batch = Batch.from_data_list(graphs)
        offsets = batch.ptr[:-1].tolist()
        return self.decode(self.states(batch), plans, offsets)

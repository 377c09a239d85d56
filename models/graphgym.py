"""A GraphGym-style encoder (You, Ying, Leskovec, NeurIPS 2020) from one choice per
dimension of a product space (``spaces/graphgym.yaml``)::

    h = MLP_pre(x)                       pre_layers Linear + act (+ batchnorm, dropout)
    for l in 1..mp_layers:               message passing with `conv` and `agg`
        m = dropout(act(bn(conv(h, A))))
        h = m              (stage stack)
          | h + m          (stage skipsum)
          | [h || m]       (stage skipconcat: the width grows by `hidden` each layer)
    H = MLP_post(h)                      post_layers - 1 Linear + act; the head is the last

``act`` is ReLU, PReLU or Swish (SiLU); ``batchnorm`` toggles BatchNorm after every layer;
``dropout`` and ``hidden`` are dimensions of the space, so nothing is fixed here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from mdesign.core.errors import InputError
from mdesign.models.ops import Op
from torch import nn

DIMENSIONS = ("pre_layers", "mp_layers", "post_layers", "stage", "conv", "agg", "act",
              "batchnorm", "dropout", "hidden")
ACTS = {"relu": nn.ReLU, "prelu": nn.PReLU, "swish": nn.SiLU}
STAGES = ("stack", "skipsum", "skipconcat")


def _flag(v: Any) -> bool:
    return v if isinstance(v, bool) else str(v).lower() == "true"


class _Block(nn.Module):
    def __init__(self, layer: nn.Module, dim: int, act: str, bn: bool, dropout: float) -> None:
        super().__init__()
        self.layer = layer
        self.bn = nn.BatchNorm1d(dim) if bn else nn.Identity()
        self.act = ACTS[act]()
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor | None = None) -> torch.Tensor:
        h = self.layer(x, edge_index) if edge_index is not None else self.layer(x)
        return self.dropout(self.act(self.bn(h)))


class GraphGymEncoder(nn.Module):
    def __init__(self, arch: Mapping[str, Any], in_dim: int) -> None:
        super().__init__()
        missing = [d for d in DIMENSIONS if d not in arch]
        if missing:
            raise InputError(f"a GraphGym architecture needs {', '.join(missing)}",
                             "give every dimension of spaces/graphgym.yaml")
        if arch["stage"] not in STAGES or arch["act"] not in ACTS:
            raise InputError(f"unknown stage {arch['stage']!r} or act {arch['act']!r}",
                             f"stage in {STAGES}, act in {tuple(ACTS)}")
        dim, act, drop = int(arch["hidden"]), str(arch["act"]), float(arch["dropout"])
        bn = _flag(arch["batchnorm"])
        self.stage = str(arch["stage"])
        self.pre = nn.ModuleList()
        width = in_dim
        for _ in range(int(arch["pre_layers"])):
            self.pre.append(_Block(nn.Linear(width, dim), dim, act, bn, drop))
            width = dim
        self.mp = nn.ModuleList()
        for _ in range(int(arch["mp_layers"])):
            conv = Op(str(arch["conv"]), width, dim, aggr=str(arch["agg"]))
            self.mp.append(_Block(conv, dim, act, bn, drop))
            width = width + dim if self.stage == "skipconcat" else dim
        self.post = nn.ModuleList()
        for _ in range(int(arch["post_layers"]) - 1):
            self.post.append(_Block(nn.Linear(width, dim), dim, act, bn, drop))
            width = dim
        self.out_dim = width

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        for block in self.pre:
            x = block(x)
        for block in self.mp:
            m = block(x, edge_index)
            x = x + m if self.stage == "skipsum" else \
                torch.cat([x, m], dim=-1) if self.stage == "skipconcat" else m
        for block in self.post:
            x = block(x)
        return x

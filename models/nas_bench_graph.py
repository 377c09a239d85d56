"""The NAS-Bench-Graph cell (Qin et al., NeurIPS 2022 Datasets and Benchmarks) as a module.

An architecture is a link pattern ``l_1 l_2 l_3 l_4`` and one operation per computing
node. Node ``i`` reads the output of node ``l_i`` (0 is the cell input)::

    h_0 = ReLU(x W_pre)                              pre-process to the hidden width
    h_i = act(op_i(dropout(h_{l_i}), A))             i = 1..4 (act = ReLU; none for skip)
    H   = sum of h_i over the leaves                 nodes no other node reads

followed by the task head. Hyper-parameters (see docs/models.md): hidden width 128,
dropout 0.5. The benchmark's own runs tuned width (64/128/256), dropout (0-0.8), learning
rate and epochs per dataset (its ``random_hp`` ranges); these are fixed mid-range values.
Unlike the benchmark, the cell always starts from a pre-process layer, so that ``skip``
on the input needs no special case; parameter counts therefore differ from its table.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from mdesign.core.errors import InputError
from mdesign.models.ops import OPS, Op
from torch import nn


class NasBenchGraphCell(nn.Module):
    def __init__(self, link: str | Sequence[int], ops: Sequence[str], in_dim: int,
                 dim: int = 128, dropout: float = 0.5) -> None:
        super().__init__()
        fathers = [int(c) for c in link]
        if len(fathers) != 4 or len(ops) != 4 or any(not 0 <= f <= i
                                                    for i, f in enumerate(fathers)):
            raise InputError(f"not a NAS-Bench-Graph cell: link {link!r}, ops {list(ops)}",
                             "give 4 links (node i reads node 0..i-1, 0 = input) and 4 ops")
        for op in ops:
            if op not in OPS:
                raise InputError(f"unknown operation {op!r}", f"use one of {', '.join(OPS)}")
        self.fathers = fathers
        self.pre = nn.Linear(in_dim, dim)
        self.ops = nn.ModuleList(Op(op, dim, dim) for op in ops)
        self.leaves = [i for i in range(4) if i + 1 not in fathers]
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        states = [torch.relu(self.pre(x))]
        for op, father in zip(self.ops, self.fathers, strict=True):
            h = op(self.dropout(states[father]), edge_index)
            states.append(h if op.name == "skip" else torch.relu(h))
        return torch.stack([states[i + 1] for i in self.leaves]).sum(dim=0)

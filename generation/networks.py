"""The score network and the noise-aware performance predictor: transformers over the rows
of an architecture matrix, with attention masked by the architecture's graph.

One layer, for row states :math:`h_i` and the mask :math:`M` of
:meth:`~mdesign.generation.encoding.ArchitectureMatrix.attention_mask`:

.. math::
    a_{ij} = \\operatorname{softmax}_{j : M_{ij}}
        \\frac{(W_q \\bar h_i)^\\top (W_k \\bar h_j)}{\\sqrt{d_h}}, \\quad
    h_i \\leftarrow h_i + W_o \\sum_j a_{ij} W_v \\bar h_j, \\quad
    h_i \\leftarrow h_i + \\mathrm{MLP}(\\mathrm{LN}(h_i)),

with :math:`\\bar h = \\mathrm{LN}(h)` and several heads. The input of row :math:`i` is
:math:`W_x X_{t,i} + p_i + e(t)`: a learned position embedding per row and a Gaussian
Fourier embedding of :math:`\\log\\sigma(t)`.

:class:`ScoreNetwork` outputs :math:`s_\\theta(X_t, t) = F_\\theta(X_t, t) / \\sigma(t)`
(the NCSN parametrisation, so that denoising score matching has the same scale at every
noise level). :class:`NoisyPredictor` outputs a score of the clean architecture on a task,
:math:`f_\\phi(X_t, t, \\tau)`, from the mean of the row states and the task vector
:math:`\\tau`.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class FourierTime(nn.Module):
    """Gaussian Fourier features of a scalar (fixed random frequencies), then an MLP."""

    def __init__(self, dim: int, scale: float = 4.0) -> None:
        super().__init__()
        self.register_buffer("freq", torch.randn(dim // 2) * scale)
        self.mlp = nn.Sequential(nn.Linear(2 * (dim // 2), dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, s: torch.Tensor) -> torch.Tensor:
        z = 2 * math.pi * s[:, None] * self.freq[None, :]
        return self.mlp(torch.cat([z.sin(), z.cos()], -1))


class MaskedAttentionLayer(nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.SiLU(), nn.Linear(2 * dim, dim))

    def forward(self, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, r, d = h.shape
        q, k, v = self.qkv(self.norm1(h)).view(b, r, 3, self.heads, d // self.heads).unbind(2)
        logits = torch.einsum("bihd,bjhd->bhij", q, k) / math.sqrt(d // self.heads)
        logits = logits.masked_fill(~mask[:, None], float("-inf"))
        mixed = torch.einsum("bhij,bjhd->bihd", logits.softmax(-1), v).reshape(b, r, d)
        h = h + self.out(mixed)
        return h + self.mlp(self.norm2(h))


class MatrixTransformer(nn.Module):
    """Row states of a noisy architecture matrix (the trunk of both networks)."""

    def __init__(self, rows: int, columns: int, dim: int = 64, layers: int = 3,
                 heads: int = 4) -> None:
        super().__init__()
        self.inp = nn.Linear(columns, dim)
        self.position = nn.Parameter(torch.randn(rows, dim) * 0.02)
        self.time = FourierTime(dim)
        self.layers = nn.ModuleList(MaskedAttentionLayer(dim, heads) for _ in range(layers))
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor, log_sigma: torch.Tensor,
                mask: torch.Tensor) -> torch.Tensor:
        h = self.inp(x) + self.position[None] + self.time(log_sigma)[:, None, :]
        for layer in self.layers:
            h = layer(h, mask)
        return self.norm(h)


class ScoreNetwork(nn.Module):
    def __init__(self, rows: int, columns: int, dim: int = 64, layers: int = 3,
                 heads: int = 4) -> None:
        super().__init__()
        self.config = {"rows": rows, "columns": columns, "dim": dim, "layers": layers,
                       "heads": heads}
        self.trunk = MatrixTransformer(rows, columns, dim, layers, heads)
        self.head = nn.Linear(dim, columns)

    def forward(self, x: torch.Tensor, log_sigma: torch.Tensor, sigma: torch.Tensor,
                mask: torch.Tensor) -> torch.Tensor:
        return self.head(self.trunk(x, log_sigma, mask)) / sigma.view(-1, 1, 1)


class NoisyPredictor(nn.Module):
    def __init__(self, rows: int, columns: int, task_dim: int, dim: int = 64,
                 layers: int = 2, heads: int = 4) -> None:
        super().__init__()
        self.config = {"rows": rows, "columns": columns, "task_dim": task_dim, "dim": dim,
                       "layers": layers, "heads": heads}
        self.trunk = MatrixTransformer(rows, columns, dim, layers, heads)
        self.task = nn.Sequential(nn.Linear(task_dim, dim), nn.SiLU(), nn.Linear(dim, dim))
        self.head = nn.Sequential(nn.Linear(3 * dim, dim), nn.SiLU(), nn.Linear(dim, 1))

    def forward(self, x: torch.Tensor, log_sigma: torch.Tensor, mask: torch.Tensor,
                task: torch.Tensor) -> torch.Tensor:
        h = self.trunk(x, log_sigma, mask).mean(1)
        z = self.task(task)
        return self.head(torch.cat([h, z, h * z], -1))[:, 0]

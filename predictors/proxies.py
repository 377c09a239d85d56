"""Zero-cost proxies: scores of an untrained network, the baselines a predictor must beat.

Each takes a freshly initialised model and one graph batch (``data`` with labels ``y``),
and returns a number meant to grow with the trained accuracy:

- ``params``: the parameter count.
- ``synflow`` (Tanaka et al. 2020): with every weight replaced by its absolute value and
  an all-ones input, ``R = sum(f(1))`` and the score is
  :math:`\\sum_\\theta |\\theta \\odot \\partial R / \\partial \\theta|` (computed in float64).
- ``grad_norm`` (Abdelfattah et al. 2021): :math:`\\sum_\\theta \\|\\partial L / \\partial
  \\theta\\|_2` of the cross-entropy loss on the batch.
- ``jacov`` (Mellor et al. 2021): with :math:`J` the gradients of each output row's sum
  with respect to its own input row (``rows`` sampled nodes), :math:`\\Sigma` the
  correlation matrix of the rows of :math:`J` and :math:`\\lambda` its eigenvalues,
  :math:`-\\sum_i \\log(\\lambda_i + k) + 1 / (\\lambda_i + k)`, ``k = 1e-5``.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F
from torch_geometric.data import Data

PROXIES = ("synflow", "jacov", "grad_norm", "params")


def params(model: nn.Module, data: Data) -> float:
    return float(sum(p.numel() for p in model.parameters()))


def synflow(model: nn.Module, data: Data) -> float:
    m = copy.deepcopy(model).double().eval()
    with torch.no_grad():
        for p in m.parameters():
            p.abs_()
    ones = data.clone()
    ones.x = torch.ones_like(data.x, dtype=torch.float64)
    m.zero_grad()
    m(ones).sum().backward()
    total = sum(float((p.detach() * p.grad).abs().sum())
                for p in m.parameters() if p.grad is not None)
    return math.log(total) if total > 0 else float("-inf")


def grad_norm(model: nn.Module, data: Data) -> float:
    m = copy.deepcopy(model).train()
    m.zero_grad()
    F.cross_entropy(m(data), data.y).backward()
    return sum(float(p.grad.norm()) for p in m.parameters() if p.grad is not None)


def jacov(model: nn.Module, data: Data, rows: int = 64, seed: int = 0) -> float:
    m = copy.deepcopy(model).eval()
    x = data.x.clone().requires_grad_(True)
    d = data.clone()
    d.x = x
    out = m(d)
    pick = torch.randperm(x.size(0), generator=torch.Generator().manual_seed(seed))[:rows]
    out[pick].sum().backward()
    jac = x.grad[pick]
    jac = jac - jac.mean(dim=1, keepdim=True)
    norm = jac.norm(dim=1, keepdim=True).clamp_min(1e-12)
    corr = (jac / norm) @ (jac / norm).t()
    eig = torch.linalg.eigvalsh(corr.double()).clamp_min(0)
    k = 1e-5
    return -float(torch.sum(torch.log(eig + k) + 1 / (eig + k)))


FUNCTIONS: dict[str, Callable[[nn.Module, Data], float]] = {
    "synflow": synflow, "jacov": jacov, "grad_norm": grad_norm, "params": params}


def compute(model: nn.Module, data: Data, names: tuple[str, ...] = PROXIES) -> dict[str, float]:
    """The named proxies of ``model`` on ``data`` (node classification batch)."""
    return {n: FUNCTIONS[n](model, data) for n in names}

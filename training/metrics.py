"""Metrics per task kind: accuracy (node and graph classification), ROC-AUC (links).

ROC-AUC is the probability that a random positive scores above a random negative (ties
count one half), computed from average ranks (Mann-Whitney U)::

    AUC = (sum of positive ranks - P (P + 1) / 2) / (P N)
"""

from __future__ import annotations

import torch

METRICS = {"node": "accuracy", "graph": "accuracy", "link": "roc_auc"}


def accuracy(logits: torch.Tensor, y: torch.Tensor) -> float:
    if y.numel() == 0:
        return float("nan")
    return (logits.argmax(dim=-1) == y).float().mean().item()


def average_ranks(x: torch.Tensor) -> torch.Tensor:
    """1-based ranks of a 1-d tensor (float64); tied values share the mean of the ranks
    they span."""
    ranks = torch.empty(x.numel(), dtype=torch.float64)
    ranks[torch.argsort(x)] = torch.arange(1, x.numel() + 1, dtype=torch.float64)
    groups, inverse = torch.unique(x, return_inverse=True)
    sums = torch.zeros(groups.numel(), dtype=torch.float64).index_add_(0, inverse, ranks)
    counts = torch.zeros(groups.numel(), dtype=torch.float64).index_add_(
        0, inverse, torch.ones_like(ranks))
    return (sums / counts)[inverse]


def roc_auc(scores: torch.Tensor, labels: torch.Tensor) -> float:
    labels = labels.bool()
    p, n = int(labels.sum()), int((~labels).sum())
    if p == 0 or n == 0:
        return float("nan")
    ranks = average_ranks(scores.detach().double().cpu())
    return ((ranks[labels.cpu()].sum() - p * (p + 1) / 2) / (p * n)).item()

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


def _average_ranks(x: torch.Tensor) -> torch.Tensor:
    order = torch.argsort(x)
    ranks = torch.empty_like(x, dtype=torch.float64)
    sorted_x = x[order]
    i, n = 0, len(x)
    while i < n:
        j = i
        while j + 1 < n and sorted_x[j + 1] == sorted_x[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1  # 1-based average rank of the tie group
        i = j + 1
    return ranks


def roc_auc(scores: torch.Tensor, labels: torch.Tensor) -> float:
    labels = labels.bool()
    p, n = int(labels.sum()), int((~labels).sum())
    if p == 0 or n == 0:
        return float("nan")
    ranks = _average_ranks(scores.detach().double().cpu())
    return ((ranks[labels.cpu()].sum() - p * (p + 1) / 2) / (p * n)).item()

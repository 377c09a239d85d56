"""Real training of architectures on graph tasks.

* :mod:`~mdesign.training.metrics`: accuracy and ROC-AUC (pure torch);
* :mod:`~mdesign.training.data`: a task's graph data with its splits (:class:`TaskData`);
* :mod:`~mdesign.training.trainer`: :func:`train_architecture`, several seeds, early
  stopping on validation, failed (diverging) runs recorded as such.
* :mod:`~mdesign.training.evaluator`: :class:`TrainEvaluator`, the refinement evaluator
  that trains;
* :mod:`~mdesign.training.executors`: where trainings run (local processes, Ray).

The torch-based names load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mdesign.core.lazy import lazy_exports
from mdesign.training.config import TrainConfig
from mdesign.training.executors import Executor, LocalExecutor, RayExecutor, make_executor

if TYPE_CHECKING:
    from mdesign.training.data import TaskData
    from mdesign.training.evaluator import TrainEvaluator
    from mdesign.training.metrics import accuracy, roc_auc
    from mdesign.training.trainer import (
        Diverged,
        SeedRun,
        TrainResult,
        resolve_device,
        train_architecture,
    )

# name -> module, imported on first use (they import torch)
_LAZY: dict[str, str] = {
    "TaskData": "mdesign.training.data",
    "TrainEvaluator": "mdesign.training.evaluator",
    "accuracy": "mdesign.training.metrics",
    "roc_auc": "mdesign.training.metrics",
    "Diverged": "mdesign.training.trainer",
    "SeedRun": "mdesign.training.trainer",
    "TrainResult": "mdesign.training.trainer",
    "resolve_device": "mdesign.training.trainer",
    "train_architecture": "mdesign.training.trainer",
}

__all__ = [
    "Diverged",
    "Executor",
    "LocalExecutor",
    "RayExecutor",
    "SeedRun",
    "TaskData",
    "TrainConfig",
    "TrainEvaluator",
    "TrainResult",
    "accuracy",
    "make_executor",
    "resolve_device",
    "roc_auc",
    "train_architecture",
]


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)

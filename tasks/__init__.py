"""Tasks from the user's data: loading, validation, meta-features.

* :mod:`~mdesign.tasks.loaders`: a saved PyG dataset, a TU-format folder, CSV files or a
  built-in task -> :class:`~mdesign.training.data.TaskData`, refusing bad input;
* :mod:`~mdesign.tasks.features`: dataset meta-features (what task similarity uses before
  anything is trained);
* :mod:`~mdesign.tasks.store`: ``add_task`` (data under MDESIGN_HOME, the task and its
  meta-features in the knowledge base) and ``load_task``.

These import torch, so the names load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mdesign.core.lazy import lazy_exports

if TYPE_CHECKING:
    from mdesign.tasks.features import meta_features
    from mdesign.tasks.loaders import load_task_data, validate
    from mdesign.tasks.store import AddedTask, add_task, load_task, task_dir

# name -> module, imported on first use (they import torch)
_LAZY: dict[str, str] = {
    "meta_features": "mdesign.tasks.features",
    "load_task_data": "mdesign.tasks.loaders",
    "validate": "mdesign.tasks.loaders",
    "AddedTask": "mdesign.tasks.store",
    "add_task": "mdesign.tasks.store",
    "load_task": "mdesign.tasks.store",
    "task_dir": "mdesign.tasks.store",
}

__all__ = [
    "AddedTask",
    "add_task",
    "load_task",
    "load_task_data",
    "meta_features",
    "task_dir",
    "validate",
]


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)

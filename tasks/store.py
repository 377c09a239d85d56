"""Add a task from data (``mdesign task add``) and load it back for training.

The validated data goes to ``MDESIGN_HOME/tasks/<safe name>/task.pt`` (written to a
temporary file, then renamed: never half-written); the knowledge base gets the Task node
(kind, metric, where its data is) and its meta-features, so that refinement can retrieve similar
tasks before anything is trained. Adding the same task from the same source again is a
no-op; a name already used differently is refused.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch
from mdesign.core.errors import InputError
from mdesign.kb import settings
from mdesign.kb.importers.common import TaskSpec, store_tasks
from mdesign.kb.knowledge_base import FEATURE_PREFIX, KnowledgeBase
from mdesign.tasks.features import meta_features
from mdesign.tasks.loaders import load_task_data
from mdesign.training.data import TaskData
from mdesign.training.metrics import METRICS
from pydantic import BaseModel


class AddedTask(BaseModel):
    name: str
    kind: str
    metric: str
    path: str
    features: dict[str, float]


def task_dir(name: str) -> Path:
    """``MDESIGN_HOME/tasks/<safe name>``: the task's name is checked when added, but the
    folder never depends on that (the name stays verbatim in the knowledge base)."""
    return settings.confined(settings.home() / "tasks", settings.safe_name(name))


def add_task(kb: KnowledgeBase, name: str, source: str, kind: str) -> AddedTask:
    if not name.replace("-", "_").replace(".", "_").isidentifier():
        raise InputError(f"task name {name!r} must be letters, digits, '-', '_' or '.'",
                         "choose another name")
    data = load_task_data(source, kind)  # validates before anything is stored
    known = {t.name: t for t in kb.tasks()}
    if name in known:
        stored = kb.task_data(name)
        stored_source = stored.source if stored else None
        if stored_source != source or known[name].kind != kind:
            raise InputError(f"task {name!r} already exists "
                             f"({'from ' + stored_source if stored_source else 'imported'}, "
                             f"{known[name].kind})", "choose another name")
    features = meta_features(data)
    path = settings.write_atomically(task_dir(name) / "task.pt",
                                     lambda tmp: torch.save(dataclasses.asdict(data), tmp))
    store_tasks(kb, [TaskSpec(name=name, kind=kind, metric=METRICS[kind])])
    kb.set_task_data(name, source=source, path=str(path))
    kb.set_task_features({name: {FEATURE_PREFIX + k: v for k, v in features.items()}})
    return AddedTask(name=name, kind=kind, metric=METRICS[kind], path=str(path),
                     features=features)


def load_task(kb: KnowledgeBase, name: str) -> TaskData:
    kb.task(name)  # unknown task: one clear line
    stored = kb.task_data(name)
    if stored is None or not stored.path:
        raise InputError(f"task {name!r} has no data to train on (it was imported as a "
                         "table of results)", f"add it with `mdesign task add {name} "
                         "--data PATH --kind KIND`, or use the benchmark evaluator")
    path = Path(stored.path)
    if not path.exists():
        raise InputError(f"the data file of task {name!r} is missing ({path})",
                         f"add the task again: `mdesign task add {name} --data ...`")
    raw = torch.load(path, weights_only=False)
    return TaskData(**raw)

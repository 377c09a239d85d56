"""Deleting what the knowledge base holds for one task or one stored model.

Every deletion is a sequence of steps that can each be run again: an interrupted
``mdesign task delete`` or ``predictor delete`` is finished by running it again, and each
step touches only the named task or model (gains live in per-task properties
``gain:<task>``, so no other task's evidence changes).

Task deletion, in this order:

1. refuse at once, with nothing deleted, a task with imported results unless
   ``imported=True`` (a table cannot be restored by mdesign; re-import it);
2. its refinement runs and their steps (one transaction);
3. what mdesign's evaluators recorded on it, its gains recomputed from what stays
   (:func:`~mdesign.kb.observations.forget_observations`);
4. with ``imported``: its gains, then its results, in batches;
5. the task node and the generations made for it, then its stored data folder.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from mdesign.core.errors import InputError
from mdesign.kb import settings
from mdesign.kb.knowledge_base import GAIN_PREFIX, KnowledgeBase
from mdesign.kb.observations import forget_observations
from pydantic import BaseModel

BATCH = 20_000  # results or edits per transaction


class TaskDeletion(BaseModel):
    task: str
    runs: int
    steps: int
    recorded_results: int
    imported_results: int
    gains: int
    generations: int
    data_folder: str | None = None


def delete_task(kb: KnowledgeBase, name: str, imported: bool = False,
                progress: Callable[[str, int, int], None] | None = None) -> TaskDeletion:
    """Delete task ``name`` and everything recorded for it (the module's docstring)."""
    info = kb.task(name)  # unknown: one clear line
    counts = kb.query("task_result_sources", task=name)[0]
    has_imported = counts["imported"] or 0
    if has_imported and not imported:
        raise InputError(f"task {name!r} holds {has_imported} imported results",
                         "pass --with-imported to delete them too (re-import the table "
                         "to restore them), or `mdesign task forget` to drop only what "
                         "mdesign recorded")
    run_ids = kb.query("task_run_ids", task=name)[0]["ids"]
    gone = kb.runs.delete(run_ids) if run_ids else {}
    forgot = forget_observations(kb, name)
    key = GAIN_PREFIX + name
    gains = results = 0
    if imported:
        while n := kb.query("task_gains_clear", key=key, nulls={key: None},
                            batch=BATCH)[0]["n"]:
            gains += n
            if progress:
                progress("gains", gains, max(gains, info.evidence_edits))
        while n := kb.query("task_results_delete", task=name, batch=BATCH)[0]["n"]:
            results += n
            if progress:
                progress("results", results, max(results, has_imported))
    data = kb.task_data(name)
    generations = kb.query("task_delete", task=name)[0]["generations"]
    folder = _remove_own_folder(Path(data.path).parent) if data and data.path else None
    return TaskDeletion(task=name, runs=len(gone), steps=sum(gone.values()),
                        recorded_results=forgot.results, imported_results=results,
                        gains=gains, generations=generations, data_folder=folder)


class ModelDeletion(BaseModel):
    name: str
    type: str
    generations: int
    embeddings: int
    folder: str | None = None


def delete_model(kb: KnowledgeBase, name: str, kind: str) -> ModelDeletion:
    """Delete stored predictor ``name`` of ``kind`` (``performance``, ``ghn``,
    ``generator``): its node, embeddings and generations in one transaction, then its
    checkpoint folder."""
    row = kb.predictors.get(name)
    what = {"performance": "predictor", "ghn": "graph hypernetwork",
            "generator": "generator"}[kind]
    if row is None or (row["props"].get("type") or "performance") != kind:
        listed = "predictor list" if kind != "generator" else "generator list"
        raise InputError(f"no {what} named {name!r}", f"see `mdesign {listed}`")
    out = kb.query("predictor_delete", name=name, type=kind)
    if not out:  # deleted meanwhile by another process
        return ModelDeletion(name=name, type=kind, generations=0, embeddings=0)
    path = out[0]["path"]
    return ModelDeletion(name=name, type=kind, generations=out[0]["generations"],
                         embeddings=out[0]["embeddings"],
                         folder=_remove_own_folder(Path(path)) if path else None)


def _remove_own_folder(folder: Path) -> str | None:
    """Remove ``folder`` if it exists under MDESIGN_HOME (only our own copies ever go);
    the path removed, else None."""
    if folder.exists() and folder.resolve().is_relative_to(settings.home().resolve()):
        shutil.rmtree(folder)
        return str(folder)
    return None

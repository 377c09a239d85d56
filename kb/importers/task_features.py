"""Import dataset meta-features (numbers describing a task's data) onto existing tasks.

Accepted files, keyed by task:

* CSV with a ``task`` column and one numeric column per feature (empty cell: unknown);
* JSON, either ``{"cora": {"nodes": 2708, ...}, ...}`` or ``[{"task": "cora", ...}]``.

Features are stored as ``mf_<name>`` properties of the Task node; task similarity uses
them before anything is trained on the task.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

from mdesign.core.errors import InputError
from mdesign.kb.knowledge_base import FEATURE_PREFIX, KnowledgeBase


def read_task_features(path: Path) -> dict[str, dict[str, float]]:
    """``task -> feature -> value`` from a CSV or JSON file, validated."""
    if not path.exists():
        raise InputError(f"task-features file {path} does not exist", "check the path")
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise InputError(f"{path} is not valid JSON (line {exc.lineno}: {exc.msg})",
                             "fix the JSON syntax") from None
        if isinstance(data, list):
            if not all(isinstance(d, dict) and "task" in d for d in data):
                raise InputError(f"{path}: every entry of the list needs a \"task\" key",
                                 "write [{\"task\": NAME, FEATURE: VALUE, ...}, ...]")
            data = {str(d["task"]): {k: v for k, v in d.items() if k != "task"} for d in data}
        if not isinstance(data, dict):
            raise InputError(f"{path} holds neither a mapping nor a list of tasks",
                             "write {TASK: {FEATURE: VALUE}} or a list of objects")
        raw = {str(t): f for t, f in data.items()}
        rows = [(f"task {t!r}", t, feats) for t, feats in raw.items()]
    elif path.suffix.lower() == ".csv":
        with path.open(newline="") as fh:
            reader = csv.DictReader(fh)
            if not reader.fieldnames or "task" not in reader.fieldnames:
                raise InputError(f"{path} has no `task` column",
                                 "name the column that holds task names `task`")
            rows = []
            for line, rec in enumerate(reader, start=2):
                if None in rec or any(v is None for v in rec.values()):
                    raise InputError(f"{path}: line {line} has a different number of fields "
                                     "than the header", "fix or remove that line")
                rows.append((f"line {line}", rec.pop("task"), rec))
    else:
        raise InputError(f"{path}: unsupported file type {path.suffix!r}",
                         "give a .csv or .json file")
    out: dict[str, dict[str, float]] = {}
    for where, task, feats in rows:
        if not isinstance(feats, dict):
            raise InputError(f"{path}: {where}: features must be a mapping", "see the docs")
        if task in out:
            raise InputError(f"{path}: task {task!r} appears twice", "keep one row per task")
        clean: dict[str, float] = {}
        for name, value in feats.items():
            if value in ("", None):
                continue
            try:
                number = float(value)
            except (TypeError, ValueError):
                raise InputError(f"{path}: {where}: feature {name!r} = {value!r} is not a "
                                 "number", "meta-features must be numeric") from None
            if not math.isfinite(number):
                raise InputError(f"{path}: {where}: feature {name!r} is not finite",
                                 "remove NaN/inf values (leave the cell empty)")
            if not str(name).replace("_", "a").isalnum():
                raise InputError(f"{path}: feature name {name!r} must be letters, digits and _",
                                 "rename the column")
            clean[str(name)] = number
        out[str(task)] = clean
    return out


def import_task_features(kb: KnowledgeBase, path: Path,
                         only: set[str] | None = None) -> dict[str, Any]:
    """Store the features of ``path`` on their tasks. Every task must exist already."""
    features = read_task_features(Path(path))
    if only is not None:
        features = {t: f for t, f in features.items() if t in only}
    rows = [{"task": t, "features": {FEATURE_PREFIX + k: v for k, v in f.items()}}
            for t, f in sorted(features.items())]
    known = {t.name for t in kb.tasks()}
    unknown = sorted(set(features) - known)
    if unknown:
        raise InputError(f"{path}: unknown task(s) {', '.join(unknown[:5])}",
                         "import the tasks' results first (features attach to known tasks)")
    kb.query_rows("set_task_features", rows)
    return {"tasks": len(rows), "features": sum(len(f) for f in features.values())}

"""Import a tabular model base: one row per (task, architecture), CSV or Parquet.

The design-space file's ``table:`` section says which column names the task, which its
kind, which column holds each dimension (default: the dimension's own name) and which
hold the metric (``valid``/``test`` or ``single``) and costs. A column ``X_std`` beside a
metric column ``X`` is its standard deviation over seeds. Example::

    dataset,task,agg,l_mp,val_accuracy,val_accuracy_std,accuracy,accuracy_std,params
    cora,node,mean,2,0.81,0.004,0.80,0.006,23000

Rows whose architectures are equivalent under the space's canonical form are averaged
into one result; the same architecture listed twice for a task with different values is
an error.
"""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

from mdesign.core.errors import InputError
from mdesign.core.space import DesignSpace, format_choice
from mdesign.kb.importers.common import (
    Progress,
    ResultRow,
    TaskSpec,
    check_task_name,
    import_results,
)
from mdesign.kb.knowledge_base import KnowledgeBase
from mdesign.kb.models import ImportReport


def read_frame(path: Path) -> Any:
    import pandas as pd

    if not path.exists():
        raise InputError(f"table {path} does not exist", "check the path")
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            _check_header(path, list(pd.read_csv(
                path, dtype=str, header=None, nrows=1, keep_default_na=False,
                skipinitialspace=True).iloc[0]))
            return pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
        if suffix in (".parquet", ".pq"):
            frame = pd.read_parquet(path).astype(object)
            _check_header(path, [str(c) for c in frame.columns])
            return frame
    except pd.errors.ParserError as exc:
        raise InputError(f"{path} is malformed: {str(exc).strip().splitlines()[-1]}",
                         "fix that row (every row needs as many fields as the header)") from None
    except pd.errors.EmptyDataError:
        raise InputError(f"{path} is empty", "give a table with a header and rows") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{path} is not UTF-8 text (byte {exc.object[exc.start]:#04x} at "
                         f"offset {exc.start})", "save the table as UTF-8") from None
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read {path}: {exc}", "give a valid CSV or Parquet file") \
            from None
    raise InputError(f"{path}: unsupported file type {suffix!r}",
                     "give a .csv or .parquet file")


def _check_header(path: Path, names: list[str]) -> None:
    """Refuse a header read with the wrong delimiter or naming a column twice."""
    if len(names) == 1:
        for sep, called in ((";", "semicolon"), ("\t", "tab"), ("|", "pipe")):
            if sep in names[0]:
                raise InputError(f"{path} looks {called}-delimited (its header is the one "
                                 f"column {names[0]!r})", "save it as CSV with commas "
                                 "between fields")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise InputError(f"{path}: the header names column(s) {', '.join(map(repr, repeated))} "
                         "more than once", "give each column one distinct name")


def _number(value: Any, where: str, column: str) -> float | None:
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{where}: column {column!r} = {value!r} is not a number",
                         "metric and cost columns must be numeric") from None
    if math.isnan(number):
        return None
    if not math.isfinite(number):
        raise InputError(f"{where}: column {column!r} is infinite", "remove that value")
    return number


def read_table(path: Path, space: DesignSpace, task: str | None = None
               ) -> tuple[list[TaskSpec], list[ResultRow]]:
    """Validate a table against ``space`` into tasks and results (nothing is written)."""
    if space.table is None:
        raise InputError(f"space {space.name!r} has no `table:` section",
                         "add one that maps the table's columns (see docs/design-spaces.md)")
    m = space.table
    frame = read_frame(path)
    columns = set(frame.columns)
    dim_cols = {d: m.columns.get(d, d) for d in space.dimension_names}
    metric_cols = {k: getattr(m.metric, k) for k in ("valid", "test", "single")
                   if getattr(m.metric, k)}
    needed = list(dim_cols.values()) + list(metric_cols.values()) + list(m.costs.values())
    if task is not None:
        check_task_name(task, "--task")
    else:
        needed.append(m.task)
    missing = [c for c in needed if c not in columns]
    if missing:
        raise InputError(f"{path} lacks column(s) {', '.join(missing)} that space "
                         f"{space.name!r} maps", "add the columns or fix `table:` in the "
                         "space file" + ("" if task else " (or name the task with --task)"))
    sign = 1.0 if m.metric.higher_is_better else -1.0
    source = f"table:{path.name}"
    kinds: dict[str, str] = {}
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    arch_of: dict[tuple[str, str], dict] = {}
    for i, rec in enumerate(frame.to_dict(orient="records")):
        where = f"{path.name}: row {i + 2}"
        name = task if task is not None else str(rec[m.task]).strip()
        if not name:
            raise InputError(f"{where}: empty task name", f"fill the {m.task!r} column")
        kind = (str(rec[m.kind]).strip() if m.kind and m.kind in columns
                else m.default_kind)
        if kinds.setdefault(name, kind) != kind:
            raise InputError(f"{where}: task {name!r} has kind {kind!r} here and "
                             f"{kinds[name]!r} earlier", "give each task one kind")
        raw = {d: (format_choice(rec[c]).strip() if isinstance(rec[c], str)
                   else format_choice(rec[c])) for d, c in dim_cols.items()}
        arch = space.parse(raw, where=f"{where}: ")
        reason = space.violation(arch)
        if reason:
            raise InputError(f"{where}: architecture {space.key(arch)} violates a constraint "
                             f"of space {space.name!r} ({reason})",
                             "remove the row or relax the constraint")
        values: dict[str, Any] = {}
        for k, col in metric_cols.items():
            values[k] = _number(rec[col], where, col)
            std_col = f"{col}_std"
            values[f"{k}_std"] = _number(rec[std_col], where, std_col) \
                if std_col in columns else None
            if values[k] is None and values[f"{k}_std"] is not None:
                raise InputError(f"{where}: column {std_col!r} has a value but the metric "
                                 f"column {col!r} is empty", f"fill {col!r} or empty "
                                 f"{std_col!r} too")
        for k, col in m.costs.items():
            values[k] = _number(rec[col], where, col)
        if m.seeds and m.seeds in columns:
            s = _number(rec[m.seeds], where, m.seeds)
            values["seeds"] = int(s) if s is not None else None
        selection = "single" if m.metric.single else ("valid" if m.metric.valid else "test")
        if values[selection] is None:
            raise InputError(f"{where}: the metric column {metric_cols[selection]!r} is empty",
                             "every row needs its selection metric")
        raw_key = (name, space.key(arch))  # `1` and `1.0` are the same choice
        if raw_key in seen:
            if seen[raw_key] != values:
                raise InputError(
                    f"{where}: task {name!r}, architecture {space.key(arch)} is listed twice "
                    "with different values", "keep one row per (task, architecture)")
            continue
        seen[raw_key] = values
        canon = space.canonical_form(arch)
        ck = (name, space.key(canon))
        arch_of[ck] = canon
        groups[ck].append(values)
    if not groups:
        raise InputError(f"{path} has no rows", "give at least one (task, architecture) row")
    results = []
    for (name, key), rows in sorted(groups.items()):
        merged = _merge(rows)
        selection = "single" if m.metric.single else ("valid" if m.metric.valid else "test")
        results.append(ResultRow(
            arch=arch_of[(name, key)], key=key, task=name, source=source,
            score=sign * merged[selection],
            score_std=merged.get(f"{selection}_std"),
            valid=merged.get("single") if m.metric.single else merged.get("valid"),
            valid_std=merged.get("single_std") if m.metric.single else merged.get("valid_std"),
            test=merged.get("single") if m.metric.single else merged.get("test"),
            test_std=merged.get("single_std") if m.metric.single else merged.get("test_std"),
            params=merged.get("params"), latency=merged.get("latency"),
            seeds=merged.get("seeds")))
    tasks = [TaskSpec(name=t, kind=k, metric=m.metric.name,
                      higher_is_better=m.metric.higher_is_better, split=m.metric.split)
             for t, k in sorted(kinds.items())]
    return tasks, results


def _merge(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Average equivalent architectures' rows (stds pooled as root-mean-square)."""
    if len(rows) == 1:
        return rows[0]
    out: dict[str, Any] = {}
    for k in rows[0]:
        vals = [r[k] for r in rows if r.get(k) is not None]
        if not vals:
            out[k] = None
        elif k.endswith("_std"):
            out[k] = math.sqrt(sum(v * v for v in vals) / len(vals))
        elif k == "seeds":
            out[k] = int(sum(vals))
        else:
            out[k] = sum(vals) / len(vals)
    return out


def import_table(kb: KnowledgeBase, path: Path, space: DesignSpace, task: str | None = None,
                 evidence_method: str = "python",
                 progress: Progress | None = None) -> ImportReport:
    path = Path(path)
    tasks, results = read_table(path, space, task)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return import_results(
        kb, import_id=f"table:{space.name}:{path.name}:{digest[:12]}:{task or ''}",
        kind="table", space=space, tasks=tasks, results=results,
        inputs_fingerprint=[digest, task], evidence_method=evidence_method,
        progress=progress)

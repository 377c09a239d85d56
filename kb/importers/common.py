"""What every importer shares: tasks, architectures, results, edits, then evidence.

An importer turns its input into :class:`TaskSpec` and :class:`ResultRow` lists and calls
:func:`import_results`, which

1. stores the design space (refusing a different definition under the same name),
2. creates the tasks (refusing a known task with another kind, metric or split),
3. writes architectures, results and edits as resumable batches (one transaction each),
4. builds the edit evidence of the tasks it touched and refreshes the counts.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from mdesign.core.errors import InputError
from mdesign.core.space import Architecture, DesignSpace, format_choice
from mdesign.kb import evidence
from mdesign.kb.knowledge_base import KnowledgeBase, Step, fingerprint
from mdesign.kb.models import ImportReport
from pydantic import BaseModel

Progress = Callable[[str, int, int], None]


class TaskSpec(BaseModel):
    name: str
    kind: str
    metric: str
    higher_is_better: bool = True
    split: str = "valid_test"
    restrict: dict[str, list[str]] | None = None

    def props(self) -> dict[str, Any]:
        p: dict[str, Any] = {"kind": self.kind, "metric": self.metric,
                             "higher_is_better": self.higher_is_better, "split": self.split}
        if self.restrict:
            p["restrict"] = json.dumps(self.restrict, sort_keys=True)
        return p


@dataclass(slots=True)
class ResultRow:
    """One measured architecture on one task, from one source (already validated by the
    importer that made it; a plain dataclass because bulk imports make 10^5 of them).

    ``key`` is the architecture's key in its space (computed once per architecture).
    """

    arch: dict[str, Any]
    key: str
    task: str
    source: str
    score: float
    score_std: float | None = None
    valid: float | None = None
    valid_std: float | None = None
    test: float | None = None
    test_std: float | None = None
    params: float | None = None
    latency: float | None = None
    seeds: int | None = None

    def props(self) -> dict[str, Any]:
        """The stored properties of the RESULT relationship (no nulls)."""
        return {f: v for f in _RESULT_FIELDS if (v := getattr(self, f)) is not None}


_RESULT_FIELDS = ("task", "source", "score", "score_std", "valid", "valid_std", "test",
                  "test_std", "params", "latency", "seeds")


KINDS = ("node", "graph", "link")


def check_task_name(name: str, what: str = "task name") -> str:
    """``name`` when it can name a task: not empty, not only whitespace, and without
    leading or trailing whitespace (a table's cells are stripped before they get here;
    a name typed with surrounding spaces is refused rather than silently changed)."""
    if not name.strip():
        raise InputError(f"{what} {name!r} is empty", "give the task a name")
    if name != name.strip():
        raise InputError(f"{what} {name!r} starts or ends with whitespace",
                         f"write it as {name.strip()!r}")
    return name


def store_space(kb: KnowledgeBase, space: DesignSpace) -> None:
    definition = json.dumps(space.model_dump(mode="json", exclude={"table", "description"}),
                            sort_keys=True)
    stored = kb.query("upsert_space", name=space.name, definition=definition,
                      dimensions=space.dimension_names)[0]["definition"]
    if stored != definition:
        raise InputError(
            f"a different design space named {space.name!r} is already in the knowledge base",
            "rename your space (its `name:`) or import into a fresh knowledge base")


def store_tasks(kb: KnowledgeBase, tasks: Sequence[TaskSpec]) -> None:
    """Create the tasks that are new; refuse (before writing any) a known task whose
    kind, metric or split differs."""
    for t in tasks:
        if t.kind not in KINDS:
            raise InputError(f"task {t.name!r} has unknown kind {t.kind!r}",
                             f"use one of {', '.join(KINDS)}")
    stored = {t.name: t for t in kb.tasks()}
    for t in tasks:
        s = stored.get(t.name)
        if s is None:
            continue
        for field in ("kind", "metric", "split"):
            if getattr(s, field) != getattr(t, field):
                raise InputError(
                    f"task {t.name!r} is stored with {field} {getattr(s, field)!r}, this input "
                    f"says {getattr(t, field)!r}", "use another task name (--task) or fix the "
                    "input")
    kb.query_rows("upsert_tasks", [{"name": t.name, "props": t.props()} for t in tasks])


def edit_rows(kb: KnowledgeBase, space: DesignSpace, keys: set[str]) -> list[dict[str, Any]]:
    """Edits between neighbouring architectures of ``space`` with at least one end in
    ``keys``, each unordered pair once, described from the end that finds it first."""
    known = set(kb.query_plain("space_architecture_uids", space=space.name)[0]["keys"]) | keys
    pairs: dict[tuple[str, str], dict[str, Any]] = {}
    for key in sorted(known):
        for dim, frm, to, nkey in space.neighbour_keys(key):
            if nkey not in known or (key not in keys and nkey not in keys):
                continue
            pair = (key, nkey) if key < nkey else (nkey, key)
            if pair not in pairs:
                pairs[pair] = {"a": f"{space.name}/{key}", "b": f"{space.name}/{nkey}",
                               "dimension": dim, "from_choice": frm, "to_choice": to,
                               "gains": {}}
    return [pairs[p] for p in sorted(pairs)]


def architecture_row(space: DesignSpace, arch: Architecture) -> dict[str, Any]:
    key = space.key(arch)
    props: dict[str, Any] = {"space": space.name, "key": key}
    props.update({d: format_choice(v) for d, v in arch.items()})
    return {"uid": f"{space.name}/{key}", "props": props}


def import_results(kb: KnowledgeBase, import_id: str, kind: str, space: DesignSpace,
                   tasks: Sequence[TaskSpec],
                   results: Sequence[ResultRow] | Callable[[], Sequence[ResultRow]],
                   inputs_fingerprint: Any, evidence_method: str = "python",
                   progress: Progress | None = None) -> ImportReport:
    for t in tasks:
        check_task_name(t.name)
    kb.init_schema()
    store_space(kb, space)
    fp = fingerprint(inputs_fingerprint, space.model_dump(mode="json"),
                     [t.model_dump() for t in tasks])
    if kb.import_complete(import_id, fp):
        kb.query("space_counts", space=space.name)
        return ImportReport(import_id=import_id, status="up-to-date", batches=0, rows=0,
                            seconds=0.0)
    results = list(results() if callable(results) else results)
    archs: dict[str, Architecture] = {}
    for r in results:
        archs.setdefault(r.key, r.arch)
    arch_rows = [architecture_row(space, archs[k]) for k in sorted(archs)]
    prefix = space.name + "/"
    result_rows = [{"arch": prefix + r.key, "task": r.task, "source": r.source,
                    "props": r.props()} for r in results]
    edits = edit_rows(kb, space, set(archs))
    # Gains of this import's own results, written with the edits; the stored evidence is
    # rebuilt afterwards only when a task also has results from elsewhere.
    scores: dict[str, dict[str, float]] = {}
    for r in results:
        scores.setdefault(r.task, {})[prefix + r.key] = r.score
    counts = evidence.add_gains(edits, scores)

    def conflict(rows: list[dict[str, Any]]) -> InputError:
        r = rows[0]
        return InputError(
            f"task {r['task']!r}, architecture {r['arch']!r} from source {r['source']!r} is "
            "already stored with different values", "import it under another source or "
            "task name; nothing of this batch was written")

    # Refuse conflicting results before anything is written, so that a refused import
    # leaves no architectures or edits behind (only needed when results already exist).
    # The results step checks again inside each writing transaction: that one guards
    # against a concurrent writer between this check and the write.
    names = [t.name for t in tasks]
    if any(r["results"] for r in kb.query("task_result_counts", tasks=names)):
        for i in range(0, len(result_rows), 10_000):
            rows = kb.query("import_results_conflicts", rows=result_rows[i:i + 10_000])
            if rows:
                raise conflict(rows)
    store_tasks(kb, tasks)

    steps = [Step("architectures", "import_architectures", arch_rows, 5_000),
             Step("results", "import_results", result_rows, 10_000,
                  check="import_results_conflicts", conflict=conflict),
             Step("edits", "import_edits", edits, 10_000)]
    report = kb.run_import(import_id, kind, fp, steps, progress=progress)
    report.counts = {"architectures": len(arch_rows), "results": len(result_rows),
                     "edits": len(edits)}
    if report.status != "up-to-date":
        stored = {r["task"]: r["results"] for r in kb.query("task_result_counts", tasks=names)}
        if all(stored.get(t) == len(scores.get(t, {})) for t in names):
            evidence.store_counts(kb, counts)
            report.counts["gains"] = sum(counts.values())
        else:
            ev = evidence.build(kb, space.name, names, method=evidence_method,
                                progress=(lambda d, n: progress("evidence", d, n)) if progress
                                else None)
            report.counts["gains"] = sum(ev.gains.values())
            report.notes.append(f"evidence rebuilt ({ev.method}) in {ev.seconds:.1f} s: "
                                "the tasks also have results from other imports")
    kb.query("space_counts", space=space.name)
    return report

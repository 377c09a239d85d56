"""Observations on a target task become evidence of that task for later runs.

An evaluator that measures architectures the knowledge base does not hold (real
training) hands its results here: each becomes a RESULT of the target from the source
``mdesign:<evaluator>`` (one source per evaluator, so that gains between observations of
different runs share a source), missing architectures and their edits to stored
neighbours are created, and the target's gain on every edit touching a new result is
recomputed with the same rule as the importers (:func:`~mdesign.kb.evidence.edit_gain`).
Everything is idempotent: recording the same observations twice changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mdesign.core.evaluation import Evaluation
from mdesign.core.space import DesignSpace, key_of
from mdesign.kb.evidence import GAIN_PREFIX, edit_gain
from mdesign.kb.importers.common import architecture_row
from mdesign.kb.knowledge_base import KnowledgeBase
from mdesign.kb.similarity import forget_similarities
from pydantic import BaseModel


class ObservationReport(BaseModel):
    results: int
    edits: int
    gains: int


def record_observations(kb: KnowledgeBase, space: DesignSpace, task: str,
                        observations: Sequence[Evaluation], source: str
                        ) -> ObservationReport:
    keys = sorted({key_of(o.uid) for o in observations})
    kb.query_rows("import_architectures",
                  [architecture_row(space, space.parse_key(k)) for k in keys])
    rows = []
    for o in observations:
        # a failed result keeps its provenance and reason but no score: never evidence
        fields = ("params",) if o.failed else ("score", "valid", "test", "params", "latency")
        props = {f: v for f in fields if (v := getattr(o, f)) is not None}
        extra = {k: v for k, v in (o.provenance or {}).items()
                 if isinstance(v, (str, int, float, bool)) and v is not None}
        seeds = extra.pop("seeds", 1)
        rows.append({"arch": o.uid, "task": task, "source": source,
                     "props": {**extra, **props, "task": task, "source": source,
                               "seeds": seeds, "failed": o.failed}})
    kb.query_rows("import_results", rows)
    edits: dict[tuple[str, str], dict[str, Any]] = {}
    for k in keys:
        for dim, frm, to, nkey in space.neighbour_keys(k):
            pair = (k, nkey) if k < nkey else (nkey, k)
            edits.setdefault(pair, {"a": f"{space.name}/{k}", "b": f"{space.name}/{nkey}",
                                    "dimension": dim, "from_choice": frm, "to_choice": to,
                                    "gains": {}})
    kb.query_rows("import_edits", list(edits.values()))
    uids = [f"{space.name}/{k}" for k in keys]
    gains = []
    touched = kb.query("observation_edits", uids=uids, task=task)
    for r in touched:
        ra, rb = _by_source(r["from_results"]), _by_source(r["to_results"])
        g = edit_gain(ra, rb) if ra and rb else None
        if g is not None:
            gains.append({"id": r["id"], "gains": {GAIN_PREFIX + task: g}})
    if gains:
        kb.query_rows("evidence_write_gains", gains)
    _refresh_counts(kb, task)
    return ObservationReport(results=len(rows), edits=len(touched), gains=len(gains))


def _by_source(results: Sequence[Sequence[Any]], imported_only: bool = False
               ) -> dict[str, tuple[float, int]]:
    """``[source, score, seeds]`` rows of one end of an edit as ``edit_gain`` reads them:
    scored results only, and with ``imported_only`` none of mdesign's own."""
    return {s: (v, n) for s, v, n in results if s is not None and v is not None
            and not (imported_only and s.startswith("mdesign:"))}


def _refresh_counts(kb: KnowledgeBase, task: str) -> None:
    """The task's counts after its results changed; its cached similarities go (they
    are computed on the fly until the next import refreshes them)."""
    forget_similarities(kb, [task])
    results = kb.query("task_result_counts", tasks=[task])[0]["results"]
    kb.query_rows("set_task_counts", [{"task": task, "results": results, "evidence_edits":
                                       kb.query("task_gain_count", task=task)[0]["n"]}])


def forget_observations(kb: KnowledgeBase, task: str) -> ObservationReport:
    """Undo :func:`record_observations` for ``task``: its results from ``mdesign:*``
    sources go, imported results stay, and the task's gains on the edits they touched are
    recomputed from what stays (or removed).

    Gains are rewritten before the results are deleted, so an interrupted call leaves
    every gain consistent with the results that will remain, and running it again
    finishes the job."""
    kb.task(task)  # unknown task: one clear line
    uids = kb.query("observation_uids", task=task)[0]["uids"]
    key = GAIN_PREFIX + task
    gains = []
    for r in kb.query("observation_edits", uids=uids, task=task) if uids else []:
        ra = _by_source(r["from_results"], imported_only=True)
        rb = _by_source(r["to_results"], imported_only=True)
        gains.append({"id": r["id"], "gains": {key: edit_gain(ra, rb) if ra and rb
                                               else None}})  # null removes the property
    if gains:
        kb.query_rows("evidence_write_gains", gains)
    deleted = kb.query("observations_forget", task=task)[0]["deleted"]
    _refresh_counts(kb, task)
    return ObservationReport(results=deleted, edits=len(gains),
                             gains=sum(g["gains"][key] is not None for g in gains))

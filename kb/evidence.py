"""Edit-effect evidence: the gain of every edit on every task that measured both ends.

For task t and an edit stored as ``(a)-[:EDIT]->(b)``::

    gain:t = score_t(b) - score_t(a)

where ``score`` is the task's selection score (validation, or its single metric,
oriented so that higher is better). Walking the edit backwards negates the gain. When
several sources measured both ends, the gain uses the source with the most seeds (then
the first by name): a gain never mixes two sources' protocols.

Two builders give identical gains: :func:`build_python` (read edits and results,
compute in Python, write back in batches by element id) and :func:`build_cypher`
(one ``CALL ... IN TRANSACTIONS`` statement per task inside Neo4j); importers
compute the gains of their own results in memory (:func:`add_gains`) and write them
with the edits. The benchmark ``benchmarks/kb.py`` times both builders on
NAS-Bench-Graph; the faster is the default.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

from mdesign.kb.knowledge_base import GAIN_PREFIX, KnowledgeBase
from mdesign.kb.similarity import refresh_similarities
from pydantic import BaseModel


class EvidenceReport(BaseModel):
    space: str
    method: str
    tasks: list[str]
    edits: int
    gains: dict[str, int]
    seconds: float


def best_source_scores(uids: Sequence[str], sources: Sequence[str], scores: Sequence[float],
                       seeds: Sequence[int]) -> dict[str, dict[str, tuple[float, int]]]:
    """uid -> source -> (score, seeds), from the parallel lists of evidence_results."""
    out: dict[str, dict[str, tuple[float, int]]] = defaultdict(dict)
    for uid, src, score, n in zip(uids, sources, scores, seeds, strict=True):
        out[uid][src] = (score, n)
    return out


def edit_gain(ra: dict[str, tuple[float, int]], rb: dict[str, tuple[float, int]]
              ) -> float | None:
    """Gain b - a from the shared source with the most seeds (then first by name)."""
    if len(ra) == 1 and ra.keys() == rb.keys():  # the common case: one source
        (sa,), (sb,) = ra.values(), rb.values()
        return sb[0] - sa[0]
    shared = ra.keys() & rb.keys()
    if not shared:
        return None
    source = min(shared, key=lambda s: (-(ra[s][1] + rb[s][1]), s))
    return rb[source][0] - ra[source][0]


def add_gains(edits: Sequence[dict[str, Any]], scores: dict[str, dict[str, float]]
              ) -> dict[str, int]:
    """Put ``gain:<task>`` into each edit row's ``gains`` from one source's scores
    (``task -> uid -> score``); returns the number of gains per task."""
    counts = {}
    for task, by_uid in scores.items():
        key = GAIN_PREFIX + task
        n = 0
        for e in edits:
            a, b = by_uid.get(e["a"]), by_uid.get(e["b"])
            if a is not None and b is not None:
                e["gains"][key] = b - a
                n += 1
        counts[task] = n
    return counts


def build_python(kb: KnowledgeBase, space: str, tasks: Sequence[str],
                 progress: Callable[[int, int], None] | None = None,
                 batch_size: int = 10_000) -> EvidenceReport:
    t0 = time.perf_counter()
    edits = [{"id": i, "a": row["uid"], "b": b, "gains": {}}
             for row in kb.query("evidence_edits", space=space)
             for i, b in zip(row["ids"], row["ends"], strict=True)]
    counts = dict.fromkeys(tasks, 0)
    for task in tasks:
        r = kb.query_plain("evidence_results", space=space, task=task)[0]
        by_uid = best_source_scores(r["uids"], r["sources"], r["scores"], r["seeds"])
        key = GAIN_PREFIX + task
        for e in edits:
            ra, rb = by_uid.get(e["a"]), by_uid.get(e["b"])
            if ra is None or rb is None:
                continue
            g = edit_gain(ra, rb)
            if g is not None:
                e["gains"][key] = g
                counts[task] += 1
    rows = [{"id": e["id"], "gains": e["gains"]} for e in edits if e["gains"]]
    kb.write_rows("evidence_write_gains", rows, batch_size=batch_size, progress=progress)
    store_counts(kb, counts)
    return EvidenceReport(space=space, method="python", tasks=list(tasks), edits=len(edits),
                          gains=counts, seconds=time.perf_counter() - t0)


def build_cypher(kb: KnowledgeBase, space: str, tasks: Sequence[str],
                 progress: Callable[[int, int], None] | None = None) -> EvidenceReport:
    t0 = time.perf_counter()
    counts = {}
    for i, task in enumerate(tasks):
        counts[task] = kb.run_autocommit("evidence_build", task=task)[0]["gains"]
        if progress:
            progress(i + 1, len(tasks))
    edits = kb.query("space_counts", space=space)
    store_counts(kb, counts)
    return EvidenceReport(space=space, method="cypher", tasks=list(tasks),
                          edits=edits[0]["edits"] if edits else 0, gains=counts,
                          seconds=time.perf_counter() - t0)


def store_counts(kb: KnowledgeBase, counts: dict[str, int]) -> None:
    """Store the tasks' counts and refresh their cached similarities (their results
    were just imported)."""
    results = {r["task"]: r["results"]
               for r in kb.query("task_result_counts", tasks=list(counts))}
    kb.query_rows("set_task_counts", [
        {"task": t, "results": results.get(t, 0), "evidence_edits": n}
        for t, n in counts.items()])
    refresh_similarities(kb, list(counts))


BUILDERS = {"python": build_python, "cypher": build_cypher}


def build(kb: KnowledgeBase, space: str, tasks: Sequence[str], method: str = "python",
          progress: Callable[[int, int], None] | None = None) -> EvidenceReport:
    """Build (or rebuild) the evidence of ``tasks`` on ``space``'s edits. Idempotent."""
    return BUILDERS[method](kb, space, tasks, progress=progress)

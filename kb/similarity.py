"""Cached task similarities: ``(:Task)-[:SIMILARITY {spearman, shared}]->(:Task)``.

``similar_tasks`` compares a task with every other over their shared architectures;
on the full NAS-Bench-Graph store that is seconds of Cypher per call. The similarities
are therefore computed once per import here, in Python from one read of each task's
mean scores (Spearman with average ranks, :func:`~mdesign.core.stats.spearman`: the
same number as the query's own), and written as relationships both ways. A task whose
results change afterwards (mdesign's recorded observations, a forget) has its cached
similarities dropped, so the query computes those on the fly until the next refresh:
the cache is never stale, only absent.
"""

from __future__ import annotations

from collections.abc import Sequence

from mdesign.core.stats import spearman
from mdesign.kb.knowledge_base import KnowledgeBase

MIN_SHARED = 3  # as the query: fewer shared architectures give no similarity


def refresh_similarities(kb: KnowledgeBase, tasks: Sequence[str] | None = None) -> int:
    """(Re)compute the cached similarity of every pair of tasks involving one of
    ``tasks`` (default: all). Returns the pairs written (each counted once).

    Only tasks with results in a space of ``tasks`` can share architectures with them,
    so only those are read: a small task imported next to full tables reads its own
    space, not every table of the store."""
    names = {t.name for t in kb.tasks()}
    wanted = sorted(names if tasks is None else set(tasks) & names)
    if not wanted:
        return 0

    def mean_scores(task: str) -> dict[str, float]:
        return {u: s for u, s in kb.query_plain("task_mean_scores", task=task)[0]["scores"]}

    scores = {t: mean_scores(t) for t in wanted}
    if len(wanted) < len(names):
        spaces = sorted({sp for t in wanted for sp in kb.task_spaces(t)})
        for other in sorted({s.name for sp in spaces for s in kb.tasks_in_space(sp)}
                            - set(wanted)):
            scores[other] = mean_scores(other)
    rows = []
    done: set[frozenset[str]] = set()
    for a in wanted:
        for b in sorted(scores):
            pair = frozenset((a, b))
            if a == b or pair in done:
                continue
            done.add(pair)
            shared = sorted(scores[a].keys() & scores[b].keys())
            if len(shared) < MIN_SHARED:
                continue
            rho = spearman([scores[a][u] for u in shared], [scores[b][u] for u in shared])
            for x, y in ((a, b), (b, a)):
                rows.append({"a": x, "b": y, "spearman": rho, "shared": len(shared)})
    kb.query("similarity_forget", tasks=wanted)
    if rows:
        kb.query_rows("similarity_write", rows)
    return len(rows) // 2


def forget_similarities(kb: KnowledgeBase, tasks: Sequence[str]) -> None:
    """Drop the cached similarities of ``tasks`` (their results changed)."""
    kb.query("similarity_forget", tasks=list(tasks))

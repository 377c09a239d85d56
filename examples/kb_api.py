"""Use the knowledge base from your own tool (run after `scripts/quickstart.sh`).

    python examples/kb_api.py [TASK]

Connects to the managed server (or to NEO4J_URI), prints the best architectures of a
task, the evidence around the best one on the most similar tasks, and the best improving
paths of up to two edits from a median architecture.
"""

from __future__ import annotations

import sys

from mdesign.kb import KnowledgeBase


def main(task: str = "cora") -> None:
    with KnowledgeBase.connect() as kb:
        info = kb.task(task)
        print(f"{info.name}: {info.kind} task, metric {info.metric}, {info.results} results, "
              f"{info.evidence_edits} edits with evidence")

        best = kb.best_architectures(task, limit=3)
        for r in best:
            print(f"  {r.score:.4f} (test {r.test})  {r.key}")

        similar = [s.task_b for s in kb.similar_tasks(task, limit=2)]
        print(f"most similar tasks: {similar}")
        for n in kb.neighbours(best[0].uid, tasks=[task, *similar])[:5]:
            gains = ", ".join(f"{t} {g:+.4f}" for t, g in n.gains.items() if g is not None)
            print(f"  {n.dimension}: {n.from_choice} -> {n.to_choice}  [{gains}]")

        ranked = kb.best_architectures(task, limit=100_000)
        median = ranked[len(ranked) // 2]
        for p in kb.improving_paths(median.uid, task, k=2, limit=3):
            print(f"  +{p.total_gain:.4f} in {p.hops} edits -> {p.key}")


if __name__ == "__main__":
    main(*sys.argv[1:2])

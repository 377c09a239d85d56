"""Knowledge-base speed on NAS-Bench-Graph: full import, evidence builders, query latency.

Runs against a managed server under its own MDESIGN_HOME (default
~/.cache/mdesign/bench-home) whose store is recreated, so the import starts from an
empty database, as on a new machine. Writes ``benchmarks/results/kb.json`` and
``benchmarks/results/kb.md``.

    python benchmarks/kb.py [--repeats 200]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import shutil
import statistics
import sys
import time
from pathlib import Path

from mdesign.benchmarks.report import RESULTS, machine


def timed(fn, repeats: int) -> dict:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return {"calls": repeats, "median_ms": round(statistics.median(times), 3),
            "p95_ms": round(times[int(0.95 * (len(times) - 1))], 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=200)
    ap.add_argument("--keep-store", action="store_true",
                    help="reuse the existing store (skips the timed fresh import)")
    args = ap.parse_args()
    os.environ.setdefault("MDESIGN_HOME",
                          str(Path.home() / ".cache" / "mdesign" / "bench-home"))
    for var in ("NEO4J_URI", "NEO4J_USER", "NEO4J_PASSWORD"):
        os.environ.pop(var, None)
    logging.getLogger("neo4j").setLevel(logging.CRITICAL)

    from mdesign.kb import KnowledgeBase, evidence
    from mdesign.kb.importers.nas_bench_graph import DATASETS, import_nas_bench_graph
    from mdesign.kb.server import ManagedNeo4j

    server = ManagedNeo4j()
    out: dict = {"machine": machine(), "dataset": "NAS-Bench-Graph (9 datasets)"}
    if not args.keep_store:
        server.stop()
        shutil.rmtree(server.neo4j_home / "data", ignore_errors=True)
    server.start(echo=lambda m: print(m, file=sys.stderr))
    kb = KnowledgeBase.connect()
    kb.init_schema()

    if not args.keep_store:
        print("full import ...", file=sys.stderr)
        t = time.perf_counter()
        report = import_nas_bench_graph(kb)
        wall = time.perf_counter() - t
        c = report.counts
        rows = c["architectures"] + c["results"] + c["edits"]
        out["import"] = {"wall_s": round(wall, 1), **c,
                         "rows_per_s": round(rows / wall),
                         "results_and_edits_per_s": round((c["results"] + c["edits"]) / wall),
                         "gains_per_s": round(c["gains"] / wall)}
    stats = kb.stats()
    space = {s.name: s for s in stats.spaces}["nas-bench-graph"]
    out["counts"] = {"architectures": space.architectures, "edits": space.edits,
                     "results": sum(t.results for t in stats.task_list),
                     "gains": sum(t.evidence_edits for t in stats.task_list)}

    tasks = list(DATASETS)
    out["evidence_rebuild"] = {}
    for method in ("python", "cypher"):
        print(f"evidence rebuild ({method}) ...", file=sys.stderr)
        rep = evidence.build(kb, "nas-bench-graph", tasks, method=method)
        out["evidence_rebuild"][method] = {"seconds": round(rep.seconds, 1),
                                           "gains": sum(rep.gains.values()),
                                           "gains_per_s": round(sum(rep.gains.values())
                                                                / rep.seconds)}

    rng = random.Random(0)
    uids = [r.uid for r in kb.best_architectures("cora", limit=30000)]
    sample = rng.sample(uids, 1000)
    it = iter(sample * 100)
    lat: dict = {}
    print("query latency ...", file=sys.stderr)
    lat["best_architectures"] = timed(
        lambda: kb.best_architectures("citeseer", limit=10), args.repeats)
    lat["neighbours_with_gains"] = timed(
        lambda: kb.neighbours(next(it), tasks[1:]), args.repeats)
    lat["improving_paths (k=2)"] = timed(
        lambda: kb.improving_paths(next(it), "citeseer", k=2, limit=10),
        max(10, args.repeats // 4))
    lat["improving_paths_gds (k=2, incl. projection)"] = timed(
        lambda: kb.improving_paths(next(it), "citeseer", k=2, limit=10, engine="gds"), 10)
    lat["task_similarity"] = timed(
        lambda: kb.task_similarity("cora", "citeseer"), 20)
    lat["similar_tasks"] = timed(lambda: kb.similar_tasks("cora", limit=5), 50)
    lat["kb_stats"] = timed(lambda: kb.stats(), 20)
    out["query_latency"] = lat

    # The same per-step read in plain Python over in-memory dicts, for a ratio.
    from mdesign.core.space import DesignSpace, key_of
    from mdesign.kb.importers.nas_bench_graph import read_results

    sp = DesignSpace.builtin("nas-bench-graph")
    scores: dict = {}
    for r in read_results(sp, DATASETS):
        scores.setdefault(r.task, {})[r.key] = r.score
    keys = [key_of(u) for u in sample]
    it2 = iter(keys * 100)

    def in_memory() -> None:
        k = next(it2)
        for *_, n in sp.neighbour_keys(k):
            [scores[t].get(n, 0.0) - scores[t].get(k, 0.0) for t in tasks[1:]]

    lat_mem = timed(in_memory, args.repeats)
    out["in_memory_neighbours_with_gains"] = lat_mem
    out["ratio_neighbours_db_vs_memory"] = round(
        lat["neighbours_with_gains"]["median_ms"] / lat_mem["median_ms"], 1)
    kb.close()

    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "kb.json").write_text(json.dumps(out, indent=2) + "\n")
    (RESULTS / "kb.md").write_text(markdown(out))
    print(markdown(out))


def markdown(o: dict) -> str:
    m = o["machine"]
    lines = ["# Knowledge-base benchmark (NAS-Bench-Graph)", "",
             f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, "
             f"Python {m['python']}. One run; latencies are medians and p95 over the "
             "stated number of calls.", ""]
    c = o["counts"]
    lines += ["| architectures | results | edits | gains |", "|---|---|---|---|",
              f"| {c['architectures']:,} | {c['results']:,} | {c['edits']:,} | {c['gains']:,} |",
              ""]
    if "import" in o:
        i = o["import"]
        lines += ["## Full import (empty store, end to end, evidence included)", "",
                  "| wall (s) | rows/s | results+edits/s | gains/s | target |",
                  "|---|---|---|---|---|",
                  f"| {i['wall_s']} | {i['rows_per_s']:,} | {i['results_and_edits_per_s']:,} "
                  f"| {i['gains_per_s']:,} "
                  f"| <= 180 s: {'met' if i['wall_s'] <= 180 else 'MISSED'} |",
                  ""]
    lines += ["## Evidence rebuild of all 9 tasks on an already imported store", "",
              "| builder | seconds | gains | gains/s |", "|---|---|---|---|"]
    for k, v in o["evidence_rebuild"].items():
        lines.append(f"| {k} | {v['seconds']} | {v['gains']:,} | {v['gains_per_s']:,} |")
    lines += ["", "## Query latency", "", "| query | calls | median ms | p95 ms | target |",
              "|---|---|---|---|---|"]
    for k, v in o["query_latency"].items():
        target = ""
        if k in ("best_architectures", "neighbours_with_gains"):
            target = f"<= 20 ms median: {'met' if v['median_ms'] <= 20 else 'MISSED'}"
        elif k == "similar_tasks":  # issue 22: under a second on the full knowledge base
            target = f"< 1000 ms median: {'met' if v['median_ms'] < 1000 else 'MISSED'}"
        lines.append(f"| {k} | {v['calls']} | {v['median_ms']} | {v['p95_ms']} | {target} |")
    mem = o["in_memory_neighbours_with_gains"]
    lines += ["", f"Plain-Python in-memory neighbours-with-gains (same step, dicts): median "
              f"{mem['median_ms']} ms; the Neo4j query is {o['ratio_neighbours_db_vs_memory']}x "
              "that, measured in the same run.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()

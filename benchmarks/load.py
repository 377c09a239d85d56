"""Load test: concurrent clients running the refinement's queries through the Python API.

Bounded and loopback only: ``--threads`` client threads (default 8), each with its own
:class:`~mdesign.kb.KnowledgeBase`, make ``--calls`` calls (default 200) of each per-step
query of a refinement, one query after the other, against the full NAS-Bench-Graph
knowledge base of the server mdesign connects to (the managed one of ``MDESIGN_HOME``, or
``NEO4J_URI`` if it names a loopback address). The per-run queries, which read a whole
task or search the edit graph, get ``--heavy-calls`` calls per thread (default 5).
Reports errors, p50/p95/p99 per query, the driver's notification log lines and the JVM's
memory (resident set of the server process from /proc, heap from JMX) before and after.
Writes ``benchmarks/results/load.json`` and ``benchmarks/results/load.md``.

    mdesign kb import nas-bench-graph     # once, in the same MDESIGN_HOME
    python benchmarks/load.py [--threads 8] [--calls 200] [--heavy-calls 5]
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import logging
import math
import os
import random
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mdesign.benchmarks.report import RESULTS, machine

SPACE = "nas-bench-graph"
TARGET = "cora"
SOURCES = ["citeseer", "pubmed", "cs"]


class NotificationCounter(logging.Handler):
    """Counts what the driver logs about server notifications (0 expected)."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.count = 0
        self.first: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.INFO:
            self.count += 1
            self.first = self.first or record.getMessage()[:300]


def percentile(sorted_ms: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_ms:
        return float("nan")
    return sorted_ms[max(1, math.ceil(q / 100 * len(sorted_ms))) - 1]


def jvm_memory(kb: Any, pid: int | None) -> dict[str, Any]:
    out: dict[str, Any] = {"rss_mib": None, "heap_used_mib": None, "heap_committed_mib": None,
                           "heap_max_mib": None}
    if pid is not None:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    out["rss_mib"] = round(int(line.split()[1]) / 1024, 1)
        except OSError:
            pass
    try:
        rows = kb.driver.execute_query(
            "CALL dbms.queryJmx('java.lang:type=Memory') YIELD attributes "
            "RETURN attributes.HeapMemoryUsage.value.properties AS heap",
            database_=kb.database)[0]
        heap = rows[0]["heap"]
        for k in ("used", "committed", "max"):
            out[f"heap_{k}_mib"] = round(heap[k] / 2**20, 1)
    except Exception as exc:  # JMX is optional: report why it is missing
        out["heap_error"] = str(exc)[:200]
    return out


def run_phase(kbs: list[Any], name: str, calls: int,
              call: Callable[[Any, random.Random], Any]) -> dict[str, Any]:
    """Every thread makes ``calls`` calls of ``call(kb, rng)`` at once; latencies in ms."""
    times: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(len(kbs))

    def worker(index: int) -> None:
        rng = random.Random(f"{name}-{index}")
        mine, bad = [], []
        barrier.wait()
        for _ in range(calls):
            t = time.perf_counter()
            try:
                call(kbs[index], rng)
            except Exception as exc:
                bad.append(f"{type(exc).__name__}: {exc}"[:300])
                continue
            mine.append((time.perf_counter() - t) * 1000)
        with lock:
            times.extend(mine)
            errors.extend(bad)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(i,), daemon=True)
               for i in range(len(kbs))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    wall = time.perf_counter() - t0
    times.sort()
    total = calls * len(kbs)
    print(f"{name}: {total} calls in {wall:.1f} s, {len(errors)} errors", file=sys.stderr)
    return {"calls": total, "errors": len(errors), "first_error": errors[0] if errors else None,
            "wall_s": round(wall, 2), "calls_per_s": round(total / wall, 1),
            "p50_ms": round(percentile(times, 50), 2), "p95_ms": round(percentile(times, 95), 2),
            "p99_ms": round(percentile(times, 99), 2),
            "max_ms": round(times[-1], 2) if times else None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--calls", type=int, default=200, help="calls per thread, per-step queries")
    ap.add_argument("--heavy-calls", type=int, default=5,
                    help="calls per thread of the per-run queries (whole task, GDS search)")
    args = ap.parse_args()
    if not (1 <= args.threads <= 64 and 1 <= args.calls <= 10_000
            and 0 <= args.heavy_calls <= 1_000):
        ap.error("keep it bounded: 1-64 threads, 1-10000 calls, 0-1000 heavy calls")

    from mdesign.kb import KnowledgeBase, settings
    from mdesign.kb.server import ManagedNeo4j

    conn = settings.connection()
    host = urlsplit(conn.uri).hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        sys.exit(f"load.py runs against a loopback server only (NEO4J_URI is {conn.uri})")
    pid = ManagedNeo4j().status().pid if conn.managed else None

    counter = NotificationCounter()
    logging.getLogger("neo4j.notifications").addHandler(counter)
    logging.getLogger("neo4j.notifications").setLevel(logging.DEBUG)

    main_kb = KnowledgeBase.connect()
    spaces = {s.name: s for s in main_kb.stats().spaces}
    if SPACE not in spaces or not spaces[SPACE].architectures:
        sys.exit("the knowledge base holds no NAS-Bench-Graph: run "
                 "`mdesign kb import nas-bench-graph` first (same MDESIGN_HOME)")
    uids = [r.uid for r in main_kb.best_architectures(TARGET, limit=30_000)]
    pool = random.Random(0).sample(uids, min(2000, len(uids)))
    kbs = [KnowledgeBase.connect() for _ in range(args.threads)]
    before = jvm_memory(main_kb, pid)
    load_before = os.getloadavg()

    graph = ""  # the lookahead projection's name, set once it exists (heavy calls)

    def candidates(kb: Any, rng: random.Random) -> None:
        uid = rng.choice(pool)  # one refinement step: the neighbours, then their scores
        kb.source_scores([uid, *(n.uid for n in kb.neighbours(uid, SOURCES))], SOURCES)

    per_step: dict[str, Callable[[Any, random.Random], Any]] = {
        "best_architectures (limit 50)":
            lambda kb, rng: kb.best_architectures(rng.choice([TARGET, *SOURCES]), limit=50),
        "neighbours_with_gains (3 tasks)":
            lambda kb, rng: kb.neighbours(rng.choice(pool), SOURCES),
        "source_scores (1 uid, 3 tasks)":
            lambda kb, rng: kb.source_scores([rng.choice(pool)], SOURCES),
        "source_scores (20 uids, 3 tasks)":
            lambda kb, rng: kb.source_scores(rng.sample(pool, 20), SOURCES),
        "step: neighbours + their source_scores": candidates,
    }
    set_up: dict[str, Callable[[Any, random.Random], Any]] = {
        "tasks_in_space (source_tasks)":
            lambda kb, rng: kb.tasks_in_space(SPACE, exclude=TARGET),
        "task (task_list)": lambda kb, rng: kb.task(rng.choice(SOURCES)),
    }
    per_run: dict[str, Callable[[Any, random.Random], Any]] = {
        "task_scores (task_results: a whole task)":
            lambda kb, rng: kb.task_scores(rng.choice(SOURCES), SPACE),
        "lookahead_ball_gds (k=2)":
            lambda kb, rng: kb.lookahead_ball(graph, rng.choice(pool), k=2),
    }

    t0 = time.perf_counter()
    results: dict[str, Any] = {}
    for name, call in per_step.items():
        results[name] = {"kind": "per step", **run_phase(kbs, name, args.calls, call)}
    for name, call in set_up.items():
        results[name] = {"kind": "per run", **run_phase(kbs, name, args.calls, call)}
    if args.heavy_calls:
        with main_kb.lookahead_graph() as projection:
            graph = projection.graph
            for name, call in per_run.items():
                results[name] = {"kind": "per run, heavy",
                                 **run_phase(kbs, name, args.heavy_calls, call)}
    wall = time.perf_counter() - t0
    after = jvm_memory(main_kb, pid)
    load_after = os.getloadavg()
    for kb in kbs:
        kb.close()
    main_kb.close()

    step = [v for v in results.values() if v["kind"] == "per step"]
    out = {"machine": {**machine(), "nproc": len(os.sched_getaffinity(0))},
           "server": conn.uri, "managed": conn.managed,
           "store": {"space": SPACE, "architectures": spaces[SPACE].architectures,
                     "edits": spaces[SPACE].edits},
           "threads": args.threads, "calls_per_thread": args.calls,
           "heavy_calls_per_thread": args.heavy_calls, "wall_s": round(wall, 1),
           "errors": sum(v["errors"] for v in results.values()),
           "per_step_calls": sum(v["calls"] for v in step),
           "notification_log_lines": counter.count, "first_notification": counter.first,
           "loadavg_1_5_15_before": [round(x, 2) for x in load_before],
           "loadavg_1_5_15_after": [round(x, 2) for x in load_after],
           "jvm_before": before, "jvm_after": after, "queries": results}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "load.json").write_text(json.dumps(out, indent=2) + "\n")
    (RESULTS / "load.md").write_text(markdown(out))
    print(markdown(out))


def _mib(v: Any) -> str:
    return "n/a" if v is None else f"{v:,.0f}"


def markdown(o: dict) -> str:
    m = o["machine"]
    lines = ["# Load test: concurrent refinement queries (NAS-Bench-Graph)", "",
             f"Machine: {m['cpu']}, nproc {m['nproc']} ({m['cores']} CPUs), "
             f"{m['memory_gib']} GiB, "
             f"Python {m['python']}. Server {o['server']} "
             f"({'managed' if o['managed'] else 'NEO4J_URI'}), store "
             f"{o['store']['architectures']:,} architectures, {o['store']['edits']:,} edits. "
             f"{o['threads']} client threads, each with its own KnowledgeBase, all calling "
             f"one query at a time: {o['calls_per_thread']} calls per thread of each query, "
             f"{o['heavy_calls_per_thread']} of the heavy per-run ones (a whole task's "
             "results; the GDS lookahead search, on a projection made once). Per step: what "
             "a refinement step runs; per run: its set-up. One run, "
             f"{o['wall_s']} s; latencies per call as the client sees them (queueing for "
             "the cores included).", "",
             f"Errors: {o['errors']}. Driver notification log lines: "
             f"{o['notification_log_lines']}. Machine load average (1, 5, 15 min) before "
             f"{o['loadavg_1_5_15_before']}, after {o['loadavg_1_5_15_after']}: the cores "
             "are shared with other work, which the latencies include.", "",
             "| query | kind | calls | errors | calls/s | p50 ms | p95 ms | p99 ms | max ms |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, v in o["queries"].items():
        lines.append(f"| {name} | {v['kind']} | {v['calls']:,} | {v['errors']} "
                     f"| {v['calls_per_s']} | {v['p50_ms']} | {v['p95_ms']} | {v['p99_ms']} "
                     f"| {v['max_ms']} |")
    b, a = o["jvm_before"], o["jvm_after"]
    lines += ["", "## JVM memory (server process)", "",
              "| | RSS MiB | heap used MiB | heap committed MiB | heap max MiB |",
              "|---|---|---|---|---|"]
    for label, x in (("before", b), ("after", a)):
        lines.append(f"| {label} | {_mib(x['rss_mib'])} | {_mib(x['heap_used_mib'])} "
                     f"| {_mib(x['heap_committed_mib'])} | {_mib(x['heap_max_mib'])} |")
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()

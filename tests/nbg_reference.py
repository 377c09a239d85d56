"""Pure-Python reference over the NAS-Bench-Graph tables, for checking the queries."""

from __future__ import annotations

import contextlib
import functools
import io
from collections import defaultdict, deque

from mdesign.core.space import load_space, nas_bench_graph_hash
from mdesign.kb.importers.nas_bench_graph import DATASETS
from nas_bench_graph import light_read

SPACE = load_space("nas-bench-graph")


def uid(key: str) -> str:
    return f"nas-bench-graph/{key}"


@functools.cache
def keys_by_hash() -> dict[int, str]:
    return {nas_bench_graph_hash(a): SPACE.key(a) for a in SPACE.enumerate()}


@functools.cache
def table(dataset: str) -> dict[str, dict]:
    """uid -> {valid, test, latency, params} of one dataset."""
    with contextlib.redirect_stdout(io.StringIO()):
        raw = light_read(dataset)
    kh = keys_by_hash()
    return {uid(kh[h]): {"valid": float(e["valid_perf"]), "test": float(e["perf"]),
                         "latency": float(e["latency"]), "params": float(e["para"]) * 1e6}
            for h, e in raw.items()}


@functools.cache
def adjacency() -> dict[str, dict[str, tuple[str, str, str]]]:
    """uid -> neighbour uid -> (dimension, from, to) seen from the first uid.

    The edit relation is symmetric here (stored as unordered pairs) even where
    canonicalisation makes it one-sided."""
    adj: dict[str, dict[str, tuple[str, str, str]]] = defaultdict(dict)
    for key in sorted(keys_by_hash().values()):
        for dim, frm, to, nkey in SPACE.neighbour_keys(key):
            adj[uid(key)].setdefault(uid(nkey), (dim, frm, to))
            adj[uid(nkey)].setdefault(uid(key), (dim, to, frm))
    return adj


def improving_reach(start: str, dataset: str, k: int) -> dict[str, tuple[int, float]]:
    """target -> (fewest improving edits, total gain) within k edits."""
    scores = {u: r["valid"] for u, r in table(dataset).items()}
    adj = adjacency()
    hops = {start: 0}
    queue = deque([start])
    while queue:
        x = queue.popleft()
        if hops[x] == k:
            continue
        for y in adj[x]:
            if y in hops or y not in scores or x not in scores:
                continue
            if scores[y] - scores[x] > 0:
                hops[y] = hops[x] + 1
                queue.append(y)
    return {t: (h, scores[t] - scores[start]) for t, h in hops.items() if h > 0}


ALL = DATASETS

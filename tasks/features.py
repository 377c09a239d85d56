"""Dataset meta-features of a task, with the names of the NAS-Bench-Graph feature table.

For a graph with n nodes, m directed edges (both directions of an undirected edge count),
degrees d_v and labels y::

    nodes = n, edges = m, log_nodes = log10 n, avg_degree = m / n,
    density = m / (n (n - 1)), degree_std = std(d), max_degree = max(d),
    edge_homophily = share of edges (u, v) with y_u = y_v   (node tasks)
    features = feature columns, classes = label count (2 for link prediction)

Graph tasks average the per-graph sizes and degrees over their graphs and add
``graphs`` (their number). Degrees and edge homophily come from PyTorch Geometric's
``torch_geometric.utils.degree`` and ``homophily(..., method="edge")``.
"""

from __future__ import annotations

import math

import torch
from mdesign.training.data import TaskData
from torch_geometric.data import Data
from torch_geometric.utils import degree, homophily


def _graph_stats(d: Data) -> dict[str, float]:
    n, m = d.num_nodes, d.edge_index.size(1)
    deg = degree(d.edge_index[0], num_nodes=n, dtype=torch.float)
    return {"nodes": float(n), "edges": float(m), "avg_degree": m / n if n else 0.0,
            "density": m / (n * (n - 1)) if n > 1 else 0.0,
            "degree_std": float(deg.std(unbiased=False)) if n else 0.0,
            "max_degree": float(deg.max()) if n else 0.0}


def meta_features(task: TaskData) -> dict[str, float]:
    if task.kind == "graph":
        per = [_graph_stats(g) for g in task.graphs]
        out = {k: sum(p[k] for p in per) / len(per) for k in per[0]}
        out["graphs"] = float(len(task.graphs))
    else:
        d = task.graph
        assert d is not None
        out = _graph_stats(d)
        if task.kind == "node" and d.y is not None and d.edge_index.size(1):
            out["edge_homophily"] = float(homophily(d.edge_index, d.y, method="edge"))
    out["log_nodes"] = math.log10(out["nodes"]) if out["nodes"] > 0 else 0.0
    out["features"] = float(task.num_features)
    out["classes"] = float(task.num_outputs if task.kind != "link" else 2)
    return {k: round(v, 6) for k, v in out.items()}

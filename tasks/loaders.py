"""Read a task's data and refuse what cannot be trained on, with one clear line.

Accepted ``--data``:

* a file saved with ``torch.save``: a PyG ``Data`` (node or link task), a list of
  ``Data`` or a PyG dataset (graph task; a one-graph dataset also serves node and link
  tasks);
* a TU-format folder (``NAME_A.txt``, ``NAME_graph_indicator.txt``,
  ``NAME_graph_labels.txt``, optional ``NAME_node_labels.txt`` / ``NAME_node_attributes.txt``):
  a graph task;
* a folder of CSV files (node and link tasks, see docs/tasks.md): ``edges.csv``
  (``source,target``, undirected), ``nodes.csv`` (``id`` then numeric feature columns),
  ``labels.csv`` (``id,label``; node tasks), optional ``splits.csv`` (``id,split`` with
  ``train``/``val``/``test``);
* a built-in task: ``builtin:mutag`` (the MUTAG files shipped in the grakel wheel),
  ``builtin:karate`` (PyG's KarateClub), ``builtin:sbm`` or
  ``builtin:sbm:BLOCKS:SIZE[:P_IN:P_OUT[:SIGNAL]]`` (a stochastic block model).
"""

from __future__ import annotations

import contextlib
import csv
import io
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch
from mdesign.core.errors import InputError
from mdesign.training.data import TaskData, graph_task, karate_task, link_task, node_task, sbm_task
from torch_geometric.data import Data

KINDS = ("node", "graph", "link")


def load_task_data(source: str, kind: str) -> TaskData:
    if kind not in KINDS:
        raise InputError(f"unknown task kind {kind!r}", f"use one of {', '.join(KINDS)}")
    if source.startswith("builtin:"):
        return _builtin(source.removeprefix("builtin:"), kind)
    path = Path(source)
    if not path.exists():
        raise InputError(f"data path {path} does not exist", "check the path (or use "
                         "builtin:mutag, builtin:karate, builtin:sbm)")
    if path.is_dir():
        if list(path.glob("*_A.txt")):
            graphs = _read_tu(path)
        elif (path / "edges.csv").exists():
            return _as_kind([_read_csv(path, kind)], kind, source)
        else:
            raise InputError(f"{path} is neither a TU-format folder (NAME_A.txt ...) nor a "
                             "CSV folder (edges.csv ...)", "see docs/tasks.md for the formats")
    else:
        graphs = _read_saved(path)
    return _as_kind(graphs, kind, source)


def _as_kind(graphs: list[Data], kind: str, source: str) -> TaskData:
    for i, g in enumerate(graphs):
        validate(g, f"{source}" + (f" graph {i}" if len(graphs) > 1 else ""),
                 labels=kind != "link")
    if kind == "graph":
        if len(graphs) < 2:
            raise InputError(f"{source} holds one graph, not a set of graphs",
                             "use --kind node or link, or give a dataset of graphs")
        return graph_task(graphs)
    if len(graphs) != 1:
        raise InputError(f"{source} holds {len(graphs)} graphs; a {kind} task needs one",
                         "use --kind graph")
    return node_task(graphs[0]) if kind == "node" else link_task(
        Data(x=graphs[0].x, edge_index=graphs[0].edge_index))


def validate(d: Data, where: str, labels: bool = True) -> None:
    """Refuse a graph that training cannot use (one line saying which and why)."""
    if d.x is None:
        raise InputError(f"{where}: no node features (x)", "add features, e.g. ones or degrees")
    n = d.x.size(0)
    if n == 0:
        raise InputError(f"{where}: the graph is empty (0 nodes)", "give a graph with nodes")
    if d.edge_index is None or d.edge_index.numel() == 0:
        raise InputError(f"{where}: the graph has no edges", "give at least one edge")
    if d.edge_index.dim() != 2 or d.edge_index.size(0) != 2:
        raise InputError(f"{where}: edge_index has shape {tuple(d.edge_index.shape)}, not "
                         "[2, E]", "store edges as a 2 x E tensor")
    top = int(d.edge_index.max())
    if top >= n or int(d.edge_index.min()) < 0:
        raise InputError(f"{where}: an edge refers to node {top} but x has {n} rows",
                         "features and edges must describe the same nodes")
    bad = int((~torch.isfinite(d.x.float())).sum())
    if bad:
        raise InputError(f"{where}: x has {bad} NaN or infinite values",
                         "clean or impute the features")
    if labels:
        if d.y is None:
            raise InputError(f"{where}: no labels (y)", "add labels, or use --kind link")
        per_graph = d.y.numel() == 1
        if not per_graph and d.y.size(0) != n:
            raise InputError(f"{where}: y has {d.y.size(0)} labels for {n} nodes",
                             "give one label per node (node task) or per graph")
        if int(d.y.min()) < 0:
            raise InputError(f"{where}: negative class label {int(d.y.min())}",
                             "labels must be 0..C-1")


def _read_saved(path: Path) -> list[Data]:
    try:
        obj: Any = torch.load(path, weights_only=False)
    except Exception as exc:
        raise InputError(f"{path} cannot be read by torch.load ({type(exc).__name__})",
                         "save a PyG Data, a list of Data or a dataset with torch.save") \
            from None
    if isinstance(obj, Data):
        return [obj]
    if isinstance(obj, (list, tuple)) or (hasattr(obj, "__getitem__") and hasattr(obj,
                                                                                 "__len__")):
        graphs = [obj[i] for i in range(len(obj))]
        if graphs and all(isinstance(g, Data) for g in graphs):
            return graphs
    raise InputError(f"{path} holds a {type(obj).__name__}, not PyG graph data",
                     "save a PyG Data, a list of Data or a dataset with torch.save")


def _read_tu(folder: Path) -> list[Data]:
    from torch_geometric.datasets import TUDataset

    name = next(folder.glob("*_A.txt")).name.removesuffix("_A.txt")
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / name / "raw"
        raw.mkdir(parents=True)
        for f in folder.glob(f"{name}_*.txt"):
            shutil.copy(f, raw / f.name)
        try:
            with contextlib.redirect_stdout(io.StringIO()), \
                    contextlib.redirect_stderr(io.StringIO()):  # PyG prints "Processing..."
                ds = TUDataset(tmp, name, use_node_attr=True)
        except Exception as exc:
            raise InputError(f"{folder}: the TU files cannot be read ({exc})",
                             "check the TU format: NAME_A.txt, NAME_graph_indicator.txt, "
                             "NAME_graph_labels.txt") from None
        graphs = [ds[i] for i in range(len(ds))]
    for g in graphs:
        if g.x is None:  # no node labels or attributes: constant features
            g.x = torch.ones(g.num_nodes, 1)
    return graphs


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def _read_csv(folder: Path, kind: str) -> Data:
    nodes_file = folder / "nodes.csv"
    if not nodes_file.exists():
        raise InputError(f"{folder} has edges.csv but no nodes.csv", "add nodes.csv (id, "
                         "feature columns)")
    nodes = _rows(nodes_file)
    if not nodes or "id" not in nodes[0]:
        raise InputError(f"{nodes_file} needs an `id` column and at least one row",
                         "see docs/tasks.md")
    index = {r["id"]: i for i, r in enumerate(nodes)}
    cols = [c for c in nodes[0] if c != "id"]
    try:
        x = torch.tensor([[float(r[c]) for c in cols] for r in nodes]) if cols else \
            torch.ones(len(nodes), 1)
    except ValueError as exc:
        raise InputError(f"{nodes_file}: a feature is not a number ({exc})",
                         "features must be numeric") from None
    src, dst = [], []
    for line, r in enumerate(_rows(folder / "edges.csv"), start=2):
        try:
            a, b = index[r["source"]], index[r["target"]]
        except KeyError:
            raise InputError(f"{folder / 'edges.csv'}: line {line} names a node that is not "
                             "in nodes.csv (or lacks source/target)",
                             "every edge end must be an id of nodes.csv") from None
        src += [a, b]
        dst += [b, a]
    d = Data(x=x, edge_index=torch.tensor([src, dst], dtype=torch.long))
    if kind == "node":
        labels_file = folder / "labels.csv"
        if not labels_file.exists():
            raise InputError(f"{folder} has no labels.csv", "a node task needs labels.csv "
                             "(id, label)")
        labels = {r["id"]: r["label"] for r in _rows(labels_file)}
        if len(labels) != len(nodes) or set(labels) != set(index):
            raise InputError(f"{labels_file} labels {len(labels)} nodes, nodes.csv has "
                             f"{len(nodes)}", "give exactly one label per node")
        classes = {c: i for i, c in enumerate(sorted(set(labels.values())))}
        d.y = torch.tensor([classes[labels[r["id"]]] for r in nodes])
        splits_file = folder / "splits.csv"
        if splits_file.exists():
            split = {r["id"]: r["split"] for r in _rows(splits_file)}
            for name in ("train", "val", "test"):
                d[f"{name}_mask"] = torch.tensor([split.get(r["id"]) == name for r in nodes])
    return d


def _builtin(name: str, kind: str) -> TaskData:
    parts = name.split(":")
    if parts[0] == "karate":
        if kind != "node":
            raise InputError("builtin:karate is a node task", "use --kind node")
        return karate_task()
    if parts[0] == "sbm":
        if kind == "graph":
            raise InputError("builtin:sbm is one graph", "use --kind node or link")
        task = sbm_task(**_sbm_parameters(name))
        return task if kind == "node" else link_task(
            Data(x=task.graph.x, edge_index=task.graph.edge_index))  # type: ignore[union-attr]
    if parts[0] == "mutag":
        if kind != "graph":
            raise InputError("builtin:mutag is a graph classification task",
                             "use --kind graph")
        return graph_task(_read_tu(mutag_folder()))
    raise InputError(f"unknown built-in task {name!r}",
                     "use builtin:mutag, builtin:karate or "
                     "builtin:sbm[:BLOCKS:SIZE[:P_IN:P_OUT[:SIGNAL]]]")


def _sbm_parameters(name: str) -> dict[str, Any]:
    """``sbm[:BLOCKS:SIZE[:P_IN:P_OUT[:SIGNAL]]]`` as keyword arguments of ``sbm_task``.

    The probabilities and the feature signal make a task as hard as a benchmark needs:
    the defaults (0.2 / 0.02, signal 0.5) are separable by any message passing."""
    fields = name.split(":")[1:]
    if not fields:
        return {}
    try:  # every way a field can be wrong gets the same line: the grammar and an example
        if len(fields) not in (2, 4, 5):
            raise ValueError
        out: dict[str, Any] = {"blocks": int(fields[0]), "size": int(fields[1])}
        for key, text in zip(("p_in", "p_out", "signal"), fields[2:], strict=False):
            out[key] = float(text)
        if (out["blocks"] < 2 or out["size"] < 1
                or not all(0 < out[k] <= 1 for k in ("p_in", "p_out") if k in out)
                or not 0 <= out.get("signal", 0.0) < float("inf")):  # NaN fails too
            raise ValueError
    except ValueError:
        raise InputError(f"builtin:{name}: give builtin:sbm:BLOCKS:SIZE[:P_IN:P_OUT[:SIGNAL]] "
                         "with integers BLOCKS >= 2 and SIZE >= 1, probabilities P_IN and "
                         "P_OUT in (0, 1] and SIGNAL >= 0",
                         "e.g. builtin:sbm:5:200:0.05:0.01:0.3") from None
    return out


def mutag_folder() -> Path:
    """MUTAG in TU format, as shipped inside the grakel wheel (installed without deps)."""
    import importlib.util

    spec = importlib.util.find_spec("grakel")
    if spec is None or not spec.submodule_search_locations:
        raise InputError("the grakel package (which ships MUTAG) is not installed",
                         "run scripts/bootstrap.sh")
    folder = Path(next(iter(spec.submodule_search_locations))) / "tests" / "data" / "MUTAG"
    if not folder.is_dir():
        raise InputError(f"MUTAG files not found in {folder}", "reinstall grakel==0.1.11")
    return folder

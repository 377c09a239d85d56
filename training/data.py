"""A task's graph data with fixed splits (:class:`TaskData`), and built-in tasks.

Splits are drawn once with a fixed seed, so that every architecture is compared on the
same split; training seeds vary the model's initialisation only.

* node classification: one graph; ``train/val/test`` node masks (the data's own when
  it has them, else 60/20/20 at random);
* graph classification: a list of graphs split 80/10/10;
* link prediction: one graph whose edges are split 85/5/10 (PyG ``RandomLinkSplit``);
  validation and test carry as many sampled non-edges as edges.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
from mdesign.core.errors import InputError
from torch_geometric.data import Data

SPLIT_SEED = 0


@dataclass
class TaskData:
    kind: str
    num_features: int
    num_outputs: int
    graph: Data | None = None  # node and link tasks
    graphs: list[Data] = field(default_factory=list)  # graph tasks
    split: dict[str, list[int]] = field(default_factory=dict)  # graph tasks
    link: dict[str, Data] = field(default_factory=dict)  # link tasks: train/val/test


def _random_masks(n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(SPLIT_SEED))
    a, b = int(0.6 * n), int(0.8 * n)
    masks = []
    for idx in (perm[:a], perm[a:b], perm[b:]):
        m = torch.zeros(n, dtype=torch.bool)
        m[idx] = True
        masks.append(m)
    return masks[0], masks[1], masks[2]


def node_task(data: Data) -> TaskData:
    if data.x is None or data.y is None:
        raise InputError("a node task needs node features x and labels y",
                         "give both (see docs/tasks.md)")
    if not all(hasattr(data, m) and data[m] is not None
               for m in ("train_mask", "val_mask", "test_mask")):
        data = data.clone()
        data.train_mask, data.val_mask, data.test_mask = _random_masks(data.num_nodes)
    return TaskData("node", data.num_features, int(data.y.max()) + 1, graph=data)


def graph_task(graphs: list[Data]) -> TaskData:
    if len(graphs) < 10:
        raise InputError(f"a graph task needs at least 10 graphs (got {len(graphs)})",
                         "add graphs or use a node task")
    perm = torch.randperm(len(graphs), generator=torch.Generator().manual_seed(SPLIT_SEED))
    a, b = int(0.8 * len(graphs)), int(0.9 * len(graphs))
    classes = int(max(int(g.y.max()) for g in graphs)) + 1
    return TaskData("graph", graphs[0].num_features, classes, graphs=graphs,
                    split={"train": perm[:a].tolist(), "val": perm[a:b].tolist(),
                           "test": perm[b:].tolist()})


@contextmanager
def python_random(seed: int) -> Iterator[None]:
    """Seed Python's ``random`` inside the block and give the caller its state back.
    PyG's negative sampling (the link split's non-edges, and each training epoch's)
    draws from it, so without this a link task's split and a seed's result depended on
    what ran before."""
    state = random.getstate()
    random.seed(seed)
    try:
        yield
    finally:
        random.setstate(state)


def link_task(data: Data) -> TaskData:
    from torch_geometric.transforms import RandomLinkSplit

    torch.manual_seed(SPLIT_SEED)
    with python_random(SPLIT_SEED):
        train, val, test = RandomLinkSplit(num_val=0.05, num_test=0.1, is_undirected=True,
                                           add_negative_train_samples=False)(data)
    return TaskData("link", data.num_features, 1, graph=data,
                    link={"train": train, "val": val, "test": test})


def sbm_task(blocks: int = 2, size: int = 50, p_in: float = 0.2, p_out: float = 0.02,
             features: int = 8, signal: float = 0.5, seed: int = 0) -> TaskData:
    """A stochastic-block-model node task: labels are blocks; features are noise plus
    ``signal`` times a one-hot of the block in the first ``blocks`` columns."""
    from torch_geometric.utils import stochastic_blockmodel_graph

    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    probs = [[p_in if i == j else p_out for j in range(blocks)] for i in range(blocks)]
    edge_index = stochastic_blockmodel_graph([size] * blocks, probs)
    y = torch.arange(blocks).repeat_interleave(size)
    x = torch.randn(blocks * size, features, generator=g)
    x[torch.arange(len(y)), y % features] += signal
    return node_task(Data(x=x, edge_index=edge_index, y=y))


def karate_task() -> TaskData:
    from torch_geometric.datasets import KarateClub

    d = KarateClub()[0]
    d = Data(x=d.x, edge_index=d.edge_index, y=d.y)  # 4 classes; its train_mask has 4 nodes
    return node_task(d)

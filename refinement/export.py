"""Export a found architecture: a design config (YAML) or a standalone PyTorch Geometric
module file that imports and trains without mdesign installed.

The module file embeds the architecture as data and carries its own small copies of the
operations, the NAS-Bench-Graph cell, the GraphGym encoder and the heads (the same maths
as :mod:`mdesign.models`; a test checks that both give the same outputs for the same
weights). Its ``build()`` returns the model; ``python FILE`` trains it for a few epochs on
a random graph as a smoke test.
"""

from __future__ import annotations

import pprint
from typing import Any

import yaml
from mdesign.core.errors import InputError
from mdesign.core.space import key_choices, key_of
from mdesign.models.builder import family
from mdesign.refinement.runs import load_run
from mdesign.tasks.store import load_task
from mdesign.training.config import TrainConfig

_MODULE = '''"""{title}

Exported by mdesign {version}: a standalone PyTorch Geometric module (needs only torch
and torch_geometric). ``build()`` returns the model; ``model(data)`` gives node logits
(node tasks), graph logits (graph tasks) or edge logits for ``data.edge_label_index``
(link tasks).
"""

from pathlib import Path

import torch
from torch import nn
from torch_geometric import nn as gnn

CONFIG = {config}
# the trained weights' file, beside this one ({weights_note})
WEIGHTS = {weights!r}


class Op(nn.Module):
    def __init__(self, name, in_dim, out_dim, aggr=None):
        super().__init__()
        self.name, self.graph = name, name not in ("fc", "skip")
        kw = {{}} if aggr is None else {{"aggr": aggr}}
        if name == "gcn":
            self.layer = gnn.GCNConv(in_dim, out_dim)
        elif name == "gat":
            self.layer = gnn.GATConv(in_dim, out_dim // 2, heads=2)
        elif name == "gin":
            self.layer = gnn.GINConv(nn.Sequential(nn.Linear(in_dim, out_dim), nn.ReLU(),
                                                   nn.Linear(out_dim, out_dim)), **kw)
        elif name == "cheb":
            self.layer = gnn.ChebConv(in_dim, out_dim, K=2)
        elif name == "sage":
            self.layer = gnn.SAGEConv(in_dim, out_dim, **kw)
        elif name == "arma":
            self.layer = gnn.ARMAConv(in_dim, out_dim)
        elif name == "graph":
            self.layer = gnn.GraphConv(in_dim, out_dim, **kw)
        elif name == "fc":
            self.layer = nn.Linear(in_dim, out_dim)
        else:
            self.layer = nn.Identity()

    def forward(self, x, edge_index):
        return self.layer(x, edge_index) if self.graph else self.layer(x)


class NasBenchGraphCell(nn.Module):
    def __init__(self, link, ops, in_dim, dim, dropout):
        super().__init__()
        self.fathers = [int(c) for c in link]
        self.pre = nn.Linear(in_dim, dim)
        self.ops = nn.ModuleList(Op(op, dim, dim) for op in ops)
        self.leaves = [i for i in range(4) if i + 1 not in self.fathers]
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, edge_index):
        states = [torch.relu(self.pre(x))]
        for op, father in zip(self.ops, self.fathers):
            h = op(self.dropout(states[father]), edge_index)
            states.append(h if op.name == "skip" else torch.relu(h))
        return torch.stack([states[i + 1] for i in self.leaves]).sum(dim=0)


ACTS = {{"relu": nn.ReLU, "prelu": nn.PReLU, "swish": nn.SiLU}}


class Block(nn.Module):
    def __init__(self, layer, dim, act, bn, dropout):
        super().__init__()
        self.layer = layer
        self.bn = nn.BatchNorm1d(dim) if bn else nn.Identity()
        self.act = ACTS[act]()
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, edge_index=None):
        h = self.layer(x, edge_index) if edge_index is not None else self.layer(x)
        return self.dropout(self.act(self.bn(h)))


class GraphGymEncoder(nn.Module):
    def __init__(self, a, in_dim):
        super().__init__()
        dim, act, drop = int(a["hidden"]), a["act"], float(a["dropout"])
        bn = str(a["batchnorm"]).lower() == "true"
        self.stage = a["stage"]
        self.pre, self.mp, self.post = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
        width = in_dim
        for _ in range(int(a["pre_layers"])):
            self.pre.append(Block(nn.Linear(width, dim), dim, act, bn, drop))
            width = dim
        for _ in range(int(a["mp_layers"])):
            self.mp.append(Block(Op(a["conv"], width, dim, aggr=a["agg"]), dim, act, bn, drop))
            width = width + dim if self.stage == "skipconcat" else dim
        for _ in range(int(a["post_layers"]) - 1):
            self.post.append(Block(nn.Linear(width, dim), dim, act, bn, drop))
            width = dim
        self.out_dim = width

    def forward(self, x, edge_index):
        for b in self.pre:
            x = b(x)
        for b in self.mp:
            m = b(x, edge_index)
            x = x + m if self.stage == "skipsum" else (
                torch.cat([x, m], dim=-1) if self.stage == "skipconcat" else m)
        for b in self.post:
            x = b(x)
        return x


class Head(nn.Module):
    def __init__(self, kind, dim, out_dim, pool):
        super().__init__()
        self.kind = kind
        self.pool = {{"add": gnn.global_add_pool, "mean": gnn.global_mean_pool,
                     "max": gnn.global_max_pool}}[pool]
        self.out = nn.Identity() if kind == "link" else nn.Linear(dim, out_dim)

    def forward(self, h, data):
        if self.kind == "node":
            return self.out(h)
        if self.kind == "graph":
            batch = data.batch if getattr(data, "batch", None) is not None else \\
                torch.zeros(h.size(0), dtype=torch.long)
            return self.out(self.pool(h, batch))
        pairs = getattr(data, "edge_label_index", None)
        pairs = data.edge_index if pairs is None else pairs
        return (h[pairs[0]] * h[pairs[1]]).sum(dim=-1)


class GraphModel(nn.Module):
    def __init__(self, encoder, head):
        super().__init__()
        self.encoder, self.head = encoder, head

    def forward(self, data):
        return self.head(self.encoder(data.x, data.edge_index), data)


def build(in_dim=CONFIG["in_dim"], out_dim=CONFIG["out_dim"], weights=True):
    """The model; with ``weights`` (and a ``WEIGHTS`` file beside this one, written by
    ``mdesign export`` when the run's best was trained), its trained weights loaded."""
    a, hp = CONFIG["architecture"], CONFIG["hyperparameters"]
    if CONFIG["family"] == "nas-bench-graph":
        enc = NasBenchGraphCell(a["link"], [a["op%d" % i] for i in range(1, 5)], in_dim,
                                hp["dim"], hp["dropout"])
        width, pool = hp["dim"], "mean"
    else:
        enc = GraphGymEncoder(a, in_dim)
        width, pool = enc.out_dim, a["agg"]
    model = GraphModel(enc, Head(CONFIG["kind"], width, out_dim, pool))
    path = Path(__file__).with_name(WEIGHTS) if WEIGHTS else None
    if weights and path is not None and path.exists():
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        model.eval()
    return model


if __name__ == "__main__":
    from torch_geometric.data import Data

    torch.manual_seed(0)
    n = 40
    data = Data(x=torch.randn(n, CONFIG["in_dim"]), edge_index=torch.randint(0, n, (2, 160)))
    model = build()
    opt = torch.optim.Adam(model.parameters(), lr=CONFIG["hyperparameters"].get("lr", 0.01))
    for epoch in range(5):
        out = model(data)
        loss = out.float().pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    print("trained 5 epochs; output", tuple(model(data).shape))
'''


def design_config(kb: Any, run_id: str, in_dim: int | None = None,
                  out_dim: int | None = None) -> dict[str, Any]:
    """The design config of a stored run's best architecture (plain data)."""
    run = load_run(kb, run_id)
    if not run.best_uid:
        raise InputError(f"run {run_id!r} has no evaluated architecture yet",
                         f"resume it first: `mdesign refine --resume {run_id}`")
    space = kb.space(run.space)
    fam = family(space)
    task = kb.task(run.task)
    if in_dim is None or out_dim is None:
        stored = kb.task_data(run.task)
        if stored is not None and stored.path:
            data = load_task(kb, run.task)
            in_dim, out_dim = in_dim or data.num_features, out_dim or data.num_outputs
        else:
            feats = task.features
            in_dim = in_dim or (int(feats["features"]) if "features" in feats else None)
            out_dim = out_dim or (1 if task.kind == "link" else
                                  int(feats["classes"]) if "classes" in feats else None)
    if in_dim is None or out_dim is None:
        raise InputError(f"the input and output sizes of task {run.task!r} are unknown",
                         "pass --in-dim and --out-dim")
    hp = run.config.train or TrainConfig()
    best = next(s for s in run.steps if s.uid == run.best_uid)
    key = key_of(run.best_uid)
    return {"run_id": run.id, "task": run.task, "kind": task.kind, "metric": task.metric,
            "space": run.space, "family": fam, "architecture_uid": run.best_uid,
            "architecture": key_choices(key),
            "in_dim": int(in_dim), "out_dim": int(out_dim),
            "hyperparameters": {"dim": hp.dim, "dropout": hp.dropout, "lr": hp.lr,
                                "weight_decay": hp.weight_decay, "epochs": hp.epochs},
            "scores": {"selection": best.score, "valid": best.valid, "test": best.test}}


def to_yaml(config: dict[str, Any]) -> str:
    return yaml.safe_dump(config, sort_keys=False)


def to_module(config: dict[str, Any], version: str, weights: str | None = None) -> str:
    """The module file; ``weights``: the name of the state-dict file beside it."""
    title = (f"{config['architecture_uid']}: the best architecture of refinement run "
             f"{config['run_id']} on task {config['task']}")
    note = "loaded by build()" if weights else "none: the run's best was not trained here"
    return _MODULE.format(title=title, version=version, weights=weights, weights_note=note,
                          config=pprint.pformat(config, sort_dicts=True, width=88))


def trained_weights(kb: Any, run_id: str) -> tuple[Any, str]:
    """The weights of a run's best architecture as its training gave them: retrained with
    the run's recorded configuration and first seed (training is seeded, so this is the
    same model; the note says the validation score it reached). ``(state dict or None,
    note)``; None with the reason when the run did not train (the benchmark oracle, an
    evaluator of your own) or the training failed."""
    run = load_run(kb, run_id)
    if run.config.evaluator != "train" or not run.best_uid:
        return None, (f"no trained weights: run {run_id} used the "
                      f"{run.config.evaluator!r} evaluator, which trains nothing here")
    from mdesign.training.trainer import train_weights

    cfg = run.config.train or TrainConfig()
    if cfg.ghn:
        return None, ("no trained weights: the run's trainings started from a graph "
                      "hypernetwork's weights; export does not retrain those")
    space = kb.space(run.space)
    state, seed_run = train_weights(space, space.parse_key(key_of(run.best_uid)),
                                    load_task(kb, run.task), cfg)
    if state is None:
        return None, f"no trained weights: the training failed ({seed_run.reason})"
    return state, (f"trained weights of seed {seed_run.seed} (validation "
                   f"{seed_run.valid:.4f}; the run's {cfg.seeds}-seed mean is its stored "
                   "score)")

"""The model builder: every operation, the NAS-Bench-Graph cell, GraphGym, heads, errors."""

from __future__ import annotations

import pytest
import torch
from mdesign.core.errors import InputError
from mdesign.core.space import DesignSpace, load_space
from mdesign.models.builder import build_model, family
from mdesign.models.nas_bench_graph import NasBenchGraphCell
from mdesign.models.ops import OPS, Op
from torch_geometric.data import Batch, Data

torch.set_num_threads(1)


def graph(n: int = 12, f: int = 5, seed: int = 0) -> Data:
    g = torch.Generator().manual_seed(seed)
    src = torch.randint(0, n, (3 * n,), generator=g)
    dst = torch.randint(0, n, (3 * n,), generator=g)
    edge_index = torch.stack([torch.cat([src, dst]), torch.cat([dst, src])])
    return Data(x=torch.randn(n, f, generator=g), edge_index=edge_index)


@pytest.mark.parametrize("name", OPS)
def test_every_operation_keeps_the_width(name: str) -> None:
    d = graph()
    width = 5 if name == "skip" else 8
    assert Op(name, 5, width)(d.x, d.edge_index).shape == (12, width)
    with pytest.raises(InputError, match="unknown operation 'conv9'"):
        Op("conv9", 4, 4)
    with pytest.raises(InputError, match="cannot change width"):
        Op("skip", 4, 8)


def test_nas_bench_graph_space_builds_every_link_pattern_for_every_kind() -> None:
    space = load_space("nas-bench-graph")
    assert family(space) == "nas-bench-graph"
    d = graph()
    links = sorted({a["link"] for a in space.enumerate()})
    assert len(links) == 9
    for i, link in enumerate(links):
        ops = [OPS[(i + j) % len(OPS)] for j in range(4)]
        arch = space.canonical_form(space.parse({"link": link, **{f"op{j + 1}": o
                                                                 for j, o in enumerate(ops)}}))
        node = build_model(space, arch, 5, 3, "node", dim=16)
        assert node(d).shape == (12, 3)
        assert build_model(space, arch, 5, 2, "graph", dim=16)(
            Batch.from_data_list([graph(seed=1), graph(seed=2)])).shape == (2, 2)
        d.edge_label_index = torch.tensor([[0, 1, 2], [3, 4, 5]])
        assert build_model(space, arch, 5, 1, "link", dim=16)(d).shape == (3,)


def test_cell_wiring_follows_the_link_pattern() -> None:
    # 0012: nodes 1, 2 read the input, node 3 reads 1, node 4 reads 2: leaves are 3 and 4
    cell = NasBenchGraphCell("0012", ["gcn", "gcn", "fc", "skip"], in_dim=5, dim=8)
    assert cell.fathers == [0, 0, 1, 2] and cell.leaves == [2, 3]
    cell.eval()
    d = graph()
    h0 = torch.relu(cell.pre(d.x))
    h2 = torch.relu(cell.ops[1](h0, d.edge_index))
    h1 = torch.relu(cell.ops[0](h0, d.edge_index))
    h3 = torch.relu(cell.ops[2](h1, d.edge_index))
    assert torch.allclose(cell(d.x, d.edge_index), h3 + h2, atol=1e-6)  # node 4 = skip(h2)
    with pytest.raises(InputError, match="not a NAS-Bench-Graph cell"):
        NasBenchGraphCell("0042", ["gcn"] * 4, 5)


@pytest.mark.parametrize("stage", ["stack", "skipsum", "skipconcat"])
def test_graphgym_stages_and_widths(stage: str) -> None:
    space = load_space("graphgym")
    assert family(space) == "graphgym"
    arch = {"pre_layers": 1, "mp_layers": 2, "post_layers": 2, "stage": stage,
            "conv": "sage", "agg": "max", "act": "prelu", "batchnorm": True,
            "dropout": 0.0, "hidden": 64}
    model = build_model(space, space.parse(arch), 5, 4, "node")
    assert model(graph()).shape == (12, 4)
    enc = model.encoder
    assert enc.out_dim == 64
    # skipconcat: the width grows by `hidden` per message-passing layer
    last_mp = enc.mp[-1].layer.layer
    assert last_mp.in_channels == (128 if stage == "skipconcat" else 64)
    bigger = build_model(space, space.parse({**arch, "hidden": 128}), 5, 4, "node")
    assert sum(p.numel() for p in bigger.parameters()) > sum(p.numel()
                                                             for p in model.parameters())


@pytest.mark.parametrize("conv", ["gcn", "gat", "gin", "sage", "graph"])
def test_graphgym_convs_on_graph_classification(conv: str) -> None:
    space = load_space("graphgym")
    arch = space.parse({"pre_layers": 2, "mp_layers": 4, "post_layers": 1, "stage": "skipsum",
                        "conv": conv, "agg": "add", "act": "swish", "batchnorm": False,
                        "dropout": 0.3, "hidden": 64})
    batch = Batch.from_data_list([graph(seed=s) for s in range(3)])
    assert build_model(space, arch, 5, 2, "graph")(batch).shape == (3, 2)


def test_unrealisable_spaces_and_bad_kinds_are_refused() -> None:
    toy = DesignSpace.from_dict({"name": "toy", "dimensions": [
        {"name": "agg", "choices": ["add"]}, {"name": "layers", "choices": [1, 2]}]})
    with pytest.raises(InputError, match="cannot realise design space 'toy'"):
        build_model(toy, {"agg": "add", "layers": 1}, 5, 2, "node")
    space = load_space("nas-bench-graph")
    arch = next(space.enumerate())
    with pytest.raises(InputError, match="unknown task kind 'edge'"):
        build_model(space, arch, 5, 2, "edge")


def test_a_cell_learns_a_planted_partition() -> None:
    """Real training: a GCN cell separates two communities of a stochastic block model."""
    from torch_geometric.utils import stochastic_blockmodel_graph

    torch.manual_seed(0)
    edge_index = stochastic_blockmodel_graph([40, 40], [[0.25, 0.01], [0.01, 0.25]])
    y = torch.tensor([0] * 40 + [1] * 40)
    d = Data(x=torch.randn(80, 4), edge_index=edge_index, y=y)
    space = load_space("nas-bench-graph")
    arch = space.canonical_form(space.parse({"link": "0123", "op1": "gcn", "op2": "gcn",
                                             "op3": "skip", "op4": "skip"}))
    model = build_model(space, arch, 4, 2, "node", dim=16, dropout=0.0)
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(60):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(d), y)
        loss.backward()
        opt.step()
    acc = (model(d).argmax(-1) == y).float().mean().item()
    assert acc > 0.9, acc

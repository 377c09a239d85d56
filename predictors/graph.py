"""Computation graphs: any ``torch.nn.Module`` as a DAG of primitive operators.

One representation for every design space (and for modules users bring): a node per
primitive operation of the forward pass, an edge per tensor flowing from one to another.
``torch.fx`` traces the module symbolically; message-passing layers and the standard
``torch.nn`` layers stay whole (leaves), everything else is unrolled into functions and
methods. Running the traced graph once on an example input records each node's output
shape (``ShapeProp``).

Node features (:func:`node_features`), following GENNAPE: a one-hot of the operator type
over :data:`OP_VOCAB` (anything else is ``other``), and normalised shapes,

.. math::
    s = \\big(\\tfrac{r}{4},\\ \\tfrac{\\log_2(1 + d_{-1})}{16},\\
    \\tfrac{\\log_2(1 + d_{-2})}{16},\\ \\tfrac{\\log_{10}(1 + p)}{8}\\big)

with ``r`` the rank of the node's output, ``d_{-1}, d_{-2}`` its last two sizes, and ``p``
the parameter count of the operator's own module (0 for functions).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence
from typing import Any

import torch
from mdesign.core.errors import InputError
from pydantic import BaseModel
from torch import fx, nn
from torch.fx.passes.shape_prop import ShapeProp
from torch_geometric.data import Data

# Operator types with a feature of their own; order is part of the checkpoint format.
OP_VOCAB: tuple[str, ...] = (
    "input", "output", "attr", "other",
    # message passing (PyG layers, kept whole)
    "GCNConv", "GATConv", "GINConv", "ChebConv", "SAGEConv", "ARMAConv", "GraphConv",
    "GatedGraphConv", "GeneralConv", "MessagePassing",
    # torch.nn layers
    "Linear", "Identity", "Dropout", "BatchNorm1d", "LayerNorm", "ReLU", "PReLU", "ELU",
    "Tanh", "Sigmoid", "LeakyReLU", "GELU", "Sequential",
    # functions and methods
    "relu", "elu", "tanh", "sigmoid", "prelu", "leaky_relu", "gelu", "dropout",
    "add", "mul", "sub", "truediv", "matmul", "cat", "stack", "sum", "mean", "max",
    "getattr", "getitem", "pool", "softmax", "log_softmax", "view", "reshape", "size",
)
_INDEX = {name: i for i, name in enumerate(OP_VOCAB)}
SHAPE_FEATURES = 4
FEATURES = len(OP_VOCAB) + SHAPE_FEATURES


class ComputationGraph(BaseModel):
    """Operators (``ops``), their output shapes and own parameter counts, and the edges
    ``(i, j)``: node ``j`` reads the output of node ``i`` (``i < j``: topological order).
    ``targets`` names what a node calls or reads in the module (the submodule's qualified
    name, or the attribute's), empty for functions: it ties parameters to nodes."""

    ops: list[str]
    shapes: list[list[int]]
    params: list[int]
    edges: list[tuple[int, int]]
    targets: list[str] = []

    @property
    def num_nodes(self) -> int:
        return len(self.ops)

    def to_data(self) -> Data:
        """The graph as a PyG ``Data`` with :func:`node_features` as ``x``."""
        edge_index = torch.tensor(self.edges, dtype=torch.long).t().reshape(2, -1)
        return Data(x=node_features(self), edge_index=edge_index, num_nodes=self.num_nodes)


def op_index(name: str) -> int:
    return _INDEX.get(name, _INDEX["other"])


def node_features(g: ComputationGraph) -> torch.Tensor:
    x = torch.zeros(g.num_nodes, FEATURES)
    for i, (op, shape, p) in enumerate(zip(g.ops, g.shapes, g.params, strict=True)):
        x[i, op_index(op)] = 1.0
        last = [shape[-1] if shape else 0, shape[-2] if len(shape) > 1 else 0]
        x[i, len(OP_VOCAB):] = torch.tensor([
            len(shape) / 4, math.log2(1 + last[0]) / 16, math.log2(1 + last[1]) / 16,
            math.log10(1 + p) / 8])
    return x


class _LeafTracer(fx.Tracer):
    """Keeps message-passing layers and aggregations (whose scatter sizes are not
    symbolically traceable) and the standard ``torch.nn`` layers whole."""

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        from mdesign.models.heads import GlobalPool
        from torch_geometric.nn.conv import MessagePassing

        return isinstance(m, (MessagePassing, GlobalPool)) or \
            super().is_leaf_module(m, qualname)


_FUNCTION_NAMES: dict[Any, str] = {
    operator.add: "add", operator.mul: "mul", operator.sub: "sub",
    operator.truediv: "truediv", operator.matmul: "matmul", operator.getitem: "getitem",
    getattr: "getattr",
}


def _op_name(node: fx.Node, modules: dict[str, nn.Module]) -> str:
    if node.op == "placeholder":
        return "input"
    if node.op == "output":
        return "output"
    if node.op == "get_attr":
        return "attr"
    if node.op == "call_module":
        name = type(modules[str(node.target)]).__name__
        return "pool" if name == "GlobalPool" else name
    if node.op == "call_method":
        return str(node.target)
    name = _FUNCTION_NAMES.get(node.target) or getattr(node.target, "__name__", "other")
    return "pool" if name.startswith("global_") and name.endswith("_pool") else name


def _shape(meta: Any) -> list[int]:
    shape = getattr(meta, "shape", None)
    if shape is None and isinstance(meta, (tuple, list)) and meta:
        shape = getattr(meta[0], "shape", None)  # first output of a tuple
    return [int(d) for d in shape] if shape is not None else []


def trace(module: nn.Module, example: Sequence[Any]) -> ComputationGraph:
    """The computation graph of ``module`` run on the arguments ``example``.

    Raises :class:`~mdesign.core.errors.InputError` (one line) when the forward pass cannot
    be traced, typically Python control flow that depends on tensor values."""
    name = type(module).__name__
    from torch_geometric import nn as gnn

    pools = (gnn.global_add_pool, gnn.global_mean_pool, gnn.global_max_pool)
    try:
        graph = _LeafTracer(autowrap_functions=pools).trace(module)
        gm = fx.GraphModule(module, graph)
    except Exception as err:  # fx raises TraceError, TypeError, RuntimeError...
        raise InputError(f"cannot trace module {name}: {str(err).splitlines()[0]}",
                         "make forward free of control flow on tensor values (torch.fx)") \
            from err
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            ShapeProp(gm).propagate(*example)
    except Exception as err:
        raise InputError(f"module {name} does not run on the example input: "
                         f"{str(err).splitlines()[0]}", "give an input its forward accepts") \
            from err
    finally:
        module.train(was_training)
    modules = dict(gm.named_modules())
    nodes = list(gm.graph.nodes)
    index = {n: i for i, n in enumerate(nodes)}
    ops, shapes, params, edges, targets = [], [], [], [], []
    for n in nodes:
        ops.append(_op_name(n, modules))
        targets.append(str(n.target) if n.op in ("call_module", "get_attr") else "")
        shapes.append(_shape(n.meta.get("tensor_meta")))
        params.append(sum(p.numel() for p in modules[str(n.target)].parameters())
                      if n.op == "call_module" else 0)
        edges.extend((index[a], index[n]) for a in n.all_input_nodes)
    return ComputationGraph(ops=ops, shapes=shapes, params=params, edges=sorted(set(edges)),
                            targets=targets)


def example_graph(in_dim: int, kind: str, nodes: int = 12, graphs: int = 2,
                  seed: int = 0, generator: torch.Generator | None = None) -> Data:
    """A small random graph input for tracing (shapes only matter, not values), drawn from
    ``generator`` (default: a fresh one seeded with ``seed``)."""
    g = generator or torch.Generator().manual_seed(seed)
    n = nodes * (graphs if kind == "graph" else 1)
    src = torch.randint(0, n, (4 * n,), generator=g)
    dst = torch.randint(0, n, (4 * n,), generator=g)
    data = Data(x=torch.randn(n, in_dim, generator=g),
                edge_index=torch.stack([torch.cat([src, dst]), torch.cat([dst, src])]))
    if kind == "graph":
        data.batch = torch.arange(graphs).repeat_interleave(nodes)
    return data


# The canonical input of architecture graphs: a task's own sizes change every shape, so
# graphs of one space are traced at one reference size and the task enters the predictor
# through its meta-features instead.
REFERENCE_IN_DIM, REFERENCE_OUT_DIM = 64, 8


def architecture_graph(space: Any, arch: dict[str, Any], kind: str = "node",
                       builder: Callable[..., nn.Module] | None = None) -> ComputationGraph:
    """The computation graph of an architecture of ``space`` as the model builder makes it,
    at the reference input size."""
    from mdesign.models.builder import build_model

    model = (builder or build_model)(space, arch, REFERENCE_IN_DIM, REFERENCE_OUT_DIM, kind)
    return trace(model, (example_graph(REFERENCE_IN_DIM, kind),))

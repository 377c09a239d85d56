"""``build_model``: an architecture of a design space -> a ``torch.nn.Module``.

The design space's dimensions say which family realises it: ``link, op1..op4`` is the
NAS-Bench-Graph cell, the GraphGym dimensions (:data:`graphgym.DIMENSIONS`) the GraphGym
encoder. Anything else is refused with the reason, before any training starts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mdesign.core.errors import InputError
from mdesign.core.space import DesignSpace, format_choice
from mdesign.models import graphgym
from mdesign.models.heads import GraphModel, Head
from mdesign.models.nas_bench_graph import NasBenchGraphCell

NBG_DIMENSIONS = ["link", "op1", "op2", "op3", "op4"]


def family(space: DesignSpace) -> str:
    """``nas-bench-graph`` or ``graphgym``: the model family that realises ``space``."""
    dims = space.dimension_names
    if dims == NBG_DIMENSIONS:
        return "nas-bench-graph"
    if set(graphgym.DIMENSIONS) <= set(dims):
        return "graphgym"
    raise InputError(f"the model builder cannot realise design space {space.name!r} "
                     f"(dimensions {', '.join(dims)})",
                     "use a NAS-Bench-Graph cell (link, op1..op4) or a GraphGym-style space "
                     f"({', '.join(graphgym.DIMENSIONS)})")


def build_model(space: DesignSpace, arch: Mapping[str, Any], in_dim: int, out_dim: int,
                kind: str, dim: int = 128, dropout: float = 0.5,
                pool: str = "mean") -> GraphModel:
    """The module of ``arch`` for a task of ``kind`` with ``in_dim`` features and
    ``out_dim`` outputs (classes; 1 for link prediction). ``dim`` and ``dropout`` apply
    to the NAS-Bench-Graph cell (GraphGym spaces carry their own)."""
    violation = space.violation(dict(arch))
    if violation:
        raise InputError(f"architecture violates a constraint of {space.name!r}: {violation}",
                         "choose an architecture of the space")
    fam = family(space)
    text = {d: format_choice(v) for d, v in arch.items()}
    if fam == "nas-bench-graph":
        encoder: Any = NasBenchGraphCell(text["link"], [text[f"op{i}"] for i in range(1, 5)],
                                         in_dim, dim=dim, dropout=dropout)
        width = dim
    else:
        encoder = graphgym.GraphGymEncoder(text, in_dim)
        width = encoder.out_dim
        pool = text.get("agg", pool) if text.get("agg") in ("add", "mean", "max") else pool
    return GraphModel(encoder, Head(kind, width, out_dim, pool=pool))

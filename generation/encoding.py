"""Architectures of a design space as matrices that diffuse, and the attention mask.

An architecture becomes the matrix :math:`X \\in \\{0, 1\\}^{R \\times C}`: one row per
dimension of the space (for NAS-Bench-Graph: the link pattern, then the operations of the
four nodes), one column per choice, padded to the widest dimension :math:`C`. Padding
columns are always 0 and never win the rounding. Decoding takes the arg-max of each row
over its real choices; that is the rounding to one-hot of DiffusionNAG.

The score network attends along the architecture's graph. For NAS-Bench-Graph an operation
row attends to itself, to the rows of the nodes it is wired to by the link pattern (either
direction) and to the link row; the link row attends to every row. The link pattern itself
diffuses, so the mask is read from the *current* noisy matrix (the arg-max of its link row)
in training and in sampling alike: the score network is a function of :math:`X_t` only.
For other spaces every row attends to every row.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence

import torch
from mdesign.core.space import Architecture, Choice, DesignSpace, format_choice

NBG_OPS = ["op1", "op2", "op3", "op4"]


class ArchitectureMatrix:
    """The one-hot matrix encoding of ``space`` (see the module docstring).

    Not :class:`~mdesign.core.space.OneHot`: that is one flat vector of all (dimension,
    choice) columns; the diffusion needs one row per dimension, padded to the widest, so
    that rounding is a per-row arg-max and the attention mask is over rows. Row ``i`` of
    the matrix holds, unpadded, the columns of dimension ``i`` of ``OneHot``, in its order.
    """

    def __init__(self, space: DesignSpace) -> None:
        self.space = space
        self.dims = space.dimensions
        self.rows = len(self.dims)
        self.columns = max(len(d.choices) for d in self.dims)
        mask = torch.zeros(self.rows, self.columns, dtype=torch.bool)
        for i, d in enumerate(self.dims):
            mask[i, :len(d.choices)] = True
        self.column_mask = mask
        self._index = [{format_choice(c): j for j, c in enumerate(d.choices)}
                       for d in self.dims]
        names = [d.name for d in self.dims]
        self.linked = (names[:1] == ["link"] and set(NBG_OPS) <= set(names)
                       and all(len(format_choice(c)) == 4 for c in self.dims[0].choices))
        self._op_rows = [names.index(o) for o in NBG_OPS] if self.linked else []

    def encode(self, archs: Sequence[Mapping[str, Choice]]) -> torch.Tensor:
        """``[len(archs), R, C]`` one-hot matrices."""
        x = torch.zeros(len(archs), self.rows, self.columns)
        for b, a in enumerate(archs):
            for i, d in enumerate(self.dims):
                x[b, i, self._index[i][format_choice(a[d.name])]] = 1.0
        return x

    def encode_keys(self, keys: Sequence[str]) -> torch.Tensor:
        return self.encode([self.space.parse_key(k) for k in keys])

    def indices(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, R]`` the arg-max choice of each row, over its real choices only."""
        return x.masked_fill(~self.column_mask.to(x.device), float("-inf")).argmax(-1)

    def decode(self, x: torch.Tensor) -> list[Architecture]:
        """Round each row to its arg-max choice (the architectures, as is: possibly invalid
        or not canonical)."""
        idx = self.indices(x).tolist()
        return [{d.name: d.choices[row[i]] for i, d in enumerate(self.dims)} for row in idx]

    def project(self, x: torch.Tensor) -> torch.Tensor:
        """Zero the padding columns (they carry no information)."""
        return x * self.column_mask.to(x.device)

    @functools.cached_property
    def _link_masks(self) -> torch.Tensor:
        """``[choices of link, R, R]`` the attention mask of each link pattern."""
        masks = torch.zeros(len(self.dims[0].choices), self.rows, self.rows, dtype=torch.bool)
        for p, choice in enumerate(self.dims[0].choices):
            m = torch.eye(self.rows, dtype=torch.bool)
            m[0, :] = True
            m[:, 0] = True
            for node, src in enumerate(format_choice(choice), start=1):
                if src != "0":  # node `node` reads the output of node `src`
                    a, b = self._op_rows[node - 1], self._op_rows[int(src) - 1]
                    m[a, b] = m[b, a] = True
            masks[p] = m
        return masks

    def attention_mask(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, R, R]`` which rows each row may attend to, read from ``x``."""
        if not self.linked:
            return torch.ones(x.size(0), self.rows, self.rows, dtype=torch.bool,
                              device=x.device)
        link = self.indices(x)[:, 0]
        return self._link_masks.to(x.device)[link]

    def canonical_keys(self, x: torch.Tensor) -> list[str | None]:
        """The canonical key of each rounded matrix, ``None`` where it breaks a constraint
        of the space (invalid)."""
        out: list[str | None] = []
        for a in self.decode(x):
            if self.space.violation(a):
                out.append(None)
            else:
                out.append(self.space.key(self.space.canonical_form(a)))
        return out

"""A refinement step's candidates: the untried architectures around an expansion point.

A candidate ``m`` of the centre ``c`` is reached in ``hops`` edits, the first of which is
``(dimension, from_choice, to_choice)``; it carries each source's stored evidence for the
move (``g_i(c -> m)``, None where the source lacks it), the sum of both ends' stored
variances (``sd_i(m)^2 + sd_i(c)^2``, for the optimism bonus) and each source's stored
costs of ``m``. :func:`ball` is the neighbourhood within ``k`` edits by the design space's
own edit rule (breadth first, so every architecture gets its fewest edits).
"""

from __future__ import annotations

from collections import deque

from mdesign.core.space import DesignSpace


class Candidate:
    __slots__ = (
        "costs",
        "dimension",
        "evidence",
        "from_choice",
        "hops",
        "key",
        "std",
        "to_choice",
        "uid",
    )

    def __init__(self, uid: str, key: str, hops: int, edit: tuple[str, str, str] | None
                 ) -> None:
        self.uid, self.key, self.hops = uid, key, hops
        self.dimension, self.from_choice, self.to_choice = edit or (None, None, None)
        self.evidence: dict[str, float | None] = {}
        self.std: dict[str, float] = {}
        self.costs: dict[str, dict[str, float | None]] = {}


def ball(space: DesignSpace, key: str, k: int) -> dict[str, tuple[int, tuple[str, str, str]]]:
    """key -> (hops, first edit of a shortest path) for architectures within k edits."""
    out: dict[str, tuple[int, tuple[str, str, str]]] = {}
    queue: deque[tuple[str, int, tuple[str, str, str] | None]] = deque([(key, 0, None)])
    seen = {key}
    while queue:
        x, h, first = queue.popleft()
        if h == k:
            continue
        for dim, frm, to, nkey in space.neighbour_keys(x):
            if nkey in seen:
                continue
            seen.add(nkey)
            edit = first or (dim, frm, to)
            out[nkey] = (h + 1, edit)
            queue.append((nkey, h + 1, edit))
    return out

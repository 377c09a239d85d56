"""What the refinement loop reads of the stored evidence: a small read interface.

:class:`EvidenceReader` lists every read the loop and its source retrieval make, and
nothing else (no writes, no named queries by name). Two implementations:

* :class:`~mdesign.kb.knowledge_base.KnowledgeBase`: the Neo4j store (structurally: it
  has these methods);
* :class:`~mdesign.refinement.memory.InMemoryEvidence`: plain per-task tables over one
  design space, for tests and for runs without a server.

The stored evidence of a task ``t`` is its selection score ``score_t(a)`` (oriented so
that higher is better) per architecture ``a``; the gain of an edit ``c -> m`` is
``score_t(m) - score_t(c)`` where ``t`` measured both ends (None otherwise).

Assistance from trained models (predictors, graph hypernetworks, generators) reads
checkpoints and task data from the server, so it needs a
:class:`~mdesign.kb.knowledge_base.KnowledgeBase` (:func:`knowledge_base_of`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Protocol

from mdesign.core.errors import InputError
from mdesign.core.space import DesignSpace
from mdesign.kb.models import BallEntry, Neighbour, RankedArchitecture, StoredScore, TaskInfo

if TYPE_CHECKING:
    from mdesign.kb.knowledge_base import KnowledgeBase


class LookaheadGraph(Protocol):
    """The edit topology kept for multi-hop lookahead (a GDS projection)."""

    def ball(self, uid: str, k: int) -> list[BallEntry]: ...


class EvidenceReader(Protocol):
    """The reads of a refinement run."""

    def task(self, name: str) -> TaskInfo:
        """The task ``name`` (:class:`~mdesign.core.errors.InputError` if unknown)."""
        ...

    def task_spaces(self, task: str) -> list[str]:
        """The design spaces in which ``task`` has results, most results first."""
        ...

    def target_space(self, task: str) -> str:
        """The space of ``task``'s results (most); without any, the space with most tasks."""
        ...

    def space(self, name: str) -> DesignSpace:
        """The design space ``name``."""
        ...

    def tasks_in_space(self, space: str, exclude: str = "") -> list[TaskInfo]:
        """Tasks with results in ``space`` other than ``exclude``, by name."""
        ...

    def task_scores(self, task: str, space: str) -> dict[str, float]:
        """``key -> score`` of ``task``'s results in ``space`` (failed results left out)."""
        ...

    def best_architectures(self, task: str, limit: int = 10) -> list[RankedArchitecture]:
        """``task``'s best results, highest score first (any space)."""
        ...

    def best_architectures_within(self, task: str, space: str, max_params: float | None,
                                  max_latency: float | None, limit: int = 500
                                  ) -> list[RankedArchitecture]:
        """``task``'s best results in ``space`` whose stored costs are within the limits
        (a None limit, or a result without that cost, passes), highest score first."""
        ...

    def neighbours(self, uid: str, tasks: Iterable[str]) -> list[Neighbour]:
        """The architectures one stored edit from ``uid``, with each task's gain of the
        edit (None: not measured at both ends), by uid."""
        ...

    def source_scores(self, uids: Sequence[str], tasks: Iterable[str]
                      ) -> dict[str, dict[str, StoredScore]]:
        """uid -> task -> stored result, for the stored architectures among ``uids``."""
        ...

    def lookahead_graph(self) -> AbstractContextManager[LookaheadGraph]:
        """The edit topology for ``lookahead_engine="gds"``, released on exit."""
        ...


def knowledge_base_of(evidence: EvidenceReader, what: str) -> KnowledgeBase:
    """``evidence`` as the knowledge base server that ``what`` needs (stored models)."""
    from mdesign.kb.knowledge_base import KnowledgeBase

    if not isinstance(evidence, KnowledgeBase):
        raise InputError(f"{what} needs the knowledge base server (stored models and task "
                         "data), not in-memory evidence",
                         f"run against the knowledge base, or drop {what}")
    return evidence

"""The knowledge base of mdesign: architectures, tasks, results and edit-effect evidence
stored in Neo4j, with GDS for path and similarity algorithms.

Start here: :class:`KnowledgeBase` (``KnowledgeBase.connect()``), :class:`DesignSpace`.
"""

from mdesign.core.errors import InputError, MdesignError, ServerError
from mdesign.core.space import DesignSpace, load_space
from mdesign.kb.knowledge_base import KnowledgeBase, gain_property
from mdesign.kb.models import (
    EvidencePath,
    ImportReport,
    KBStats,
    Neighbour,
    RankedArchitecture,
    TaskInfo,
    TaskSimilarity,
)

__all__ = [
    "DesignSpace",
    "EvidencePath",
    "ImportReport",
    "InputError",
    "KBStats",
    "KnowledgeBase",
    "MdesignError",
    "Neighbour",
    "RankedArchitecture",
    "ServerError",
    "TaskInfo",
    "TaskSimilarity",
    "gain_property",
    "load_space",
]

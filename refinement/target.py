"""The resolved target of a refinement: its task, its design space, resolved once.

:func:`resolve` reads, in this order, the task (unknown: refused), the space (the one
asked for, else :meth:`~mdesign.refinement.evidence.EvidenceReader.target_space`), refuses
a space the task has no results in when it has results in others, and loads the space's
definition. The :class:`Target` it returns is passed down to the evaluator factory, the
run's input check and :func:`~mdesign.refinement.refine.refine`, so one run reads them once.
"""

from __future__ import annotations

from dataclasses import dataclass

from mdesign.core.errors import InputError
from mdesign.core.space import DesignSpace
from mdesign.kb.models import TaskInfo
from mdesign.refinement.config import RefineConfig
from mdesign.refinement.evidence import EvidenceReader


@dataclass(frozen=True)
class Target:
    """A run's target task, the name of its design space and that space."""

    task: TaskInfo
    space_name: str
    space: DesignSpace


def resolve(kb: EvidenceReader, config: RefineConfig, task: TaskInfo | None = None
            ) -> Target:
    """The target of ``config`` (:class:`~mdesign.core.errors.InputError` if unusable);
    ``task``: ``config.task`` as already read."""
    task = task if task is not None else kb.task(config.task)
    space_name = config.space or kb.target_space(config.task)
    own = kb.task_spaces(config.task)
    if own and space_name not in own:
        raise InputError(f"task {config.task!r} has its results in space(s) "
                         f"{', '.join(own)}, not {space_name!r}",
                         "refine it in its own space (leave out --space)")
    return Target(task=task, space_name=space_name, space=kb.space(space_name))

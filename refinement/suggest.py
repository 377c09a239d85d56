"""A warm start for any tool: the first design for a task, from the evidence alone.

:func:`suggest` ranks architectures of the task's design space as the surrogate
strategy's first design does (:mod:`~mdesign.refinement.transfer`): every other task of
the space is a source, with prior weight ``w_s`` from its evidence and meta-feature
similarity (:func:`~mdesign.refinement.transfer.prior_weights`); each source's results are
mapped to normal scores ``z_s`` (a source's ridge model over the choices fills in what it
never measured), and the ``n`` architectures are picked greedily to maximise
``sum_s w_s max_{a in P} z_s(a)`` (:func:`~mdesign.refinement.surrogate.portfolio`): the
consensus best first, then those that cover what the chosen miss on some source. Nothing
is evaluated or stored; the target's own results are never read.

The candidates are the whole space when it has at most ``enumerate_limit``
architectures, otherwise the architectures some source measured.
"""

from __future__ import annotations

import numpy as np
from mdesign.core.space import OneHot, key_choices, key_of
from mdesign.refinement.config import RefineConfig
from mdesign.refinement.evidence import EvidenceReader
from mdesign.refinement.sources import SourceInfo, candidate_sources
from mdesign.refinement.surrogate import portfolio
from mdesign.refinement.target import resolve
from mdesign.refinement.transfer import SourceScores, SourceTable, prior_weights
from pydantic import BaseModel, Field


class SourceView(BaseModel):
    """What one source says of a suggested architecture."""

    weight: float
    score: float | None = Field(description="the source's measured score (None: never "
                                "measured there, its normal score is predicted)")
    normal: float = Field(description="the source's normal score of the architecture")


class Suggestion(BaseModel):
    rank: int
    uid: str
    choices: dict[str, str]
    predicted: float = Field(description="the sources' weighted mean normal score "
                             "(0: a median architecture of a source, 1.6: about its top 5%)")
    sources: dict[str, SourceView]


class SuggestionSet(BaseModel):
    task: str
    space: str
    sources: list[SourceInfo]
    notes: list[str] = []
    suggestions: list[Suggestion]


def suggest(kb: EvidenceReader, task: str, n: int = 10, space: str | None = None,
            enumerate_limit: int = 300_000) -> SuggestionSet:
    """The first ``n`` architectures to try for ``task`` (the module's docstring)."""
    target = resolve(kb, RefineConfig(task=task, budget=max(n, 1), space=space))
    sp = target.space
    onehot = OneHot(sp)
    tasks = candidate_sources(kb, target.task, target.space_name)
    infos, used_features = prior_weights(target.task, tasks, len(onehot.columns))
    raw = {s.task: kb.task_scores(s.task, sp.name) for s in infos}
    table = SourceTable(onehot, {t: SourceScores(onehot, r) for t, r in raw.items()})
    restrict = target.task.restrict
    if sp.size() <= enumerate_limit:
        keys = [key_of(u) for u in sp.uids(restrict)]
    else:
        keys = sorted({k for r in raw.values() for k in r})
    z = table.rows(keys)
    w = np.array([s.weight for s in infos])
    picks = portfolio(z, w, min(n, len(keys)))
    consensus = z @ (w / w.sum())
    out = []
    for rank, i in enumerate(picks, 1):
        key = keys[i]
        views = {t: SourceView(weight=round(s.weight, 6), score=raw[t].get(key),
                               normal=round(float(z[i, j]), 4))
                 for j, (t, s) in enumerate(zip(table.tasks, infos, strict=True))}
        out.append(Suggestion(rank=rank, uid=f"{sp.name}/{key}",
                              choices=key_choices(key),
                              predicted=round(float(consensus[i]), 4), sources=views))
    notes = [] if used_features else ["no meta-features: equal prior weights of the sources"]
    return SuggestionSet(task=task, space=sp.name, sources=infos, notes=notes,
                         suggestions=out)

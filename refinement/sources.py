"""Source retrieval (step 1 of the method, docs/refinement.md): which stored tasks to
learn from, and how much.

The candidates are the tasks with results in the target's design space. Their
similarity to the target comes from what is known before any search:

* ``features``: cosine over standardised dataset meta-features
  (:func:`~mdesign.refinement.similarity.feature_similarity`), free;
* ``anchors``: a few architectures evaluated on the target (paid from the budget) and
  compared with each source's stored scores of the same architectures by Kendall's tau-b
  (the GraphGym task-similarity approach). The anchors are the candidates' best
  architectures (then seeded draws), so the choice is deterministic;
* ``both``: the mean of the two;
* ``agreement``: not a similarity to the target: the ``k`` candidates whose stored
  scores agree most with the other candidates' consensus (:func:`source_agreement`),
  free, with equal prior weights (the walk's choice when there are no meta-features,
  below, taken whether or not there are).

The top ``k`` become the sources; their similarities, mapped to [0, 1] and normalised,
are the prior weights (:func:`~mdesign.refinement.calibration.initial_weights`).

When the target shares no meta-feature with any candidate, every feature similarity is
0 and ``featureless`` decides: the ``k`` that agree most with the other candidates'
consensus (:func:`source_agreement`, free; the default, chosen by nested
leave-one-dataset-out without meta-features), the first ``k`` by name, or every
candidate; the prior weights are equal either way.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping, Sequence
from typing import Literal

import numpy as np
from mdesign.core.errors import InputError
from mdesign.core.stats import kendall_tau
from mdesign.kb.models import TaskInfo
from mdesign.refinement.calibration import initial_weights
from mdesign.refinement.evidence import EvidenceReader
from mdesign.refinement.similarity import (
    canberra_similarity,
    feature_similarity,
    pair_similarity,
)
from mdesign.refinement.surrogate import normal_scores
from pydantic import BaseModel


class SourceInfo(BaseModel):
    task: str
    similarity: float
    weight: float
    feature_similarity: float | None = None
    anchor_tau: float | None = None


def candidate_sources(kb: EvidenceReader, target: TaskInfo, space: str) -> list[TaskInfo]:
    """Every other task with results in ``space`` (refuses an empty candidate set)."""
    candidates = kb.tasks_in_space(space, exclude=target.name)
    if not candidates:
        raise InputError(f"no source task shares design space {space!r} with {target.name!r}",
                         "import results of other tasks in this space first")
    return candidates


def pick_anchors(firsts: Sequence[str], pool: Sequence[str], n: int, seed: int) -> list[str]:
    """``n`` anchors: the candidates' own best architectures first (``firsts``, distinct;
    they are where refinement will look, so that is where agreement matters, and they
    are good evaluations to have paid for), then seeded uniform draws from the space."""
    out = list(dict.fromkeys(firsts))[:n]
    rest = [u for u in pool if u not in set(out)]
    out += random.Random(f"anchors:{seed}").sample(rest, min(n - len(out), len(rest)))
    return out


def anchor_similarity(kb: EvidenceReader, candidates: Sequence[str],
                      anchors: dict[str, float]) -> dict[str, float | None]:
    """Kendall tau-b between the target's anchor scores and each candidate's stored ones.

    None when a candidate measured fewer than 3 of the anchors."""
    stored = kb.source_scores(list(anchors), candidates)
    out: dict[str, float | None] = {}
    for task in candidates:
        xs, ys = [], []
        for uid, y in anchors.items():
            r = stored.get(uid, {}).get(task)
            if r is not None:
                xs.append(r.score)
                ys.append(y)
        out[task] = kendall_tau(xs, ys) if len(xs) >= 3 else None
    return out


Featureless = Literal["names", "agreement", "all"]


def source_agreement(scores: Mapping[str, Mapping[str, float]]) -> dict[str, float]:
    """Per task, the correlation of its normal scores with the mean normal score of the
    other tasks over the architectures it measured (pure; 0 where fewer than 3 of them
    were measured by another task, or where either side is constant).

    ``scores``: task -> architecture key -> score. With nothing known of a new task, the
    task most like the population is the best guess of one more task like them."""
    names = sorted(scores)
    keys = sorted({k for t in names for k in scores[t]})
    index = {k: i for i, k in enumerate(keys)}
    z = np.full((len(keys), len(names)), np.nan)
    for j, t in enumerate(names):
        rows = [index[k] for k in scores[t]]
        if rows:
            z[rows, j] = normal_scores(list(scores[t].values()))
    measured = ~np.isnan(z)
    total, count = np.nansum(z, axis=1), measured.sum(axis=1)
    out: dict[str, float] = {}
    for j, t in enumerate(names):
        others = count - measured[:, j]
        keep = measured[:, j] & (others > 0)
        r = 0.0
        if keep.sum() >= 3:
            mine = z[keep, j]
            rest = (total[keep] - mine) / others[keep]
            if mine.std() > 0 and rest.std() > 0:
                r = float(np.corrcoef(mine, rest)[0, 1])
        out[t] = r
    return out


def reference_tables(candidates: Sequence[TaskInfo]) -> list[str]:
    """The candidates whose meta-features set the scale of the ``cosine`` feature
    similarity (pure): those holding at least the square root of the largest
    candidate's result count (the midpoint, on a log scale, between one result and the
    largest table). A task with a few trained results (a 34-node graph trained 3 times)
    is compared on the scale of the tables but does not move it, so adding it changes
    no other target's sources; a complete table of a restricted space (NAS-Bench-Graph's
    proteins: 2,021 of 26,206) still sets it. Without result counts, every candidate."""
    most = max((t.results for t in candidates), default=0)
    return [t.name for t in candidates if t.results >= math.sqrt(most)]


def rank_sources(target: TaskInfo, candidates: Sequence[TaskInfo], k: int, how: str,
                 anchor_tau: dict[str, float | None] | None = None,
                 feature: str = "cosine", featureless: Featureless = "agreement",
                 agreement: Callable[[], Mapping[str, float]] | None = None
                 ) -> list[SourceInfo]:
    """The ``k`` most similar candidates with their prior weights (pure). ``feature``:
    ``cosine`` (:func:`~mdesign.refinement.similarity.feature_similarity`, standardised
    over the target and the :func:`reference_tables` of ``candidates``), ``pair``
    (:func:`~mdesign.refinement.similarity.pair_similarity`) or ``canberra``
    (:func:`~mdesign.refinement.similarity.canberra_similarity`), both of each pair
    alone (0 without a shared feature). With ``how="features"`` and every feature
    similarity 0, ``featureless`` picks (the module's docstring). ``agreement`` gives
    the candidates' :func:`source_agreement`, called only when ``how="agreement"`` or
    ``featureless`` needs it; with ``how="agreement"`` a source's ``similarity`` is its
    agreement (its weight is equal)."""
    if feature in ("pair", "canberra"):
        pair = pair_similarity if feature == "pair" else canberra_similarity
        feats = {t.name: pair(target.features, t.features) or 0.0 for t in candidates}
    else:
        feats = feature_similarity(target.features,
                                   {t.name: t.features for t in candidates},
                                   reference_tables(candidates))
    featureless_case = how == "features" and not any(feats.values())
    if how == "agreement" or (featureless_case and featureless != "names"):
        agree: Mapping[str, float] = {}
        if featureless_case and featureless == "all":
            k = len(candidates)
        else:
            if agreement is None:
                raise ValueError("sources by agreement need the candidates' agreement")
            agree = agreement()
            candidates = sorted(candidates, key=lambda t: (-agree.get(t.name, 0.0),
                                                           t.name))[:k]
        weights = initial_weights({t.name: 0.0 for t in candidates[:k]})
        return [SourceInfo(task=t.name,
                           similarity=agree.get(t.name, 0.0) if how == "agreement" else 0.0,
                           weight=weights[t.name], feature_similarity=feats[t.name])
                for t in candidates[:k]]
    sims: dict[str, float] = {}
    for t in candidates:
        f, a = feats[t.name], (anchor_tau or {}).get(t.name)
        if how == "features":
            sims[t.name] = f
        elif how == "anchors":
            sims[t.name] = a if a is not None else 0.0
        else:
            sims[t.name] = (f + a) / 2 if a is not None else f
    top = sorted(sims, key=lambda n: (-sims[n], n))[:k]
    weights = initial_weights({n: sims[n] for n in top})
    return [SourceInfo(task=n, similarity=sims[n], weight=weights[n],
                       feature_similarity=feats[n],
                       anchor_tau=(anchor_tau or {}).get(n)) for n in top]


_FEATURELESS = {
    "names": "the sources are the first by name",
    "agreement": "the sources are those that agree most with the other candidates' "
                 "consensus, with equal weights",
    "all": "every candidate is a source, with equal weights",
}


def similarity_notes(how: str, sources: Sequence[SourceInfo],
                     featureless: Featureless = "agreement") -> list[str]:
    """What a run should say about how its sources were ranked (pure): with
    ``features`` and no meta-feature shared by the target and a source, every
    similarity is 0 and ``featureless`` chose them."""
    if how != "features" or any(s.feature_similarity for s in sources):
        return []
    return ["no meta-features shared by the target and its sources: every similarity is "
            f"0 and {_FEATURELESS[featureless]}; add them with `mdesign kb import "
            "task-features` or use --similarity anchors"]


def choose_sources(kb: EvidenceReader, target: TaskInfo, space: str, k: int,
                   how: str = "features",
                   evaluate_anchors: Callable[[], dict[str, float]] | None = None,
                   feature: str = "cosine",
                   featureless: Featureless = "agreement",
                   scores: Callable[[str], Mapping[str, float]] | None = None
                   ) -> list[SourceInfo]:
    """Retrieve the sources; ``evaluate_anchors`` pays for the anchors when needed;
    ``feature``: how meta-features compare, ``featureless``: what to take without them
    (:func:`rank_sources`; ``agreement`` reads every candidate's scores once, with
    ``scores``, a task's scores in ``space``: ``kb.task_scores`` unless given)."""
    candidates = candidate_sources(kb, target, space)
    tau = None
    if how in ("anchors", "both"):
        if evaluate_anchors is None:
            raise ValueError("anchor similarity needs an anchor evaluation")
        tau = anchor_similarity(kb, [c.name for c in candidates], evaluate_anchors())
    read = scores or (lambda task: kb.task_scores(task, space))
    return rank_sources(target, candidates, k, how, tau, feature, featureless,
                        lambda: source_agreement({c.name: read(c.name) for c in candidates}))

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
* ``both``: the mean of the two.

The top ``k`` become the sources; their similarities, mapped to [0, 1] and normalised,
are the prior weights (:func:`~mdesign.refinement.calibration.initial_weights`).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

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


def rank_sources(target: TaskInfo, candidates: Sequence[TaskInfo], k: int, how: str,
                 anchor_tau: dict[str, float | None] | None = None,
                 feature: str = "cosine") -> list[SourceInfo]:
    """The ``k`` most similar candidates with their prior weights (pure). ``feature``:
    ``cosine`` (:func:`~mdesign.refinement.similarity.feature_similarity`, standardised
    over the target and all ``candidates``), ``pair``
    (:func:`~mdesign.refinement.similarity.pair_similarity`) or ``canberra``
    (:func:`~mdesign.refinement.similarity.canberra_similarity`), both of each pair
    alone (0 without a shared feature)."""
    if feature in ("pair", "canberra"):
        pair = pair_similarity if feature == "pair" else canberra_similarity
        feats = {t.name: pair(target.features, t.features) or 0.0 for t in candidates}
    else:
        feats = feature_similarity(target.features,
                                   {t.name: t.features for t in candidates})
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


def similarity_notes(how: str, sources: Sequence[SourceInfo]) -> list[str]:
    """What a run should say about how its sources were ranked (pure): with
    ``features`` and no meta-feature shared by the target and a source, every
    similarity is 0 and the ranking falls back to task names."""
    if how != "features" or any(s.feature_similarity for s in sources):
        return []
    return ["no meta-features shared by the target and its sources: every similarity is "
            "0 and the sources are the first by name; add them with `mdesign kb import "
            "task-features` or use --similarity anchors"]


def choose_sources(kb: EvidenceReader, target: TaskInfo, space: str, k: int,
                   how: str = "features",
                   evaluate_anchors: Callable[[], dict[str, float]] | None = None,
                   feature: str = "cosine") -> list[SourceInfo]:
    """Retrieve the sources; ``evaluate_anchors`` pays for the anchors when needed;
    ``feature``: how meta-features compare (:func:`rank_sources`)."""
    candidates = candidate_sources(kb, target, space)
    tau = None
    if how != "features":
        if evaluate_anchors is None:
            raise ValueError("anchor similarity needs an anchor evaluation")
        tau = anchor_similarity(kb, [c.name for c in candidates], evaluate_anchors())
    return rank_sources(target, candidates, k, how, tau, feature)

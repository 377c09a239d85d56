"""Retrieval-augmented refinement (methods.md, section 1): the greedy walk with adaptive
source calibration.

For a target task ``u`` and a budget of B evaluations:

1. **Sources.** Tasks sharing the design space, ranked by meta-feature similarity to u;
   the top ``sources`` give the prior weights ``w_i`` (:func:`initial_weights`).
2. **Start.** The best architecture of the most similar source (or a per-dimension vote
   over the sources' best), evaluated on u.
3. **Scoring.** Every untried neighbour m of the current architecture c gets
   ``S(m) = sum_i w_i * gain_i(c -> m)`` from the stored evidence (a source without the
   edge contributes nothing); ties break on the most similar source's gain, then uid.
4. **Step.** Evaluate the best-scoring m, observe ``g_u = score_u(m) - score_u(c)``, move
   to m even when g_u < 0. The best architecture seen is returned.
5. **Calibration.** Each source's (gain_i, g_u) pairs refit ``g_u ~ beta_i * gain_i`` and
   re-weight the sources (:mod:`mdesign.refinement.calibration`).

Stopping: the budget is spent, or no untried neighbour is left. With ``backtrack`` (an
addition to the reference method) the walk then resumes from the best architecture seen
that still has untried neighbours instead of stopping early.

Not here yet (issue 3): predictive planners for missing or unreliable evidence,
multi-hop lookahead, uncertainty and cost constraints, persisted runs and the CLI.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

from mdesign.kb.errors import InputError
from mdesign.kb.knowledge_base import KnowledgeBase
from mdesign.kb.models import Neighbour, TaskInfo
from mdesign.kb.space import DesignSpace, load_space
from mdesign.refinement.calibration import fit_source, initial_weights, update_weights
from mdesign.refinement.evaluators import Evaluation, Evaluator
from mdesign.refinement.similarity import feature_similarity
from pydantic import BaseModel, Field


class RefineConfig(BaseModel):
    task: str
    budget: int = Field(ge=1)
    sources: int = Field(default=3, ge=1)
    start: Literal["best", "vote", "weighted_vote"] = "best"
    calibrate: bool = True
    window: int | None = Field(default=None, ge=3)
    backtrack: bool = True


class SourceInfo(BaseModel):
    task: str
    similarity: float
    weight: float


class RefinementStep(BaseModel):
    step: int
    uid: str
    dimension: str | None = None
    from_choice: str | None = None
    to_choice: str | None = None
    predicted: float | None = None
    observed_gain: float | None = None
    score: float
    best_score: float
    weights: dict[str, float]


class RefinementResult(BaseModel):
    config: RefineConfig
    space: str
    sources: list[SourceInfo]
    best: Evaluation
    steps: list[RefinementStep]
    spent: int
    overhead_ms_per_step: float = Field(description="median wall time per step outside "
                                                    "evaluation")
    stopped: str


def _allowed(restrict: dict[str, list[str]] | None) -> Callable[[str], bool]:
    if not restrict:
        return lambda uid: True

    def ok(uid: str) -> bool:
        arch = dict(part.split("=", 1) for part in uid.split("/", 1)[1].split(","))
        return all(arch.get(d) in set(choices) for d, choices in restrict.items())

    return ok


def choose_sources(kb: KnowledgeBase, target: TaskInfo, space: str, k: int
                   ) -> list[SourceInfo]:
    """The k tasks of ``space`` most similar to the target by meta-features."""
    candidates = {t.name: t for t in kb.tasks_in_space(space, exclude=target.name)}
    if not candidates:
        raise InputError(f"no source task shares design space {space!r} with {target.name!r}",
                         "import results of other tasks in this space first")
    sim = feature_similarity(target.features, {n: t.features for n, t in candidates.items()})
    top = sorted(candidates, key=lambda n: (-sim[n], n))[:k]
    weights = initial_weights({n: sim[n] for n in top})
    return [SourceInfo(task=n, similarity=sim[n], weight=weights[n]) for n in top]


def _start(kb: KnowledgeBase, space: DesignSpace, sources: list[SourceInfo], how: str,
           usable: Callable[[str], bool]) -> str:
    bests = []
    for s in sources:
        for r in kb.best_architectures(s.task, limit=200):
            if r.space == space.name and usable(r.uid):
                bests.append((s, r))
                break
    if not bests:
        raise InputError("no source's best architectures can be evaluated on the target",
                         "check the target's space restriction")
    if how == "best":
        return bests[0][1].uid
    votes: dict[str, dict[str, float]] = {}
    for s, r in bests:
        arch = space.parse_key(r.key)
        for d, v in arch.items():
            w = s.weight if how == "weighted_vote" else 1.0
            votes.setdefault(d, {})
            votes[d][str(v)] = votes[d].get(str(v), 0.0) + w
    # ties: the choice of the most similar source wins (it is counted first)
    voted = space.parse({d: max(c, key=lambda v, c=c: c[v]) for d, c in votes.items()})
    uid = space.uid(space.canonical_form(voted))
    return uid if usable(uid) and not space.violation(voted) else bests[0][1].uid


def score_candidates(neighbours: list[Neighbour], weights: dict[str, float],
                     order: list[str]) -> list[tuple[float, Neighbour]]:
    """``S(m) = sum_i w_i gain_i(c -> m)``, best first; ties: most similar source, uid."""
    first = order[0]

    def key(n: Neighbour) -> tuple[float, float, str]:
        s = sum(weights[t] * g for t, g in n.gains.items() if g is not None and t in weights)
        tie = n.gains.get(first)
        return (-s, -(tie if tie is not None else float("-inf")), n.uid)

    ranked = sorted(((key(n), n) for n in neighbours), key=lambda kn: kn[0])
    return [(-k[0], n) for k, n in ranked]


def refine(kb: KnowledgeBase, config: RefineConfig, evaluator: Evaluator,
           space: str | None = None,
           on_step: Callable[[RefinementStep], None] | None = None) -> RefinementResult:
    """Run refinement on ``config.task`` with ``evaluator`` until the budget is spent."""
    t_start = time.perf_counter()
    target = kb.task(config.task)
    space_name = space or _target_space(kb, config.task)
    ds = load_space(space_name)
    sources = choose_sources(kb, target, space_name, config.sources)
    order = [s.task for s in sources]
    weights = {s.task: s.weight for s in sources}
    in_space = _allowed(target.restrict)

    def usable(uid: str) -> bool:
        return in_space(uid) and evaluator.can_evaluate(uid)

    eval_time = 0.0

    def evaluate(uid: str) -> Evaluation:
        nonlocal eval_time
        t = time.perf_counter()
        try:
            return evaluator.evaluate(uid)
        finally:
            eval_time += time.perf_counter() - t

    current = _start(kb, ds, sources, config.start, usable)
    seen: dict[str, Evaluation] = {current: evaluate(current)}
    best = seen[current]
    steps = [RefinementStep(step=0, uid=current, score=best.score, best_score=best.score,
                            weights=dict(weights))]
    if on_step:
        on_step(steps[0])
    pairs: dict[str, list[tuple[float, float]]] = {s: [] for s in order}
    untried: dict[str, list[Neighbour]] = {}
    step_times: list[float] = []
    stopped = "budget spent"
    t_step = time.perf_counter()
    eval_before = eval_time
    while evaluator.spent < evaluator.budget:
        if current not in untried:
            untried[current] = [n for n in kb.neighbours(current, order) if usable(n.uid)]
        options = [n for n in untried[current] if n.uid not in seen]
        if not options:
            if not config.backtrack:
                stopped = "no untried neighbour"
                break
            resumable = [u for u, e in sorted(seen.items(), key=lambda kv: (-kv[1].score,
                                                                             kv[0]))
                         if u not in untried or any(n.uid not in seen for n in untried[u])]
            if not resumable:
                stopped = "no untried neighbour"
                break
            current = resumable[0]
            continue
        predicted, chosen = score_candidates(options, weights, order)[0]
        result = evaluate(chosen.uid)
        seen[chosen.uid] = result
        observed = result.score - seen[current].score
        gains = {t: chosen.gains.get(t) for t in order}
        for t, g in gains.items():
            if g is not None:
                pairs[t].append((g, observed))
        if config.calibrate:
            fits = {t: fit_source(pairs[t], window=config.window) for t in order}
            weights = update_weights(weights, fits, gains, observed)
        if result.score > best.score:
            best = result
        step = RefinementStep(step=len(steps), uid=chosen.uid, dimension=chosen.dimension,
                              from_choice=chosen.from_choice, to_choice=chosen.to_choice,
                              predicted=predicted, observed_gain=observed, score=result.score,
                              best_score=best.score, weights=dict(weights))
        steps.append(step)
        now = time.perf_counter()
        step_times.append((now - t_step) - (eval_time - eval_before))
        t_step, eval_before = now, eval_time
        if on_step:
            on_step(step)
        current = chosen.uid
    step_times.sort()
    median = step_times[len(step_times) // 2] * 1000 if step_times else \
        (time.perf_counter() - t_start - eval_time) * 1000
    return RefinementResult(config=config, space=space_name, sources=sources, best=best,
                            steps=steps, spent=evaluator.spent,
                            overhead_ms_per_step=round(median, 3), stopped=stopped)


def _target_space(kb: KnowledgeBase, task: str) -> str:
    rows = kb.query("task_spaces", task=task)
    if not rows:
        raise InputError(f"task {task!r} has no results in any design space",
                         "name the space explicitly")
    return rows[0]["space"]

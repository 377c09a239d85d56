"""Search baselines behind the same evaluator interface as refinement.

* :func:`random_search`: B distinct architectures drawn uniformly from the task's space.
* :func:`regularized_evolution`: Real et al. (AAAI 2019): a population of P random
  architectures, then cycles of tournament selection (S sampled, best is the parent),
  one-edit mutation (a uniformly chosen valid neighbour), ageing (the oldest leaves).
* :func:`retrieval_only`: the best architecture of the most similar source, evaluated,
  then stop (what "retrieving a stored model" gives).

Each returns the best evaluation (by selection score) among those paid for, and the
uids in the order they were paid.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable

from mdesign.core.evaluation import Evaluation, Evaluator
from mdesign.core.space import DesignSpace, key_choices, key_of
from mdesign.kb.knowledge_base import KnowledgeBase
from pydantic import BaseModel


class SearchResult(BaseModel):
    method: str
    best: Evaluation
    paid: list[str]


def _finish(method: str, seen: dict[str, Evaluation]) -> SearchResult:
    best = max(seen.values(), key=lambda e: (e.score, e.uid))
    return SearchResult(method=method, best=best, paid=list(seen))


def random_search(space: DesignSpace, evaluator: Evaluator, seed: int,
                  restrict: dict[str, list[str]] | None = None,
                  uids: list[str] | None = None) -> SearchResult:
    pool = uids if uids is not None else space.uids(restrict, evaluator.can_evaluate)
    rng = random.Random(seed)
    # a shuffled prefix: the first b picks of a run are the run at budget b
    order = list(pool)
    rng.shuffle(order)
    picks = order[:evaluator.budget - evaluator.spent]
    return _finish("random", {u: evaluator.evaluate(u) for u in picks})


def regularized_evolution(space: DesignSpace, evaluator: Evaluator, seed: int,
                          restrict: dict[str, list[str]] | None = None,
                          population: int = 20, sample: int = 5,
                          uids: list[str] | None = None) -> SearchResult:
    pool = uids if uids is not None else space.uids(restrict, evaluator.can_evaluate)
    allowed = set(pool)
    rng = random.Random(seed)
    seen: dict[str, Evaluation] = {}
    pop: deque[str] = deque()
    for u in rng.sample(pool, min(population, evaluator.budget, len(pool))):
        seen[u] = evaluator.evaluate(u)
        pop.append(u)
    # Re-reading a known child is free, so cap the cycles rather than trust the budget.
    for _ in range(100 * evaluator.budget):
        if evaluator.spent >= evaluator.budget:
            break
        contenders = rng.sample(list(pop), min(sample, len(pop)))
        parent = max(contenders, key=lambda u: (seen[u].score, u))
        key = key_of(parent)
        children = [f"{space.name}/{n}" for *_, n in space.neighbour_keys(key)]
        children = [c for c in children if c in allowed]
        if not children:
            break
        child = rng.choice(children)
        result = evaluator.evaluate(child)  # a re-read of a known child is free
        seen[child] = result
        pop.append(child)
        pop.popleft()
    return _finish("regularized_evolution", seen)


def retrieval_only(kb: KnowledgeBase, evaluator: Evaluator, source: str,
                   space: DesignSpace) -> SearchResult:
    for r in kb.best_architectures(source, limit=200):
        if r.space == space.name and evaluator.can_evaluate(r.uid):
            return _finish("retrieval_only", {r.uid: evaluator.evaluate(r.uid)})
    raise ValueError(f"no architecture of {source!r} can be evaluated on the target")


def consensus(kb: KnowledgeBase, evaluator: Evaluator, target: str, space: DesignSpace,
              uids: list[str]) -> SearchResult:
    """The trivial transfer floor: pay for the target's architectures in the order of the
    other tasks' mean standardised score (each architecture averaged over the tasks of the
    space that measured it; never measured: last), ties by uid."""
    total: dict[str, float] = {}
    count: dict[str, int] = {}
    for t in kb.tasks_in_space(space.name, exclude=target):
        scores = kb.task_scores(t.name, space.name)
        vals = list(scores.values())
        mean = sum(vals) / len(vals)
        sd = (sum((v - mean) ** 2 for v in vals) / len(vals)) ** 0.5 or 1.0
        for k, v in scores.items():
            total[k] = total.get(k, 0.0) + (v - mean) / sd
            count[k] = count.get(k, 0) + 1
    def order(uid: str) -> tuple[float, str]:
        k = key_of(uid)
        return (-(total[k] / count[k]) if k in count else float("inf"), uid)

    picks = sorted(uids, key=order)[:evaluator.budget - evaluator.spent]
    return _finish("consensus", {u: evaluator.evaluate(u) for u in picks})


def sources_best(kb: KnowledgeBase, target: str, space: DesignSpace,
                 allowed: set[str]) -> list[str]:
    """Each other task's best architecture that the target can evaluate, by task name."""
    out: list[str] = []
    for t in kb.tasks_in_space(space.name, exclude=target):
        scores = kb.task_scores(t.name, space.name)
        for k in sorted(scores, key=lambda k: (-scores[k], k)):
            uid = f"{space.name}/{k}"
            if uid in allowed:
                if uid not in out:
                    out.append(uid)
                break
    return out


def tpe(space: DesignSpace, evaluator: Evaluator, seed: int,
        restrict: dict[str, list[str]] | None = None,
        uids: list[str] | None = None, warm: list[str] | None = None,
        accept: Callable[[str], bool] | None = None) -> SearchResult:
    """Optuna's TPE over the space's dimensions (one categorical parameter each).

    A sampled combination is canonicalised; one that violates a constraint or cannot be
    evaluated is told to the study as failed (it costs no budget); a repeat of a paid
    architecture is a free re-read and is told its known score again. ``warm``:
    architectures enqueued first (``enqueue_trial``; the warm-started TPE baseline).
    ``accept`` says which uids may be paid, where listing them is too much."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # ``accept`` instead of a set of every allowed uid: a space too large to enumerate
    allowed = accept if accept is not None else set(
        uids if uids is not None else space.uids(restrict, evaluator.can_evaluate)).__contains__
    study = optuna.create_study(direction="maximize",
                                sampler=optuna.samplers.TPESampler(seed=seed))
    choices = {d.name: [str(c) for c in d.choices
                        if not restrict or d.name not in restrict
                        or str(c) in {str(x) for x in restrict[d.name]}]
               for d in space.dimensions}
    for uid in warm or []:
        study.enqueue_trial({d: c for d, c in key_choices(key_of(uid)).items()
                             if d in choices})
    seen: dict[str, Evaluation] = {}
    for _ in range(50 * evaluator.budget):
        if evaluator.spent >= evaluator.budget:
            break
        trial = study.ask()
        arch = space.parse({d: trial.suggest_categorical(d, cs) for d, cs in choices.items()})
        if space.violation(arch):
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            continue
        uid = space.uid(space.canonical_form(arch))
        if not allowed(uid):
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            continue
        seen[uid] = evaluator.evaluate(uid)
        study.tell(trial, seen[uid].score)
    return _finish("tpe", seen)

"""A synthetic family of tasks with controlled transfer (docs/refinement.md, "Development
protocol" and "Synthetic transfer").

Over a design space of 5 dimensions with 6 choices each (7,776 architectures), every
task's score is::

    score_t(a) = sqrt(r) * f_shared(a) + sqrt(1 - r) * f_t(a) + noise_t(a)

where ``f(a) = sum_d alpha_d[a_d] + 0.5 * sum_{d<e} beta_de[a_d, a_e]`` has standard
normal main effects and pairwise interactions (one draw shared by the family, one per
task), standardised over the space, and the noise is N(0, 0.1^2) per architecture and
task. ``r`` is the shared share: 1 = every task ranks the space alike (up to noise),
0 = the tasks are unrelated. Scores are mapped to accuracy-like values
``0.75 + 0.05 * score``. A family's seed fixes every draw; families of different seeds
are independent, which is what makes them a development set apart from any real
benchmark.
"""

from __future__ import annotations

import itertools

import numpy as np
from mdesign.core.space import DesignSpace
from mdesign.refinement.memory import InMemoryEvidence, StoredResult, TaskTable

DIMS, CHOICES = 5, 6
NOISE = 0.1


def family_space() -> DesignSpace:
    return DesignSpace.from_dict({
        "name": "synthetic-transfer",
        "dimensions": [{"name": f"d{i}", "choices": [f"c{j}" for j in range(CHOICES)]}
                       for i in range(DIMS)],
    })


def _effects(rng: np.random.Generator, codes: np.ndarray) -> np.ndarray:
    f = np.zeros(len(codes))
    for d in range(DIMS):
        f += rng.standard_normal(CHOICES)[codes[:, d]]
    for d, e in itertools.combinations(range(DIMS), 2):
        f += 0.5 * rng.standard_normal((CHOICES, CHOICES))[codes[:, d], codes[:, e]]
    return (f - f.mean()) / f.std()


def family(shared: float, tasks: int = 9, seed: int = 0) -> InMemoryEvidence:
    """``tasks`` tasks (``t0`` ...) of shared share ``shared`` in [0, 1]."""
    space = family_space()
    keys = [space.key(a) for a in space.enumerate()]
    codes = np.array([[int(p.split("=")[1][1:]) for p in k.split(",")] for k in keys])
    rng = np.random.default_rng([seed, 7919])
    common = _effects(rng, codes)
    tables = {}
    for t in range(tasks):
        own = _effects(rng, codes)
        score = np.sqrt(shared) * common + np.sqrt(1 - shared) * own + \
            NOISE * rng.standard_normal(len(keys))
        acc = 0.75 + 0.05 * score
        tables[f"t{t}"] = TaskTable(results={
            k: StoredResult(score=float(v), valid=float(v), test=float(v))
            for k, v in zip(keys, acc.round(6), strict=True)})
    return InMemoryEvidence(space, tables)

"""The transfer surrogate: a Gaussian process over a design space whose prior mean and
part of whose kernel come from the source tasks (pure numpy, no database).

Notation. Candidates ``a`` are coded by their choice per dimension; ``h(a, a')`` is the
Hamming distance (the number of dimensions whose choices differ, i.e. the edits between
them). Each source ``s`` gives normal scores ``z_s(a)`` (:func:`normal_scores` of its
table; imputed where it never measured ``a``), ``w_s`` are the prior weights
(``sum w_s = 1``) and ``m(a) = sum_s w_s z_s(a)`` the consensus, scaled to unit variance
over the candidates. The target's paid results ``y`` enter as normal scores too (ranks
mapped through the standard normal quantile: robust to the heavy lower tail of failed
architectures, and scale-free before the target's own scale is known).

Two models of the target::

    M1 (transfer)     y(a) = b0 m(a) + b m(a) + sum_s d_s z_s(a) + f(a) + e
    M0 (target only)  y(a) =                                        f(a) + e

    b ~ N(0, sb2)   d_s ~ N(0, sd2 / S)   f ~ GP(0, sf2 rho^h(a, a'))   e ~ N(0, sn2)

plus a constant ``c`` for the unknown mean, so that ``y ~ GP(mu, K)`` with::

    M1:  mu = b0 m,  K = c + sb2 m m' + (sd2 / S) Z Z' + sf2 rho^h + sn2 I
    M0:  mu = 0,     K = c +                            sf2 rho^h + sn2 I

``b0`` is the prior belief that the consensus transfers (:func:`transfer_prior`: how well
the other sources' consensus predicts each source). ``b`` and ``d_s`` re-weight the
consensus and each source as the target's results come in (their posterior means are
the run's source weights, :meth:`Posterior.source_weights`). The residual ``f`` models
the target itself over the design dimensions. The hyperparameters ``(rho, sf2, sn2)`` are
chosen per model by type-II maximum likelihood over a fixed grid, and the two models are
averaged by their marginal likelihoods (prior odds 1:1, or ``odds="agreement"``: prior
``p(M1) = b0`` within [0.05, 0.95]): when the sources do not predict the target, M0's
evidence dominates and the surrogate is the target-only GP, which is the safety net.
With ``transfer=False`` only M0 is used (knowledge-free BO). The acquisition scores the
average (:class:`Posterior`) or, on request, the likelier model alone
(:meth:`Posterior.selected`).

Learned choice distances (``distances``, option ``kernel="sources"``). The Hamming
distance treats every change of a choice alike: ``gcn -> sage`` as far as ``gcn -> fc``,
an inert dimension as far as a decisive one. The sources measured that: for dimension
``d`` and choices ``c, c'``, ``delta_d(c, c')`` is the sources' mean of
``(z_s(c, x) - z_s(c', x))^2`` over the contexts ``x`` (the other dimensions' choices)
in which a source measured both (:func:`choice_distances`; made Euclidean by classical
scaling, so that ``rho^(sum_d delta_d)`` is a valid kernel, and scaled to mean 1 over
distinct choices, so that the Hamming distance is the special case ``delta = 1``). M1's
residual ``f`` may then use ``rho^(sum_d delta_d(a_d, a'_d))`` instead of ``rho^h``: the
shape is one more entry of M1's hyperparameter grid, so the target's marginal likelihood
decides between them, and M0, the knowledge-free model, keeps the Hamming kernel.

Ranking-weighted ensemble (``ensemble="rgpe"``, option ``transfer_model="rgpe"``; RGPE,
Feurer, Letham and Bakshy 2018). Instead of M1 and M0 averaged by evidence: the
sources' scores ``z_s`` and the target-only model M0 as base models, weighted by how
often each orders the paid results best across bootstrap draws of them
(:func:`ensemble_weights`; M0 by leave-one-out). Mean ``sum_s v_s z_s + v_t mu_0``, sd
``v_t sd_0``. Rank-based, so a source needs no slope or offset to count, and a single
source that orders the target like the target can take the weight alone.

Ranking-weighted prior mean (``ensemble="ranked"``, option ``transfer_model="ranked"``).
The same weights ``v`` set the prior mean of the target-only GP instead of mixing its
prediction::

    y(a) = sum_s v_s z_s(a) + f(a) + e      (M0's kernel, its own grid and likelihood)

so the mean follows the sources that order the paid results best while the residual
``f`` corrects them where the target's results disagree, and the sd is M0's, not
``v_t sd_0``: the acquisition keeps exploring. When the target model orders its own
results best (``v_t -> 1``) the prior mean shrinks to 0 and the model is M0: the safety
net.

Ranked prior mean of M1 (``prior_mean="ranked"``, option ``--prior-mean ranked``). M1 as
above, but its prior mean is ``b0 sum_s v_s z_s`` with RGPE's weights ``v`` refitted at
every step instead of ``b0 m``; the kernel (and so the slope and per-source corrections,
and the kept ``V``) is unchanged. The first paid results pick the sources the prior
follows; the target's regression on the consensus and on each source still corrects it.
``prior_mean="both"``: M1 with each prior mean, and the three models averaged by their
marginal likelihoods, the two M1s sharing the prior probability of "the sources
transfer" evenly, so the target's results choose between the prior means as they come in.

Main effects (``additive=True``, option ``kernel="additive"``). ``rho^h`` correlates two
architectures only when they are a few edits apart, so a result says little about an
architecture that shares one choice with it. ``1 - h/D`` (D dimensions) is the linear
kernel of the one-hot choices: each choice's effect is the same wherever it sits (the
main effects). Both models' grids then also hold the shape
``(1 - lam) rho^h + lam (1 - h/D)`` with ``lam = ADDITIVE_SHARE``, still a function of the
Hamming distance, and the target's likelihood picks it or the pure ``rho^h``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from statistics import NormalDist
from typing import Literal

import numpy as np

_NORMAL = NormalDist()
# The hyperparameter grid of the residual GP (per-dimension correlation, signal and
# noise variance on the normal-score scale), fixed in advance (docs/refinement.md).
RHO_GRID = (0.25, 0.5, 0.75)
SIGNAL_GRID = (0.25, 1.0)
NOISE_GRID = (0.01, 0.1)
CONSTANT = 1.0
SLOPE_VAR = 0.25   # sb2: prior variance of the consensus slope's correction
SLOPE_FLOOR = 0.01  # sb2's least value when the sources set it (slope="sources")
SOURCE_VAR = 0.25  # sd2: prior variance of the per-source corrections, shared by S
ADDITIVE_SHARE = 0.5  # lam: the main-effect share of the "additive" shape, fixed in advance
# hyperparameters="average": the grid points kept per model (fixed in advance, round 10)
AVERAGE_MASS = 0.99
AVERAGE_KEEP = 4
# transfer_model="rgpe": bootstrap draws and the weight-dilution percentile of the
# ranking-weighted ensemble, the published defaults (Feurer et al. 2018), fixed in
# advance (round 11); the stream keeps its draws apart from the run's other seeded ones
ENSEMBLE_SAMPLES = 100
ENSEMBLE_DILUTION = 95.0
ENSEMBLE_STREAM = 11


def normal_scores(values: Sequence[float] | np.ndarray) -> np.ndarray:
    """``Phi^-1((rank - 0.5) / n)`` of each value (average ranks for ties): a copula
    transform that keeps only the order."""
    v = np.asarray(values, dtype=float)
    n = len(v)
    if n == 0:
        return v
    order = np.argsort(v, kind="stable")
    ranks = np.empty(n)
    ranks[order] = np.arange(1, n + 1, dtype=float)
    # average ranks of ties, so that equal results get equal scores
    _, inverse, counts = np.unique(v, return_inverse=True, return_counts=True)
    if len(counts) < n:
        sums = np.bincount(inverse, weights=ranks)
        ranks = sums[inverse] / counts[inverse]
    inv = _NORMAL.inv_cdf
    return np.array([inv(p) for p in ((ranks - 0.5) / n).tolist()])


# --source-scores winsorised: the cap of each source's normal scores (about its top and
# bottom 2.3%), fixed before round 20's run, not swept
WINSOR_CAP = 2.0

# --source-scores switch: the number of paid results after which the capped scores give
# way to the normal ones, read off round 20's table and fixed before round 22's run
SWITCH_PAID = 20


def winsorised_scores(values: Sequence[float] | np.ndarray, cap: float = WINSOR_CAP
                      ) -> np.ndarray:
    """``min(cap, max(-cap, z)) / sd`` of the normal scores ``z`` of ``values``, ``sd``
    the standard deviation of the capped scores: the order kept up to the tails, every
    architecture beyond ``+-cap`` tied, and unit variance (a source's extremes are mostly
    its own; round 20 in docs/refinement.md)."""
    z = np.clip(normal_scores(values), -cap, cap)
    sd = float(z.std()) if len(z) else 0.0
    return z / sd if sd > 0 else z


def norm_pdf(x: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)


def norm_cdf(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + _erf(x / math.sqrt(2)))


def _erf(x: np.ndarray) -> np.ndarray:
    # Abramowitz-Stegun 7.1.26 (|err| < 1.5e-7): enough for an acquisition function
    s = np.sign(x)
    t = 1.0 / (1.0 + 0.3275911 * np.abs(x))
    y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736)
               * t + 0.254829592) * t * np.exp(-x * x)
    return s * y


def transfer_prior(agreements: Sequence[float]) -> float:
    """``b0``: the median of the sources' :func:`source_agreements` (each source's
    correlation with the weighted consensus of the others), at least 0; 0 with fewer than
    two sources. The sources' agreement among themselves is the prior belief that their
    consensus also describes a new task (the data then correct it)."""
    return max(0.0, float(np.median(agreements))) if len(agreements) else 0.0


def slope_variance(agreements: Sequence[float]) -> float:
    """``sb2`` from the sources (``slope="sources"``): how far a source's agreement with
    the others' consensus strays from ``b0``, ``mean_s (r_s - b0)^2``, at least
    ``SLOPE_FLOOR``; :data:`SLOPE_VAR` with fewer than two agreements. The target is taken
    as one more task like the sources: where they all agree (every task shares the same
    effects) or all disagree (none does), the consensus slope is nearly known, and the
    prior no longer spends the acquisition's exploration on the consensus' extremes."""
    if len(agreements) < 2:
        return SLOPE_VAR
    r = np.asarray(agreements, dtype=float)
    return max(SLOPE_FLOOR, float(np.mean((r - transfer_prior(agreements)) ** 2)))


def source_agreements(z: np.ndarray, weights: np.ndarray) -> list[float]:
    """Per source, the correlation of its normal scores with the weighted consensus of
    the other sources (none with fewer than two sources)."""
    s = z.shape[1]
    if s < 2:
        return []
    out = []
    for i in range(s):
        w = np.delete(weights, i)
        if w.sum() <= 0:
            continue
        rest = np.delete(z, i, axis=1) @ (w / w.sum())
        if rest.std() > 0 and z[:, i].std() > 0:
            out.append(float(np.corrcoef(z[:, i], rest)[0, 1]))
    return out


def choice_distances(tables: Sequence[tuple[np.ndarray, np.ndarray]],
                     weights: Sequence[float], sizes: Sequence[int]) -> list[np.ndarray]:
    """Per dimension ``d``, the ``(C_d, C_d)`` squared distances ``delta_d`` between its
    choices as the sources measured them (the module's docstring).

    ``tables``: per source, ``(codes, z)``: the choice index per dimension of each
    architecture it measured (``(n_s, D)``) and its normal scores; ``weights``: the
    sources' prior weights; ``sizes``: the number of choices per dimension. A pair of
    choices no source measured in a common context gets its dimension's mean distance
    (1 when the dimension has no measured pair at all). The weighted means are made
    Euclidean (classical scaling, negative eigenvalues dropped) and scaled to mean 1 over
    the distinct pairs of every dimension.
    """
    dims = len(sizes)
    out = []
    for d in range(dims):
        c = int(sizes[d])
        total, mass = np.zeros((c, c)), np.zeros((c, c))
        for (codes, z), w in zip(tables, weights, strict=True):
            if len(z) == 0 or w <= 0:
                continue
            codes = np.asarray(codes, dtype=np.int64)
            others = [e for e in range(dims) if e != d]
            ctx = np.zeros(len(z), dtype=np.int64)
            for e in others:  # mixed-radix id of the other dimensions' choices
                ctx = ctx * int(sizes[e]) + codes[:, e]
            _, ctx = np.unique(ctx, return_inverse=True)
            grid = np.full((int(ctx.max()) + 1, c), np.nan)
            grid[ctx, codes[:, d]] = z
            seen = ~np.isnan(grid)
            filled = np.where(seen, grid, 0.0)
            both = seen.T.astype(float) @ seen.astype(float)  # contexts measuring both
            sq = (filled ** 2).T @ seen.astype(float)          # sum z(c)^2 where c' seen
            sums = sq + sq.T - 2 * filled.T @ filled           # sum (z(c) - z(c'))^2
            has = both > 0
            mean = np.where(has, sums / np.maximum(both, 1), 0.0)
            total += w * mean
            mass += w * has
        off = ~np.eye(c, dtype=bool)
        known = (mass > 0) & off
        dist = np.where(known, total / np.maximum(mass, 1e-300), 0.0)
        fill = float(dist[known].mean()) if known.any() else 1.0
        dist = np.where(off & ~known, fill, dist)
        dist = (dist + dist.T) / 2
        np.fill_diagonal(dist, 0.0)
        # classical scaling: the nearest squared Euclidean distances
        j = np.eye(c) - 1.0 / c
        vals, vecs = np.linalg.eigh(-0.5 * j @ dist @ j)
        x = vecs[:, vals > 1e-12] * np.sqrt(vals[vals > 1e-12])
        g = x @ x.T
        sq_norm = np.diag(g)
        out.append(np.maximum(sq_norm[:, None] + sq_norm[None, :] - 2 * g, 0.0))
    pairs = np.concatenate([m[~np.eye(len(m), dtype=bool)] for m in out]) if out else \
        np.zeros(0)
    scale = float(pairs.mean()) if pairs.size and pairs.mean() > 0 else 1.0
    return [m / scale for m in out]


@dataclass
class _Model:
    """One model's chosen hyperparameters and its fit on the paid set."""

    transfer: bool
    shape: str  # "hamming", "additive" (with main effects) or "learned" (distance)
    rho: float
    signal: float
    noise: float
    log_ml: float
    chol: np.ndarray
    white: np.ndarray  # L^-1 (y - mu_P)
    alpha: np.ndarray  # K^-1 (y - mu_P) = L^-T white
    mean: np.ndarray | None = None  # M1's prior mean over the candidates; None: b0 m


class _Cross:
    """One kept grid point's ``V = L^-1 K_P*`` kept across refits: ``K_P*`` is the kernel between
    the paid set and every candidate, ``L`` the Cholesky factor of the paid kernel, and
    ``ss = sum_j V_j^2`` is the variance the paid set explains at each candidate. A run
    only appends to its paid set and keeps a model's hyperparameters for many steps; then
    ``V`` gains a block of rows, ``V_new = L22^-1 (K_new* - L21 V)``: O(N n) per result
    instead of O(N n^2). The mean needs no more: ``K*P K^-1 r = V' (L^-1 r)``."""

    def __init__(self, n_candidates: int) -> None:
        self.paid: list[int] = []
        self.v = np.zeros((0, n_candidates))
        self.chol = np.zeros((0, 0))
        self.ss = np.zeros(n_candidates)

    def update(self, paid: list[int], chol: np.ndarray,
               columns: Callable[[list[int]], np.ndarray]) -> np.ndarray:
        """``V`` for the paid set and its factor ``chol``. The rows of the longest common
        prefix solved with the same leading factor are kept; for the rest
        ``columns(tail)`` gives the kernel between every candidate and the paid set's
        last ``len(tail)`` candidates (``N x len(tail)``)."""
        m = 0
        for a, b in zip(self.paid, paid, strict=False):
            if a != b:
                break
            m += 1
        if m and not np.allclose(chol[:m, :m], self.chol[:m, :m], rtol=1e-10, atol=1e-12):
            m = 0
        n = len(paid)
        if m < len(self.paid):
            self.ss = (self.v[:m] ** 2).sum(axis=0)
        if n > self.v.shape[0]:  # room in steps of 32 rows: few copies, little slack
            v = np.empty((-(-n // 32) * 32, self.v.shape[1]))
            v[:m] = self.v[:m]
            self.v = v
        if n > m:
            k_new = columns(paid[m:]).T
            if m == 0:
                self.v[:n] = np.linalg.inv(chol) @ k_new
            else:
                self.v[m:n] = np.linalg.inv(chol[m:n, m:n]) @ (k_new - chol[m:n, :m] @ self.v[:m])
            self.ss = self.ss + (self.v[m:n] ** 2).sum(axis=0)
        self.paid, self.chol = list(paid), chol
        return self.v[:n]


@dataclass
class Posterior:
    """The surrogate's prediction over every candidate (latent values, normal-score
    scale) and what it learnt of the sources."""

    mean: np.ndarray
    means: tuple[np.ndarray, ...]  # per component: M1's kept grid points (if used), M0's
    sds: tuple[np.ndarray, ...]    # per component, same order
    probs: tuple[float, ...]       # posterior probabilities, same order
    transfer_probability: float    # p(M1 | y): 0 without transfer
    source_coefficients: np.ndarray  # (b0 + b) w_s + d_s per source, M1's posterior mean
    best: float                    # the best paid normal score
    kernel: str = "hamming"        # M1's residual shape: "hamming", "additive", "learned"

    @cached_property
    def sd(self) -> np.ndarray:
        """The mixture's sd (law of total variance over the models)."""
        second = sum(p * (sd ** 2 + mu ** 2) for p, mu, sd in zip(self.probs, self.means,
                                                                   self.sds, strict=True))
        return np.sqrt(np.maximum(second - self.mean ** 2, 1e-12))

    def sd_at(self, i: int) -> float:
        return float(self.sd[i])

    def selected(self) -> Posterior:
        """The more probable model alone, as if it were certain (``transfer_model=
        "select"``); M1 on an exact tie. The mixture's sd adds the spread between the
        models and M1's uncertainty about the sources' coefficients, which is largest
        where the sources' scores are extreme; while "target only" is the likelier model,
        the selected posterior leaves that out of the acquisition."""
        k = int(np.argmax(self.probs))
        return replace(self, mean=self.means[k], means=(self.means[k],),
                       sds=(self.sds[k],), probs=(1.0,))

    def expected_improvement(self, allowed: np.ndarray | None = None) -> np.ndarray:
        """EI of the model mixture, ``sum_k p_k EI_k`` (EI is linear in the density), for
        the ``allowed`` candidates (all by default; the others get -inf)."""
        out = np.zeros(len(self.mean))
        for p, mu, sd in zip(self.probs, self.means, self.sds, strict=True):
            s = np.maximum(sd, 1e-9)
            u = (mu - self.best) / s
            out += p * (s * (u * norm_cdf(u) + norm_pdf(u)))
        return out if allowed is None else np.where(allowed, out, -np.inf)

    def upper_bound(self, kappa: float = 2.0) -> np.ndarray:
        return self.mean + kappa * self.sd

    def thompson(self, rng: np.random.Generator) -> np.ndarray:
        """One draw per candidate from the mixture's marginals (model first, then value):
        marginal, not joint, Thompson sampling."""
        k = int(rng.choice(len(self.probs), p=np.asarray(self.probs) / sum(self.probs)))
        return self.means[k] + self.sds[k] * rng.standard_normal(len(self.mean))


class _PaidColumns:
    """An ``(N, len(paid))`` matrix with ``column(p)`` for each paid candidate ``p``, kept
    and extended as the paid set grows (a run only appends to it; a paid set that neither
    extends nor is a prefix of the kept one starts afresh)."""

    def __init__(self, n: int, column: Callable[[int], np.ndarray], dtype: type) -> None:
        self.column = column
        self.key: tuple[int, ...] = ()
        self.matrix = np.zeros((n, 0), dtype=dtype)

    def __call__(self, paid: Sequence[int] | np.ndarray) -> np.ndarray:
        key = tuple(int(i) for i in paid)
        if key[:len(self.key)] != self.key and self.key[:len(key)] != key:
            self.key, self.matrix = (), self.matrix[:, :0]
        if len(key) > len(self.key):
            new = np.stack([self.column(i) for i in key[len(self.key):]], axis=1)
            self.matrix = np.concatenate([self.matrix, new.astype(self.matrix.dtype)],
                                         axis=1)
            self.key = key
        return self.matrix[:, :len(key)]


class TransferSurrogate:
    """The two-model GP over fixed candidates; :meth:`posterior` refits on the paid set.

    ``codes``: ``(N, n_dims)`` integer choice index per dimension of each candidate;
    ``z``: ``(N, S)`` source normal scores (S may be 0); ``weights``: ``(S,)`` prior
    weights. With ``transfer=False`` or no source only the target-only model is fitted.
    ``z_mean``: other ``(N, S)`` scores of the same sources for the consensus ``m`` and
    the agreement that sets ``b0`` (``--source-scores split``: winsorised), while ``Z``
    of the per-source terms stays ``z``.
    """

    def __init__(self, codes: np.ndarray, z: np.ndarray, weights: np.ndarray,
                 transfer: bool = True, odds: str = "even",
                 distances: Sequence[np.ndarray] | None = None,
                 additive: bool = False, slope: str = "fixed",
                 prior_mean: Literal["consensus", "ranked", "both"] = "consensus",
                 hyperparameters: str = "maximum",
                 ensemble: Literal["none", "rgpe", "ranked"] = "none",
                 seed: int = 0, z_mean: np.ndarray | None = None) -> None:
        self.odds, self.additive, self.hyperparameters = odds, additive, hyperparameters
        self.ensemble, self.seed, self.prior_mean = ensemble, seed, prior_mean
        self.codes = np.asarray(codes, dtype=np.int32)
        self.n, self.dims = self.codes.shape
        self.z = np.asarray(z, dtype=float).reshape(self.n, -1)
        self.transfer = transfer and self.z.shape[1] > 0
        w = np.asarray(weights, dtype=float)
        self.weights = w / w.sum() if w.size and w.sum() > 0 else w
        if self.transfer:
            zm = self.z if z_mean is None else np.asarray(z_mean, dtype=float).reshape(
                self.z.shape)
            m = zm @ self.weights
            sd = m.std()
            self.m = (m - m.mean()) / sd if sd > 0 else m - m.mean()
            agreements = source_agreements(zm, self.weights)
            self.b0 = transfer_prior(agreements)
            self.sb2 = slope_variance(agreements) if slope == "sources" else SLOPE_VAR
            # the transfer part of the kernel is F F' with F = [sqrt(sb2) m, sqrt(sd2/S) Z]
            s = self.z.shape[1]
            self.f = np.hstack([math.sqrt(self.sb2) * self.m[:, None],
                                math.sqrt(SOURCE_VAR / s) * self.z])
        else:
            self.m = np.zeros(self.n)
            self.b0, self.sb2 = 0.0, SLOPE_VAR
            self.f = np.zeros((self.n, 0))
        # Hamming distances of every candidate to each paid one, a column per paid
        self._hamming: dict[int, np.ndarray] = {}
        self._hamming_matrix = _PaidColumns(self.n, self.hamming_to, np.int8)
        self._cross: dict[tuple[object, ...], _Cross] = {}  # per kept grid point
        # learned choice distances (M1 only): sum_d delta_d per candidate and paid one
        self.learned = self.transfer and distances is not None
        self._deltas = [np.asarray(m, dtype=float) for m in distances] \
            if self.learned and distances is not None else []
        self._learned_matrix = _PaidColumns(self.n, self.learned_to, np.float64)

    def correlation(self, shape: str, rho: float) -> np.ndarray:
        """The residual correlation at Hamming distance ``0..D`` for a Hamming-based
        shape."""
        h = np.arange(self.dims + 1)
        if shape == "additive":
            return (1 - ADDITIVE_SHARE) * rho ** h + ADDITIVE_SHARE * (1 - h / self.dims)
        return rho ** h.astype(float)

    def hamming_to(self, i: int) -> np.ndarray:
        h = self._hamming.get(i)
        if h is None:
            h = (self.codes != self.codes[i]).sum(axis=1).astype(np.int8)
            self._hamming[i] = h
        return h

    def learned_to(self, i: int) -> np.ndarray:
        """The learned distance ``sum_d delta_d(a_d, p_d)`` of every candidate to ``i``."""
        return sum((delta[self.codes[:, d], self.codes[i, d]]
                    for d, delta in enumerate(self._deltas)), np.zeros(self.n))

    def _columns(self, mo: _Model, h_all: np.ndarray, paid: list[int]
                 ) -> Callable[[list[int]], np.ndarray]:
        """The model's kernel between every candidate and the paid set's last candidates
        (``h_all``'s columns are the paid set in order): ``k(a, p) = c +
        sf2 rho^dist(a, p) [+ F(a) F(p)']``; for the Hamming distance rho^h by table
        lookup."""
        table = mo.signal * self.correlation(mo.shape, mo.rho)
        l_all = self._learned_matrix(np.asarray(paid)) if mo.shape == "learned" else None

        def columns(rows: list[int]) -> np.ndarray:
            at = np.arange(len(paid) - len(rows), len(paid))
            if l_all is not None:
                cols = CONSTANT + mo.signal * mo.rho ** l_all[:, at]
            else:
                cols = CONSTANT + table[h_all[:, at]]
            if mo.transfer:
                cols = cols + self.f @ self.f[rows].T
            return cols

        return columns

    def consensus(self) -> np.ndarray:
        """The prior mean's order before anything is paid: ``m(a)``."""
        return self.m

    def _kernel_parts(self, paid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(H, T)`` among the paid set: Hamming distances and the transfer part
        ``sb2 m m' + (sd2/S) Z Z'``."""
        h = self._hamming_matrix(paid)[paid]
        fp = self.f[paid]
        return h, fp @ fp.T

    def _grid(self, transfer: bool, y: np.ndarray, h: np.ndarray, t: np.ndarray,
              mu: np.ndarray, paid: np.ndarray, mean: np.ndarray | None = None
              ) -> list[_Model]:
        """The model fitted at every point of its hyperparameter grid (a point whose
        kernel is not positive definite is left out); ``mu`` is the prior mean at the
        paid set, ``mean`` M1's over every candidate when it is not ``b0 m``."""
        fits: list[_Model] = []
        n = len(y)
        r = y - mu
        grid = [("hamming", rho) for rho in RHO_GRID]
        if self.additive:
            grid += [("additive", rho) for rho in RHO_GRID]
        dist = None
        if transfer and self.learned:
            dist = self._learned_matrix(paid)[paid]
            grid += [("learned", rho) for rho in RHO_GRID]
        base = CONSTANT + (t if transfer else 0.0)
        for shape, rho in grid:
            corr = rho ** dist if shape == "learned" and dist is not None else \
                self.correlation(shape, rho)[h]
            for signal in SIGNAL_GRID:
                for noise in NOISE_GRID:
                    k = base + signal * corr + noise * np.eye(n)
                    try:
                        chol = np.linalg.cholesky(k)
                    except np.linalg.LinAlgError:
                        continue
                    white = np.linalg.solve(chol, r)
                    alpha = np.linalg.solve(chol.T, white)
                    log_ml = float(-0.5 * r @ alpha - np.log(np.diag(chol)).sum()
                                   - 0.5 * n * math.log(2 * math.pi))
                    fits.append(_Model(transfer, shape, rho, signal, noise, log_ml, chol,
                                       white, alpha, mean))
        assert fits, "the constant and noise terms keep K positive definite"
        return fits

    def _components(self, fits: list[_Model]) -> tuple[float, list[tuple[_Model, float]]]:
        """A model's log evidence and the grid points its posterior keeps, with their
        weights within the model. ``hyperparameters="maximum"``: the type-II maximum
        likelihood point alone, evidence its likelihood. ``"average"``: the grid's
        posterior under a uniform prior over its points, evidence the mean likelihood
        (so a model is not favoured for having more shapes to choose from); the most
        probable points holding :data:`AVERAGE_MASS` of the weight, at most
        :data:`AVERAGE_KEEP`, renormalised (the rest change the acquisition by little
        and each kept point costs one prediction over the candidates)."""
        logs = np.array([mo.log_ml for mo in fits])
        top = float(logs.max())
        if self.hyperparameters == "maximum":
            return top, [(fits[int(np.argmax(logs))], 1.0)]
        w = np.exp(logs - top)
        evidence = top + math.log(float(w.sum()) / len(fits))
        w /= w.sum()
        kept: list[tuple[_Model, float]] = []
        mass = 0.0
        for i in np.argsort(-w, kind="stable"):
            kept.append((fits[int(i)], float(w[i])))
            mass += float(w[i])
            if mass >= AVERAGE_MASS or len(kept) == AVERAGE_KEEP:
                break
        return evidence, [(mo, wk / mass) for mo, wk in kept]

    def _predict(self, fits: Sequence[_Model], paid_idx: np.ndarray
                 ) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Each fitted grid point's mean and sd at every candidate, through the kept
        ``V`` of that point (:class:`_Cross`; it does not depend on the prior mean, so
        M1 with either prior mean shares it)."""
        h_all = self._hamming_matrix(paid_idx)
        prior_common = (self.f ** 2).sum(axis=1)
        paid_list = [int(i) for i in paid_idx]
        means, sds = [], []
        caches: dict[tuple[object, ...], _Cross] = {}
        for mo in fits:
            hyper = (mo.transfer, mo.shape, mo.rho, mo.signal, mo.noise)
            cross = self._cross.get(hyper)
            if cross is None:
                cross = _Cross(self.n)
            caches[hyper] = cross
            v = cross.update(paid_list, mo.chol, self._columns(mo, h_all, paid_list))
            prior_var = np.full(self.n, CONSTANT + mo.signal)
            mu = np.zeros(self.n)
            if mo.transfer:
                prior_var = prior_var + prior_common
                mu = self.b0 * self.m if mo.mean is None else mo.mean
            means.append(mu + mo.white @ v)
            sds.append(np.sqrt(np.maximum(prior_var - cross.ss, 1e-12)))
        self._cross = caches  # the points no longer kept free their memory
        return means, sds

    def _ranking_weights(self, paid_idx: np.ndarray, ys: np.ndarray, h_pp: np.ndarray,
                         t_pp: np.ndarray, fits: list[_Model] | None = None
                         ) -> tuple[np.ndarray, list[tuple[_Model, float]]]:
        """RGPE's weights ``v`` (the sources', then the target model's) on the paid
        results, and M0's kept grid points (the target model enters the weights through
        the leave-one-out predictions of its most probable point; ``fits``: M0's grid
        when it is already fitted)."""
        if fits is None:
            fits = self._grid(False, ys, h_pp, t_pp, np.zeros(len(ys)), paid_idx)
        _, kept = self._components(fits)
        predictions = np.column_stack([self.z[paid_idx], leave_one_out(kept[0][0], ys)])
        rng = np.random.default_rng([self.seed, len(ys), ENSEMBLE_STREAM])
        return ensemble_weights(predictions, ys, rng), kept

    def _ensemble(self, paid_idx: np.ndarray, ys: np.ndarray, h_pp: np.ndarray,
                  t_pp: np.ndarray) -> Posterior:
        """``transfer_model="rgpe"``: the ranking-weighted ensemble of the sources' scores
        and the target-only model (:func:`ensemble_weights`). Mean
        ``sum_s v_s z_s(a) + v_t mu_t(a)``, sd ``v_t sd_t(a)`` (a source's scores are
        known, so only the target's model adds uncertainty).
        ``transfer_probability`` is the weight on the sources, ``1 - v_t``."""
        v, kept = self._ranking_weights(paid_idx, ys, h_pp, t_pp)
        means, sds = self._predict([mo for mo, _ in kept], paid_idx)
        mu_t = sum(wk * mu for (_, wk), mu in zip(kept, means, strict=True))
        second = sum(wk * (sd ** 2 + mu ** 2)
                     for (_, wk), mu, sd in zip(kept, means, sds, strict=True))
        sd_t = np.sqrt(np.maximum(second - mu_t ** 2, 1e-12))
        mean = self.z @ v[:-1] + v[-1] * mu_t
        sd = np.maximum(v[-1] * sd_t, 1e-12)
        return Posterior(mean, (mean,), (sd,), (1.0,), float(1 - v[-1]), v[:-1].copy(),
                         float(ys.max()))

    def _ranked_prior(self, paid_idx: np.ndarray, ys: np.ndarray, h_pp: np.ndarray,
                      t_pp: np.ndarray) -> Posterior:
        """``transfer_model="ranked"``: the target-only GP with prior mean
        ``sum_s v_s z_s(a)`` (RGPE's weights; the target model's share ``v_t`` adds 0),
        fitted on its residuals over M0's grid. Mean and sd are that GP's (its kept grid
        points are the components); ``transfer_probability`` is ``1 - v_t``."""
        v, _ = self._ranking_weights(paid_idx, ys, h_pp, t_pp)
        prior = self.z @ v[:-1]
        fits = self._grid(False, ys, h_pp, t_pp, prior[paid_idx], paid_idx)
        _, kept = self._components(fits)
        means, sds = self._predict([mo for mo, _ in kept], paid_idx)
        means = [prior + mu for mu in means]
        probs = tuple(wk for _, wk in kept)
        mean = sum(p * mu for p, mu in zip(probs, means, strict=True))
        return Posterior(mean, tuple(means), tuple(sds), probs, float(1 - v[-1]),
                         v[:-1].copy(), float(ys.max()))

    def posterior(self, paid: Sequence[int], y: Sequence[float] | np.ndarray) -> Posterior:
        """Fit on the paid candidates' raw results ``y`` (higher is better) and predict
        every candidate."""
        paid_idx = np.asarray(paid, dtype=int)
        ys = normal_scores(y)
        if len(paid_idx) == 0:
            mean = self.b0 * self.m
            sd0 = np.full(self.n, math.sqrt(CONSTANT + 1.0))
            return Posterior(mean, (mean,), (sd0,), (1.0,), 1.0 if self.transfer else 0.0,
                             self.b0 * self.weights, -math.inf)
        h_pp, t_pp = self._kernel_parts(paid_idx)
        if self.ensemble == "rgpe" and self.transfer:
            return self._ensemble(paid_idx, ys, h_pp, t_pp)
        if self.ensemble == "ranked" and self.transfer:
            return self._ranked_prior(paid_idx, ys, h_pp, t_pp)
        target_only = self._grid(False, ys, h_pp, t_pp, np.zeros(len(ys)), paid_idx)
        grids = []
        ranked = None
        if self.transfer:
            if self.prior_mean != "ranked":
                grids.append(self._grid(True, ys, h_pp, t_pp, self.b0 * self.m[paid_idx],
                                        paid_idx))
            if self.prior_mean != "consensus":
                # M1's prior mean from the sources that order the paid results best; the
                # target model's share v_t adds 0, so the mean shrinks as it leads
                ranked, _ = self._ranking_weights(paid_idx, ys, h_pp, t_pp, target_only)
                mean_r = self.b0 * (self.z @ ranked[:-1])
                grids.append(self._grid(True, ys, h_pp, t_pp, mean_r[paid_idx], paid_idx,
                                        mean_r))
        grids.append(target_only)
        parts = [self._components(fits) for fits in grids]
        logs = np.array([evidence for evidence, _ in parts])
        if len(parts) == 3:
            # prior_mean="both": the two M1s share p(sources transfer) evenly
            p1 = min(0.95, max(0.05, self.b0)) if self.odds == "agreement" else 0.5
            logs = logs + np.log([p1 / 2, p1 / 2, 1 - p1])
        elif len(parts) == 2 and self.odds == "agreement":
            # prior p(M1) = the sources' agreement b0 (kept within [0.05, 0.95])
            p1 = min(0.95, max(0.05, self.b0))
            logs = logs + np.log([p1, 1 - p1])
        model_probs = np.exp(logs - logs.max())
        model_probs /= model_probs.sum()
        # every kept grid point of every model, weighted by p(model) p(point | model)
        components = [(mo, float(pm) * wk)
                      for pm, (_, kept) in zip(model_probs, parts, strict=True)
                      for mo, wk in kept]
        means, sds = self._predict([mo for mo, _ in components], paid_idx)
        probs = tuple(p for _, p in components)
        mean = sum(p * mu for p, mu in zip(probs, means, strict=True))
        coef = np.zeros(self.z.shape[1])
        p1 = 0.0
        first_kept = parts[0][1]  # M1's kept points when it is used, else M0's
        if self.transfer:
            s = self.z.shape[1]
            p1 = float(model_probs[:-1].sum())
            m1_parts = len(parts) - 1
            for i in range(m1_parts):
                # each M1's posterior mean of the source coefficients, the two M1s of
                # prior_mean="both" weighted by their share of p(M1)
                share = 1.0 if m1_parts == 1 else (
                    float(model_probs[i]) / p1 if p1 > 0 else 1.0 / m1_parts)
                for mo, wk in parts[i][1]:
                    b = self.sb2 * float(self.m[paid_idx] @ mo.alpha)
                    d = (SOURCE_VAR / s) * (self.z[paid_idx].T @ mo.alpha)
                    if mo.mean is None:
                        coef = coef + share * wk * ((self.b0 + b) * self.weights + d)
                    else:
                        assert ranked is not None
                        coef = coef + share * wk * (self.b0 * ranked[:-1] + b * self.weights
                                                    + d)
        return Posterior(mean, tuple(means), tuple(sds), probs, p1, coef,
                         float(ys.max()), first_kept[0][0].shape)


def leave_one_out(model: _Model, y: np.ndarray) -> np.ndarray:
    """The model's prediction of each paid result from the others (closed form for a
    GP with prior mean 0: ``y_i - alpha_i / [K^-1]_ii``)."""
    inv_chol = np.linalg.inv(model.chol)
    diag = (inv_chol ** 2).sum(axis=0)
    return np.asarray(y, dtype=float) - model.alpha / diag


def ranking_losses(predictions: np.ndarray, y: np.ndarray, counts: np.ndarray
                   ) -> np.ndarray:
    """``(B, M)``: for each bootstrap draw (``counts``, ``(B, n)`` multiplicities of the
    paid results) and each model (a column of ``predictions``, ``(n, M)``), the number of
    pairs of drawn results that the model orders unlike ``y``:
    ``sum_jk c_j c_k [(p_j < p_k) xor (y_j < y_k)]``."""
    n, m = predictions.shape
    below_y = y[:, None] < y[None, :]
    wrong = (predictions[:, None, :] < predictions[None, :, :]) != below_y[:, :, None]
    partial = (counts @ wrong.reshape(n, n * m).astype(float)).reshape(len(counts), n, m)
    return (partial * counts[:, :, None]).sum(axis=1)


def ensemble_weights(predictions: np.ndarray, y: np.ndarray, rng: np.random.Generator,
                     samples: int = ENSEMBLE_SAMPLES) -> np.ndarray:
    """The ranking-weighted ensemble's weights (RGPE, Feurer, Letham and Bakshy 2018):
    the share of ``samples`` bootstrap draws of the paid results in which each model
    (a column of ``predictions``; the last is the target's own model, predicting each
    result by leave-one-out) orders them best (:func:`ranking_losses`; a tie is shared
    evenly). A source whose median loss is above the :data:`ENSEMBLE_DILUTION`
    percentile of the target model's loss gets weight 0 (weight dilution: many mediocre
    sources must not outvote the target together)."""
    n = len(predictions)
    counts = rng.multinomial(n, np.full(n, 1.0 / n), size=samples).astype(float)
    loss = ranking_losses(predictions, np.asarray(y, dtype=float), counts)
    bar = np.percentile(loss[:, -1], ENSEMBLE_DILUTION)
    diluted = np.median(loss[:, :-1], axis=0) > bar
    loss[:, np.flatnonzero(diluted)] = np.inf
    best = loss == loss.min(axis=1, keepdims=True)
    return (best / best.sum(axis=1, keepdims=True)).mean(axis=0)


def portfolio(z: np.ndarray, weights: np.ndarray, size: int,
              allowed: np.ndarray | None = None) -> list[int]:
    """A first design from the sources: greedily the candidates that maximise
    ``sum_s w_s max_{c in P} z_s(c)`` (each source's best covered, weighted). The first
    pick is the consensus best; later ones add what the chosen miss on some sources."""
    n = z.shape[0]
    if z.shape[1] == 0 or size <= 0:
        return []
    ok = np.ones(n, dtype=bool) if allowed is None else allowed.copy()
    w = weights / weights.sum() if weights.sum() > 0 else np.full(len(weights),
                                                                    1 / len(weights))
    covered = np.full(z.shape[1], -np.inf)
    picks: list[int] = []
    for _ in range(min(size, int(ok.sum()))):
        gain = (np.maximum(z, covered) * w).sum(axis=1)
        gain[~ok] = -np.inf
        i = int(np.argmax(gain))
        picks.append(i)
        covered = np.maximum(covered, z[i])
        ok[i] = False
    return picks

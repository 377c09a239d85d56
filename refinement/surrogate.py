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
averaged by their marginal likelihoods (prior odds 1:1): when the sources do not predict
the target, M0's evidence dominates and the surrogate is the target-only GP, which is
the safety net. With ``transfer=False`` only M0 is used (knowledge-free BO).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

_NORMAL = NormalDist()
# The hyperparameter grid of the residual GP (per-dimension correlation, signal and
# noise variance on the normal-score scale), fixed in advance (docs/refinement.md).
RHO_GRID = (0.25, 0.5, 0.75)
SIGNAL_GRID = (0.25, 1.0)
NOISE_GRID = (0.01, 0.1)
CONSTANT = 1.0
SLOPE_VAR = 0.25   # sb2: prior variance of the consensus slope's correction
SOURCE_VAR = 0.25  # sd2: prior variance of the per-source corrections, shared by S


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


def transfer_prior(z: np.ndarray, weights: np.ndarray) -> float:
    """``b0``: the median over sources of the correlation between a source's normal
    scores and the (weighted) consensus of the others; 0 with fewer than two sources.
    The sources' agreement among themselves is the prior belief that their consensus
    also describes a new task (the data then correct it)."""
    s = z.shape[1]
    if s < 2:
        return 0.0
    out = []
    for i in range(s):
        w = np.delete(weights, i)
        if w.sum() <= 0:
            continue
        rest = np.delete(z, i, axis=1) @ (w / w.sum())
        if rest.std() > 0 and z[:, i].std() > 0:
            out.append(float(np.corrcoef(z[:, i], rest)[0, 1]))
    return max(0.0, float(np.median(out))) if out else 0.0


@dataclass
class _Model:
    """One model's chosen hyperparameters and its fit on the paid set."""

    transfer: bool
    rho: float
    signal: float
    noise: float
    log_ml: float
    chol: np.ndarray
    alpha: np.ndarray  # K^-1 (y - mu_P)


@dataclass
class Posterior:
    """The surrogate's prediction over every candidate (latent values, normal-score
    scale) and what it learnt of the sources."""

    mean: np.ndarray
    sd: np.ndarray
    means: tuple[np.ndarray, ...]  # per model: M1 (if used), M0
    sds: tuple[np.ndarray, ...]
    probs: tuple[float, ...]       # posterior model probabilities, same order
    transfer_probability: float    # p(M1 | y): 0 without transfer
    source_coefficients: np.ndarray  # (b0 + b) w_s + d_s per source, M1's posterior mean
    best: float                    # the best paid normal score

    def expected_improvement(self) -> np.ndarray:
        """EI of the model mixture: ``sum_k p_k EI_k`` (EI is linear in the density)."""
        out = np.zeros_like(self.mean)
        for p, mu, sd in zip(self.probs, self.means, self.sds, strict=True):
            s = np.maximum(sd, 1e-9)
            u = (mu - self.best) / s
            out += p * (s * (u * norm_cdf(u) + norm_pdf(u)))
        return out

    def upper_bound(self, kappa: float = 2.0) -> np.ndarray:
        return self.mean + kappa * self.sd

    def thompson(self, rng: np.random.Generator) -> np.ndarray:
        """One draw per candidate from the mixture's marginals (model first, then value):
        marginal, not joint, Thompson sampling."""
        k = int(rng.choice(len(self.probs), p=np.asarray(self.probs) / sum(self.probs)))
        return self.means[k] + self.sds[k] * rng.standard_normal(len(self.mean))


class TransferSurrogate:
    """The two-model GP over fixed candidates; :meth:`posterior` refits on the paid set.

    ``codes``: ``(N, n_dims)`` integer choice index per dimension of each candidate;
    ``z``: ``(N, S)`` source normal scores (S may be 0); ``weights``: ``(S,)`` prior
    weights. With ``transfer=False`` or no source only the target-only model is fitted.
    """

    def __init__(self, codes: np.ndarray, z: np.ndarray, weights: np.ndarray,
                 transfer: bool = True) -> None:
        self.codes = np.asarray(codes, dtype=np.int32)
        self.n, self.dims = self.codes.shape
        self.z = np.asarray(z, dtype=float).reshape(self.n, -1)
        self.transfer = transfer and self.z.shape[1] > 0
        w = np.asarray(weights, dtype=float)
        self.weights = w / w.sum() if w.size and w.sum() > 0 else w
        if self.transfer:
            m = self.z @ self.weights
            sd = m.std()
            self.m = (m - m.mean()) / sd if sd > 0 else m - m.mean()
            self.b0 = transfer_prior(self.z, self.weights)
        else:
            self.m = np.zeros(self.n)
            self.b0 = 0.0
        # Hamming distances of every candidate to each paid one, a column per paid
        self._hamming: dict[int, np.ndarray] = {}

    def hamming_to(self, i: int) -> np.ndarray:
        h = self._hamming.get(i)
        if h is None:
            h = (self.codes != self.codes[i]).sum(axis=1).astype(np.int8)
            self._hamming[i] = h
        return h

    def consensus(self) -> np.ndarray:
        """The prior mean's order before anything is paid: ``m(a)``."""
        return self.m

    def _kernel_parts(self, rows: np.ndarray | slice, paid: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray]:
        """``(H, T)``: Hamming distances and the transfer part ``sb2 m m' + sd2/S Z Z'``
        between ``rows`` and the paid set."""
        h = np.stack([self.hamming_to(int(i)) for i in paid], axis=1)[rows]
        if not self.transfer:
            return h, np.zeros(h.shape)
        s = self.z.shape[1]
        t = SLOPE_VAR * np.outer(self.m[rows], self.m[paid]) + \
            (SOURCE_VAR / s) * (self.z[rows] @ self.z[paid].T)
        return h, t

    def _fit(self, transfer: bool, y: np.ndarray, h: np.ndarray, t: np.ndarray,
             mu: np.ndarray) -> _Model:
        best: _Model | None = None
        n = len(y)
        r = y - mu
        for rho in RHO_GRID:
            base = CONSTANT + (t if transfer else 0.0)
            corr = rho ** h
            for signal in SIGNAL_GRID:
                for noise in NOISE_GRID:
                    k = base + signal * corr + noise * np.eye(n)
                    try:
                        chol = np.linalg.cholesky(k)
                    except np.linalg.LinAlgError:
                        continue
                    alpha = np.linalg.solve(chol.T, np.linalg.solve(chol, r))
                    log_ml = float(-0.5 * r @ alpha - np.log(np.diag(chol)).sum()
                                   - 0.5 * n * math.log(2 * math.pi))
                    if best is None or log_ml > best.log_ml:
                        best = _Model(transfer, rho, signal, noise, log_ml, chol, alpha)
        assert best is not None, "the constant and noise terms keep K positive definite"
        return best

    def posterior(self, paid: Sequence[int], y: Sequence[float] | np.ndarray) -> Posterior:
        """Fit on the paid candidates' raw results ``y`` (higher is better) and predict
        every candidate."""
        paid_idx = np.asarray(paid, dtype=int)
        ys = normal_scores(y)
        if len(paid_idx) == 0:
            mean = self.b0 * self.m
            sd = np.full(self.n, math.sqrt(CONSTANT + 1.0))
            return Posterior(mean, sd, (mean,), (sd,), (1.0,),
                             1.0 if self.transfer else 0.0,
                             self.b0 * self.weights, -math.inf)
        h_pp, t_pp = self._kernel_parts(paid_idx, paid_idx)
        models = []
        if self.transfer:
            models.append(self._fit(True, ys, h_pp, t_pp, self.b0 * self.m[paid_idx]))
        models.append(self._fit(False, ys, h_pp, t_pp, np.zeros(len(ys))))
        logs = np.array([mo.log_ml for mo in models])
        probs = np.exp(logs - logs.max())
        probs /= probs.sum()
        h_all, t_all = self._kernel_parts(slice(None), paid_idx)
        means, sds = [], []
        for mo in models:
            k_star = CONSTANT + mo.signal * (mo.rho ** h_all)
            prior_var = CONSTANT + mo.signal
            mu = np.zeros(self.n)
            if mo.transfer:
                k_star = k_star + t_all
                s = self.z.shape[1]
                prior_var = prior_var + SLOPE_VAR * self.m ** 2 + \
                    (SOURCE_VAR / s) * (self.z ** 2).sum(axis=1)
                mu = self.b0 * self.m
            means.append(mu + k_star @ mo.alpha)
            v = np.linalg.solve(mo.chol, k_star.T)
            sds.append(np.sqrt(np.maximum(prior_var - (v * v).sum(axis=0), 1e-12)))
        mean = sum(p * mu for p, mu in zip(probs, means, strict=True))
        second = sum(p * (sd ** 2 + mu ** 2) for p, mu, sd in zip(probs, means, sds,
                                                                   strict=True))
        sd = np.sqrt(np.maximum(second - mean ** 2, 1e-12))
        coef = np.zeros(self.z.shape[1])
        p1 = 0.0
        if self.transfer:
            mo, s = models[0], self.z.shape[1]
            b = SLOPE_VAR * float(self.m[paid_idx] @ mo.alpha)
            d = (SOURCE_VAR / s) * (self.z[paid_idx].T @ mo.alpha)
            coef = (self.b0 + b) * self.weights + d
            p1 = float(probs[0])
        return Posterior(mean, sd, tuple(means), tuple(sds), tuple(float(p) for p in probs),
                         p1, coef, float(ys.max()))


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

"""The surrogate strategy (``strategy="surrogate"``): transfer Bayesian optimisation over
the whole design space, with every other task of the space as a source.

1. **Sources**: every task with results in the target's space. Prior weight ``w_s``
   proportional to ``e_s * sim_s``: ``e_s = n_s / (n_s + D)`` for a source with ``n_s``
   results and ``D`` one-hot columns (a source with a handful of results cannot outweigh
   a full table), ``sim_s`` the pair similarity of meta-features
   (:func:`~mdesign.refinement.similarity.pair_similarity`: depends on the two tasks
   only), or 1 for every source when a task lacks meta-features (the run says so).
   With ``similarity="anchors"`` (``"both"``: the mean with the meta-features) the run
   first pays for ``anchors`` architectures and ``sim_s`` maps Kendall's tau between the
   target's and source ``s``'s results on them to [0, 1] (:meth:`_Surrogate.pay_anchors`).
2. **Source scores**: one read per source (``task_scores``), mapped to normal scores; an
   architecture a source never measured gets the source's ridge prediction over the
   one-hot choices (fitted on its normal scores).
3. **Candidates**: every architecture of the target's space when it has at most
   ``enumerate_limit``; otherwise a candidate set rebuilt each step: the 2-edit balls
   around the three best paid, each source's 20 best and 2,000 seeded random draws.
4. **First design**: ``portfolio`` architectures best across the sources
   (:func:`~mdesign.refinement.surrogate.portfolio`); without transfer, seeded random
   draws.
5. **Each step**: the :class:`~mdesign.refinement.surrogate.TransferSurrogate` refits on
   every paid result (model averaging of "sources transfer" and "target only"), the
   acquisition (EI, UCB or Thompson; of the model average, with
   ``transfer_model="select"`` of the more probable model alone, with ``"rgpe"`` of
   the ranking-weighted ensemble of the sources and the target-only model, or with
   ``"ranked"`` of the target-only model whose prior mean is the sources weighted by
   the same ranking weights; UCB's kappa fixed or, with ``ucb_schedule="log"``,
   growing with the results paid, :func:`ucb_kappa`) scores the unpaid
   candidates, optionally within
   ``trust_radius`` edits of the best paid (widened after 5 paid without a new best);
   ties break on a seeded draw. ``batch`` > 1 picks greedily with the kriging believer
   (each pick's predicted mean is taken as observed before the next).

Deterministic for a configuration, seed and knowledge base, so a resumed run replays its
paid evaluations for free and carries on exactly.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from typing import Literal

import numpy as np
from mdesign.core.errors import InputError
from mdesign.core.evaluation import Evaluator
from mdesign.core.space import DesignSpace, OneHot, key_choices, key_of
from mdesign.core.stats import kendall_tau, ridge
from mdesign.kb.models import TaskInfo
from mdesign.refinement.config import (
    SURROGATE_ONLY,
    WALK_ONLY,
    RefineConfig,
    RefinementResult,
    RefinementStep,
    RunRecorder,
)
from mdesign.refinement.costs import CostModel
from mdesign.refinement.evidence import EvidenceReader
from mdesign.refinement.ledger import RunLedger
from mdesign.refinement.similarity import pair_similarity
from mdesign.refinement.sources import SourceInfo, candidate_sources, pick_anchors
from mdesign.refinement.surrogate import (
    SWITCH_PAID,
    Posterior,
    TransferSurrogate,
    choice_distances,
    normal_scores,
    portfolio,
    winsorised_scores,
)

STALL_WIDEN = 5       # paid evaluations without a new best before the trust region widens
RANDOM_DRAWS = 2_000  # random candidates per step in a space too large to enumerate
SOURCE_BEST = 20      # each source's best architectures among those candidates
BALL_RADIUS = 2       # edits around the best paid architectures in those candidates

def _changed_option(config: RefineConfig, names: tuple[str, ...]) -> str | None:
    """The flag of the first of ``names`` that ``config`` moves off its default."""
    for name in names:
        default = RefineConfig.model_fields[name].default
        if getattr(config, name) != default:
            return ("--no-" if default is True else "--") + name.replace("_", "-")
    return None


def refuse_surrogate_options(config: RefineConfig) -> None:
    """The walk refuses the surrogate's options instead of ignoring them."""
    flag = _changed_option(config, SURROGATE_ONLY)
    if flag:
        raise InputError(f"{flag} is an option of --strategy surrogate, not of the walk",
                         f"drop {flag} or add --strategy surrogate")


def refuse_walk_options(config: RefineConfig) -> None:
    """The surrogate refuses the walk's options instead of ignoring them."""
    flag = _changed_option(config, WALK_ONLY)
    if flag is None and config.similarity == "agreement":
        flag = "--similarity agreement"
    if flag:
        raise InputError(f"{flag} is an option of the walk strategy, not of "
                         "--strategy surrogate", f"drop {flag} or use --strategy walk")


def refuse_similarity_options(config: RefineConfig) -> None:
    """The walk refuses the options of a source similarity it does not use instead of
    ignoring them: how meta-features compare (``--feature-similarity``) is read only by
    ``features`` and ``both``, the fallback without them (``--featureless-sources``)
    only by ``features``."""
    flag = None
    if config.similarity in ("anchors", "agreement"):
        flag = _changed_option(config, ("feature_similarity",))
    if flag is None and config.similarity != "features":
        flag = _changed_option(config, ("featureless_sources",))
    if flag:
        raise InputError(f"{flag} does not shape --similarity {config.similarity}",
                         f"drop {flag} or use --similarity features")


# the ranking-weighted transfer models (TransferSurrogate's ``ensemble``)
_ENSEMBLES: tuple[Literal["rgpe", "ranked"], ...] = ("rgpe", "ranked")


def refuse_acquisition_options(config: RefineConfig) -> None:
    """UCB's options are refused with another acquisition instead of ignored."""
    if config.acquisition == "ucb":
        return
    flag = _changed_option(config, ("ucb_kappa", "ucb_schedule"))
    if flag:
        raise InputError(f"{flag} shapes the ucb acquisition, not --acquisition "
                         f"{config.acquisition}", f"drop {flag} or use --acquisition ucb")


def ucb_kappa(kappa: float, schedule: Literal["fixed", "log"], paid: int) -> float:
    """UCB's number of sd at ``paid`` results: ``kappa``, or with ``log``
    ``kappa sqrt(ln(1 + paid) / 2)`` (GP-UCB's ``sqrt(log t)`` growth, equal to ``kappa``
    at ``paid = e^2 - 1``). It depends on what is paid, not on the budget, so a run at
    budget b pays for the first b results of the same run at a larger budget."""
    if schedule == "fixed":
        return kappa
    return kappa * math.sqrt(math.log1p(max(paid, 0)) / 2)


def refuse_ensemble_options(config: RefineConfig) -> None:
    """The ranking-weighted models (``rgpe``, ``ranked``) refuse the options of the
    transfer model M1 that they do not have (the prior odds, the slope's prior, the prior
    mean, the learned kernel) instead of ignoring them."""
    if config.transfer_model not in _ENSEMBLES:
        return
    flag = _changed_option(config, ("transfer_odds", "slope_prior", "prior_mean"))
    if flag is None and config.kernel == "sources":
        flag = "--kernel sources"
    if flag:
        raise InputError(f"{flag} shapes the transfer model of --transfer-model average "
                         "or select, which the ranking-weighted models (rgpe, ranked) do "
                         "not have", f"drop {flag} or use another --transfer-model")


class SourceScores:
    """One source's normal scores (``key -> z``) and the ridge model over the one-hot
    choices that predicts what it never measured (fitted on those normal scores).
    ``scores="winsorised"``: the normal scores capped and rescaled
    (:func:`~mdesign.refinement.surrogate.winsorised_scores`)."""

    def __init__(self, onehot: OneHot, table: dict[str, float],
                 scores: Literal["normal", "winsorised"] = "normal") -> None:
        keys = list(table)
        values = list(table.values())
        z = winsorised_scores(values) if scores == "winsorised" else normal_scores(values)
        self.normal = dict(zip(keys, z.tolist(), strict=True))
        self.model = ridge(onehot(keys), z, 1.0) if keys else \
            (np.zeros(len(onehot.columns)), 0.0)
        self._measured: tuple[np.ndarray, np.ndarray] | None = None

    def measured(self, space: DesignSpace, onehot: OneHot) -> tuple[np.ndarray, np.ndarray]:
        """``(codes, z)`` of the architectures the source measured (kept: the cache
        shares a source between runs)."""
        if self._measured is None:
            self._measured = (choice_codes(space, onehot, list(self.normal)),
                              np.array(list(self.normal.values())))
        return self._measured


# (task, space, --source-scores) -> SourceScores: shared between runs on an unchanged
# knowledge base
SourceCache = dict[tuple[str, str, str], SourceScores]


class SourceTable:
    """The sources' normal scores over the candidates (a row per candidate key)."""

    def __init__(self, onehot: OneHot, sources: dict[str, SourceScores]) -> None:
        self.onehot, self.tasks, self.sources = onehot, list(sources), sources

    def rows(self, keys: list[str], onehot: Callable[[], np.ndarray] | None = None
             ) -> np.ndarray:
        """``onehot()``: the keys' one-hot rows, when the caller has them cheaper."""
        out = np.zeros((len(keys), len(self.tasks)))
        if not self.tasks or not keys:
            return out
        x: np.ndarray | None = None
        for j, t in enumerate(self.tasks):
            known = self.sources[t].normal
            col = np.array([known.get(k, np.nan) for k in keys])
            miss = np.isnan(col)
            if miss.any():
                if x is None:
                    x = onehot() if onehot is not None else self.onehot(keys)
                theta, b = self.sources[t].model
                col[miss] = x[miss] @ theta + b
            out[:, j] = col
        return out


def prior_weights(target: TaskInfo, sources: list[TaskInfo], columns: int,
                  how: str = "features", anchor_tau: dict[str, float | None] | None = None
                  ) -> tuple[list[SourceInfo], bool]:
    """The sources with their prior weights ``w_s ~ e_s * sim_s``, and whether
    meta-features were used. ``how``: ``features`` (the pair similarity of
    meta-features; 1 for every source when no task pair shares one), ``anchors``
    (Kendall's tau over the paid anchors, mapped to [0, 1]; 0.5 for a source that
    measured fewer than 3 of them) or ``both`` (the mean of the two that are known)."""
    sims = {s.name: (pair_similarity(target.features, s.features)
                     if target.features and s.features else None) for s in sources}
    use_features = how != "anchors" and any(v is not None for v in sims.values())
    taus = anchor_tau or {}
    raw, similarity = {}, {}
    for s in sources:
        parts = [sims[s.name] or 0.0] if use_features else []
        if how != "features":
            tau = taus.get(s.name)
            if tau is not None or not parts:
                parts.append((tau + 1.0) / 2.0 if tau is not None else 0.5)
        similarity[s.name] = sum(parts) / len(parts) if parts else 1.0
        raw[s.name] = s.results / (s.results + columns) * similarity[s.name]
    total = sum(raw.values())
    out = [SourceInfo(task=s.name, similarity=similarity[s.name],
                      weight=(raw[s.name] / total) if total > 0 else 1.0 / len(sources),
                      feature_similarity=sims[s.name], anchor_tau=taus.get(s.name))
           for s in sources]
    return out, use_features


def choice_codes(space: DesignSpace, onehot: OneHot, keys: list[str]) -> np.ndarray:
    """``(N, n_dims)``: the index of each key's choice in every dimension."""
    per_dim: dict[str, dict[str, int]] = {}
    for dim, choice in onehot.columns:
        index = per_dim.setdefault(dim, {})
        index[choice] = len(index)
    names = space.dimension_names
    # a key is "dim=choice,..." in the space's order: its i-th part names dimension i's
    # choice (a key in another order is parsed in full)
    parts = [{f"{d}={c}": i for c, i in per_dim[d].items()} for d in names]
    out = np.empty((len(keys), len(names)), dtype=np.int32)
    for row, key in enumerate(keys):
        try:
            out[row] = [parts[i][p] for i, p in enumerate(key.split(","))]
        except (KeyError, IndexError, ValueError):
            ch = key_choices(key)
            out[row] = [per_dim[d][ch[d]] for d in names]
    return out


class _Surrogate(RunLedger):
    """One surrogate run; :func:`refine_surrogate` drives it."""

    def __init__(self, kb: EvidenceReader, config: RefineConfig, evaluator: Evaluator,
                 space: DesignSpace, target: TaskInfo, usable: Callable[[str], bool],
                 pool: Callable[[], list[str]], recorder: RunRecorder | None,
                 on_step: Callable[[RefinementStep], None] | None,
                 cache: SourceCache | None) -> None:
        super().__init__(evaluator, CostModel(None, None), recorder, on_step)
        self.kb, self.cfg, self.space, self.usable = kb, config, space, usable
        self.target = target
        self.tasks = candidate_sources(kb, target, space.name) if config.transfer else []
        self.onehot = OneHot(space)
        self.sources, self.used_features = prior_weights(
            target, self.tasks, len(self.onehot.columns)) if self.tasks else ([], False)
        self.weights = {s.task: s.weight for s in self.sources}
        # the model's prior weights; ``weights`` (the ledger's) follows M1's posterior
        # coefficients step by step, for the record
        self.prior = dict(self.weights)
        cache = cache if cache is not None else {}
        # --source-scores split: normal scores for each source's term, winsorised ones
        # for the consensus and the first design (``mean_table``); switch: winsorised
        # until SWITCH_PAID paid results, then normal (``late_table``)
        mode = config.source_scores
        self.table = self._source_table(
            cache, "winsorised" if mode in ("winsorised", "switch") else "normal")
        self.mean_table = self._source_table(cache, "winsorised") if mode == "split" \
            else None
        self.late_table = self._source_table(cache, "normal") if mode == "switch" else None
        self.z_mean: np.ndarray | None = None
        self.distances: list[np.ndarray] | None = None
        self._learn_distances()
        self.enumerated = space.size() <= config.enumerate_limit
        self.keys: list[str] = []
        self.row: dict[str, int] = {}
        if self.enumerated:
            self._set_rows([key_of(u) for u in pool()])
        self.rng = np.random.default_rng(config.seed)
        self.radius = config.trust_radius

    def _source_table(self, cache: SourceCache, scores: Literal["normal", "winsorised"]
                      ) -> SourceTable:
        """The sources' scores of kind ``scores``, each read once per knowledge base."""
        for src in self.sources:
            if (src.task, self.space.name, scores) not in cache:
                cache[(src.task, self.space.name, scores)] = SourceScores(
                    self.onehot, self.kb.task_scores(src.task, self.space.name), scores)
        return SourceTable(self.onehot, {s.task: cache[(s.task, self.space.name, scores)]
                                         for s in self.sources})

    def switch_scores(self) -> None:
        """``--source-scores switch``: once the run holds ``SWITCH_PAID`` paid results,
        the model reads the sources' normal scores instead of the capped ones (rebuilt
        once; the paid results and the seeded draws carry over, so a resume replays it).
        Called before the step's candidates are built: a space too large to enumerate
        rebuilds its rows from ``table`` right after, so only an enumerated one is
        re-read here."""
        if self.late_table is None or len(self.seen) < SWITCH_PAID:
            return
        self.table, self.late_table = self.late_table, None
        self._learn_distances()
        if self.enumerated:
            self._set_rows(self.keys)

    def _learn_distances(self) -> None:
        """``--kernel sources``: the choice distances the sources measured, weighted by
        their prior weights."""
        if self.cfg.kernel == "sources" and self.sources:
            sizes = [len(d.choices) for d in self.space.dimensions]
            self.distances = choice_distances(
                [self.table.sources[t].measured(self.space, self.onehot)
                 for t in self.table.tasks],
                [self.prior[t] for t in self.table.tasks], sizes)

    def _set_rows(self, keys: list[str]) -> None:
        if not keys:
            raise InputError("the target's space has no architecture that can be evaluated",
                             "check the target's space restriction")
        self.keys = keys
        self.row = {k: i for i, k in enumerate(keys)}
        self.codes = choice_codes(self.space, self.onehot, keys)
        encoded: list[np.ndarray] = []

        def onehot() -> np.ndarray:
            # encoded at most once, whether one table or both (split) need it
            if not encoded:
                encoded.append(self.onehot.of_codes(self.codes))
            return encoded[0]

        self.z = self.table.rows(keys, onehot)
        self.z_mean = None if self.mean_table is None else \
            self.mean_table.rows(keys, onehot)
        self._build_model()

    def _ensemble(self) -> Literal["none", "rgpe", "ranked"]:
        """The surrogate's ranking-weighted model, when ``--transfer-model`` names one."""
        model = self.cfg.transfer_model
        if model == "rgpe" or model == "ranked":
            return model
        return "none"

    def _build_model(self) -> None:
        self.w = np.array([self.prior[t] for t in self.table.tasks])
        self.model = TransferSurrogate(self.codes, self.z, self.w, transfer=bool(self.sources),
                                       z_mean=self.z_mean,
                                       odds=self.cfg.transfer_odds,
                                       slope=self.cfg.slope_prior,
                                       prior_mean=self.cfg.prior_mean,
                                       hyperparameters=self.cfg.hyperparameters,
                                       distances=self.distances,
                                       additive=self.cfg.kernel == "additive",
                                       ensemble=self._ensemble(),
                                       seed=self.cfg.seed)

    def pay_anchors(self) -> None:
        """``--similarity anchors|both``: pay for ``--anchors`` architectures (each
        source's best, heaviest source first, then seeded draws: the walk's rule,
        :func:`~mdesign.refinement.sources.pick_anchors`) and weigh the sources by
        Kendall's tau between the target's results and each source's stored ones there
        (GraphGym's task similarity). The anchors are paid results like any other: the
        surrogate learns from them too."""
        if self.cfg.similarity == "features" or not self.sources:
            return
        if not self.enumerated:
            self._rebuild(0)
        firsts: list[str] = []
        for s in sorted(self.sources, key=lambda s: (-s.weight, s.task)):
            ranked = sorted(self.table.sources[s.task].normal.items(),
                            key=lambda kv: (-kv[1], kv[0]))
            firsts += [f"{self.space.name}/{k}" for k, _ in ranked[:50]
                       if self.usable(f"{self.space.name}/{k}")][:1]
        paid: dict[str, float] = {}
        for uid in pick_anchors(firsts, [self.uid(i) for i in range(len(self.keys))],
                                self.cfg.anchors, self.cfg.seed):
            if self.budget_left <= 0 and uid not in self.seen:
                break
            self.intend(uid, "anchor", "anchor: paid to measure how alike the target "
                        "and each source rank architectures")
            e = self.evaluate(uid)
            self.record(self.step_of("anchor", e))
            paid[key_of(uid)] = e.score
        tau: dict[str, float | None] = {}
        for t in self.table.tasks:
            known = self.table.sources[t].normal
            pairs = [(known[k], y) for k, y in paid.items() if k in known]
            tau[t] = kendall_tau([p[0] for p in pairs], [p[1] for p in pairs]) \
                if len(pairs) >= 3 else None
        self.sources, self.used_features = prior_weights(
            self.target, self.tasks, len(self.onehot.columns), self.cfg.similarity, tau)
        self.weights = {s.task: s.weight for s in self.sources}
        self.prior = dict(self.weights)
        self._learn_distances()
        self._build_model()

    def uid(self, i: int) -> str:
        return f"{self.space.name}/{self.keys[i]}"

    # -- candidates of a space too large to enumerate ---------------------------------

    def _random_keys(self, n: int, seed: int) -> list[str]:
        rng = random.Random(f"surrogate:{self.cfg.seed}:{seed}")
        return self.space.random_keys(rng, n,
                                      lambda k: self.usable(f"{self.space.name}/{k}"))

    def _ball(self, key: str, radius: int) -> set[str]:
        frontier, seen = {key}, {key}
        for _ in range(radius):
            nxt = set()
            for k in frontier:
                for *_, n in self.space.neighbour_keys(k):
                    if n not in seen:
                        nxt.add(n)
            seen |= nxt
            frontier = nxt
        return seen

    def _rebuild(self, step: int) -> None:
        """The candidate set of a large space around what the run knows now."""
        keys = set(key_of(u) for u in self.seen)
        best = sorted(self.seen.values(), key=lambda e: (-e.score, e.uid))[:3]
        for e in best:
            keys |= {k for k in self._ball(key_of(e.uid), BALL_RADIUS)
                     if self.usable(f"{self.space.name}/{k}")}
        for t in self.table.tasks:
            top = sorted(self.table.sources[t].normal.items(),
                         key=lambda kv: -kv[1])[:SOURCE_BEST]
            keys |= {k for k, _ in top if self.usable(f"{self.space.name}/{k}")}
        keys |= set(self._random_keys(RANDOM_DRAWS, step))
        self._set_rows(sorted(keys))

    # -- the loop ---------------------------------------------------------------------

    def paid_rows(self) -> tuple[list[int], list[float]]:
        rows, ys = [], []
        for u, e in self.seen.items():
            i = self.row.get(key_of(u))
            if i is not None:
                rows.append(i)
                ys.append(e.score)
        return rows, ys

    def first_design(self) -> list[int]:
        if not self.enumerated:
            self._rebuild(0)
        n = min(self.cfg.portfolio, self.budget_left)
        if n <= 0:
            return []
        unpaid = np.ones(len(self.keys), dtype=bool)
        unpaid[self.paid_rows()[0]] = False  # the anchors, when there are any
        if self.sources:
            return portfolio(self.z if self.z_mean is None else self.z_mean, self.w, n,
                             unpaid)
        return [int(i) for i in self.rng.choice(len(self.keys), size=n, replace=False)]

    def acquire(self, post: Posterior, allowed: np.ndarray, paid: int) -> np.ndarray:
        """The acquisition of every candidate, with ``paid`` results (fantasised ones of
        a batch included) behind the posterior."""
        how = self.cfg.acquisition
        if self.cfg.transfer_model == "select":
            post = post.selected()
        if how == "ei":
            return post.expected_improvement(allowed)
        if how == "ucb":
            return post.upper_bound(ucb_kappa(self.cfg.ucb_kappa, self.cfg.ucb_schedule,
                                              paid))
        return post.thompson(self.rng)

    def _allowed(self) -> np.ndarray:
        ok = np.ones(len(self.keys), dtype=bool)
        rows, _ = self.paid_rows()
        ok[rows] = False
        if self.radius > 0 and self.best is not None:
            i = self.row.get(key_of(self.best.uid))
            if i is not None:
                near = ok & (self.model.hamming_to(i) <= self.radius)
                if near.any():
                    ok = near
        return ok

    def choose(self, q: int) -> list[tuple[int, float, float, Posterior]]:
        """``q`` candidates (row, acquisition, predicted mean, posterior), greedily."""
        rows, ys = self.paid_rows()
        out: list[tuple[int, float, float, Posterior]] = []
        allowed = self._allowed()
        for _ in range(q):
            if not allowed.any():
                break
            post = self.model.posterior(rows, ys)
            acq = self.acquire(post, allowed, len(rows))
            tie = self.rng.random(len(acq))
            acq = np.where(allowed, acq, -np.inf)
            i = int(np.lexsort((tie, _tied(acq)))[-1])  # max acquisition, then the draw
            out.append((i, float(acq[i]), float(post.mean[i]), post))
            allowed[i] = False
            # kriging believer: the pick's predicted value is taken as observed
            rows = [*rows, i]
            ys = [*ys, _raw_of(post.mean[i], ys)]
        return out


def _tied(acq: np.ndarray, digits: int = 10) -> np.ndarray:
    """Acquisition values rounded to ``digits`` decimals of the largest magnitude.
    Candidates the model cannot tell apart (the same distances to every paid one) get
    values that differ only by rounding, which depends on the BLAS and the order of its
    sums; the seeded draw, not that noise, must decide between them."""
    finite = np.isfinite(acq)
    if not finite.any():
        return acq
    scale = float(np.abs(acq[finite]).max()) or 1.0
    out = np.full(len(acq), -np.inf)
    out[finite] = np.round(acq[finite] / scale, digits)
    return out


def _raw_of(normal: float, ys: list[float]) -> float:
    """A raw score whose normal score among ``ys`` is close to ``normal`` (the kriging
    believer's fantasy, on the scale of the paid results)."""
    if not ys:
        return 0.0
    q = float(np.clip(0.5 + 0.5 * np.tanh(normal / 1.6), 0.0, 1.0))
    return float(np.quantile(ys, q))


def refine_surrogate(kb: EvidenceReader, config: RefineConfig, evaluator: Evaluator,
                     space: DesignSpace, target: TaskInfo, usable: Callable[[str], bool],
                     pool: Callable[[], list[str]], *, run_id: str | None,
                     recorder: RunRecorder | None,
                     on_step: Callable[[RefinementStep], None] | None,
                     cache: SourceCache | None = None) -> RefinementResult:
    """Run the surrogate strategy (the module's docstring); ``cache`` keeps the sources'
    normal scores between runs."""
    refuse_walk_options(config)
    refuse_acquisition_options(config)
    refuse_ensemble_options(config)
    t_start = time.perf_counter()
    run = _Surrogate(kb, config, evaluator, space, target, usable, pool, recorder, on_step,
                     cache)
    run.pay_anchors()
    if recorder is not None:
        recorder.sources(run.sources)
    stopped = "budget spent"
    for i in run.first_design():
        run.intend(run.uid(i), "design", "first design: best across the sources"
                   if run.sources else "first design: a seeded random draw (no transfer)")
        e = run.evaluate(run.uid(i))
        run.record(run.step_of("design", e))
    step_times: list[float] = []
    step = 0
    while run.budget_left > 0:
        t_step, eval_before = time.perf_counter(), run.eval_time
        step += 1
        run.switch_scores()
        if not run.enumerated:
            run._rebuild(step)
        if run.radius > 0 and run.stall >= STALL_WIDEN:
            run.radius += 1
            run.stall = 0
        picked = run.choose(min(config.batch, run.budget_left))
        if not picked:
            stopped = "no untried candidate"
            break
        for i, acq, mean, post in picked:
            run.intend(run.uid(i), "search", f"{config.acquisition} {acq:.4g} over the "
                       f"unpaid candidates; p(the sources transfer) "
                       f"{post.transfer_probability:.2f}"
                       + (f"; kernel {post.kernel}" if config.kernel != "hamming" else ""),
                       predicted=round(mean, 6),
                       uncertainty=round(post.sd_at(i), 6))
        evaluations = run.evaluate_many([run.uid(i) for i, *_ in picked])
        post = picked[0][3]
        if run.sources:
            coef = post.source_coefficients
            run.weights = {t: round(float(c), 6) for t, c in zip(run.table.tasks, coef,
                                                                   strict=True)}
        overhead = ((time.perf_counter() - t_step) - (run.eval_time - eval_before)) / \
            len(picked)
        for (_, acq, mean, p), e in zip(picked, evaluations, strict=True):
            step_times.append(overhead)
            run.record(run.step_of("search", e, predicted=round(mean, 6),
                                   acquisition=round(acq, 6),
                                   transfer_probability=round(p.transfer_probability, 6),
                                   overhead_ms=round(overhead * 1000, 3)))
    if run.best is None:
        raise InputError("the run paid for no architecture", "raise the budget")
    step_times.sort()
    median = step_times[len(step_times) // 2] * 1000 if step_times else \
        (time.perf_counter() - t_start - run.eval_time) * 1000
    notes = []
    if run.sources and not run.used_features and config.similarity != "anchors":
        notes.append("no meta-features: equal prior weights of the sources"
                     if config.similarity == "features" else
                     "no meta-features: prior weights from the anchors only")
    if not run.sources:
        notes.append("no transfer: the target-only model (knowledge-free)")
    return RefinementResult(run_id=run_id, config=config, space=space.name,
                            split=target.split, sources=run.sources, best=run.best,
                            steps=run.steps, spent=evaluator.spent,
                            overhead_ms_per_step=round(median, 3),
                            stopped=stopped, notes=notes)

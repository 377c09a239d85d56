"""Retrieval-augmented refinement (M-DESIGN, docs/refinement.md) with the project's additions.

For a target task ``u`` and a budget of B evaluations:

1. **Sources** (:mod:`~mdesign.refinement.sources`): the ``sources`` most similar tasks of
   the target's design space, by meta-features, anchors (paid) or both; their
   similarities give the prior weights ``w_i``.
2. **Start**: the best architecture of the most similar source, or a per-dimension
   (similarity-weighted) vote over the sources' best, evaluated on u.
3. **Scoring**: every untried candidate m reachable from the expansion point c in at most
   ``lookahead`` edits gets ``S(m) = sum_i w_i * g_i(c -> m)``. ``g_i`` is source i's
   stored evidence: the edit's gain (one hop, ``neighbours_with_gains``) or the sum of
   the gains along the path, which telescopes to ``score_i(m) - score_i(c)``
   (``source_scores``). Where the source lacks the evidence, or its weight is under
   ``planner_threshold``, its predictive planner's gain is used instead
   (:mod:`~mdesign.refinement.planners`). Ties break on the most similar source's gain,
   then uid. With ``uncertainty``, the stored std of results adds an optimism bonus
   ``sqrt(sum_i w_i^2 (sd_i(m)^2 + sd_i(c)^2))``. Candidates whose stored params or
   latency (the largest over the sources) exceed ``max_params``/``max_latency`` are
   skipped, and a result over a limit is never returned as the best.
4. **Step**: evaluate the best-scoring candidate, observe ``g_u = score_u(m) -
   score_u(c)``. The reference walk moves to m even when g_u < 0 (``expand="current"``);
   ``expand="best"`` always expands the best architecture seen instead. The best
   architecture seen is returned.
5. **Calibration** (:mod:`~mdesign.refinement.calibration`): each source's (g_i, g_u)
   pairs refit ``g_u ~ beta_i g_i`` and re-weight the sources.
6. **Planners** are fine-tuned on the target's observed scores after every step.

Stopping: the budget is spent, or no untried candidate is left anywhere (with
``backtrack`` the walk resumes from the best architecture seen that still has untried
candidates). The algorithm is deterministic for a given configuration, seed and
knowledge base, which is what makes :func:`refine` resumable: a resumed run replays its
stored evaluations for free and carries on from where the record stops.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Sequence

import numpy as np
from mdesign.core.errors import InputError
from mdesign.core.evaluation import Evaluation, Evaluator
from mdesign.core.space import DesignSpace, OneHot, key_choices, key_of
from mdesign.kb.models import StoredScore, TaskInfo
from mdesign.refinement.assistance import Assistance
from mdesign.refinement.calibration import fit_source, update_weights
from mdesign.refinement.candidates import Candidate
from mdesign.refinement.candidates import ball as _ball
from mdesign.refinement.config import (
    RefineConfig,
    RefinementResult,
    RefinementStep,
    RunRecorder,
)
from mdesign.refinement.costs import CostModel
from mdesign.refinement.evidence import EvidenceReader, LookaheadGraph
from mdesign.refinement.ledger import RunLedger
from mdesign.refinement.planners import SourcePlanner
from mdesign.refinement.sources import (
    SourceInfo,
    candidate_sources,
    choose_sources,
    pick_anchors,
    similarity_notes,
)
from mdesign.refinement.target import Target, resolve
from mdesign.refinement.transfer import (
    SourceCache,
    refine_surrogate,
    refuse_similarity_options,
    refuse_surrogate_options,
)

PlannerCache = dict[tuple[str, str], SourcePlanner]


class _Refinement(RunLedger):
    """The state of one walk; :func:`refine` drives it."""

    def __init__(self, kb: EvidenceReader, config: RefineConfig, evaluator: Evaluator,
                 space: DesignSpace, usable: Callable[[str], bool],
                 planners: PlannerCache | None, recorder: RunRecorder | None,
                 on_step: Callable[[RefinementStep], None] | None) -> None:
        super().__init__(evaluator, CostModel(config.max_params, config.max_latency),
                         recorder, on_step)
        self.kb, self.cfg, self.space = kb, config, space
        self.usable = usable
        self.planner_cache = planners if planners is not None else {}
        self.onehot = OneHot(space)
        self.order: list[str] = []
        self.planners: dict[str, SourcePlanner] = {}
        self.pairs: dict[str, list[tuple[float, float]]] = {}
        self.candidates: dict[str, list[Candidate]] = {}
        self.held = contextlib.ExitStack()
        self.gds_graph: LookaheadGraph | None = None
        # predictor, hypernetwork, generator: refused here, before any evaluation is paid
        self.assist = Assistance(kb, config, space)

    # -- set-up -----------------------------------------------------------------------

    def retrieve(self, target: TaskInfo, pool: Callable[[], list[str]]) -> list[SourceInfo]:
        cfg = self.cfg

        def anchors() -> dict[str, float]:
            out = {}
            firsts = []
            for t in candidate_sources(self.kb, target, self.space.name):
                for r in self.kb.best_architectures(t.name, limit=50):
                    if self.usable(r.uid):
                        firsts.append(r.uid)
                        break
            for uid in pick_anchors(firsts, pool(), cfg.anchors, cfg.seed):
                if self.evaluator.spent >= self.evaluator.budget and uid not in self.seen:
                    break
                self.intend(uid, "anchor", "anchor: paid to measure how alike the target "
                            "and each candidate source rank architectures")
                e = self.evaluate(uid)
                self.record(self.step_of("anchor", e))
                out[uid] = e.score
            return out

        # scores read for the featureless agreement are kept for the planners' fits
        read: dict[str, dict[str, float]] = {}

        def scores(task: str) -> dict[str, float]:
            if task not in read:
                read[task] = self.kb.task_scores(task, self.space.name)
            return read[task]

        sources = choose_sources(self.kb, target, self.space.name, cfg.sources,
                                 cfg.similarity, anchors, cfg.feature_similarity,
                                 cfg.featureless_sources, scores)
        self.order = [s.task for s in sources]
        self.weights = {s.task: s.weight for s in sources}
        self.pairs = {s: [] for s in self.order}
        if cfg.planner != "off":
            for s in self.order:
                self.planners[s] = self._planner(s, scores)
            self.fine_tune()
        return sources

    def _planner(self, task: str,
                 read: Callable[[str], dict[str, float]]) -> SourcePlanner:
        key = (task, self.space.name)
        if key not in self.planner_cache:
            scores = read(task)
            keys = list(scores)
            x = self.onehot(keys)
            y = np.array(list(scores.values()))
            self.planner_cache[key] = SourcePlanner.fit(task, x, y, keys=keys)
        return self.planner_cache[key].copy()

    def fine_tune(self) -> None:
        if not self.planners or not self.seen:
            return
        keys = [key_of(u) for u in self.seen]
        x = self.onehot(keys)
        y = np.array([e.score for e in self.seen.values()])
        for p in self.planners.values():
            if self.cfg.planner == "residual":
                p.fine_tune_residual(keys, x, y, lam=self.cfg.planner_penalty)
            else:
                p.fine_tune(x, y, lam=3 * self.cfg.planner_penalty)

    def seed_from_generator(self) -> None:
        """Evaluate the architectures the generator proposes for the task, conditioned on
        what the run has paid for so far (the anchors); seeded, so a resume replays it."""
        for uid, predicted in self.assist.generate(self.seen, self.usable):
            if self.evaluator.spent >= self.evaluator.budget - 1:  # keep one for the start
                break
            self.intend(uid, "generated", "the generator's proposal for the task",
                        predicted=predicted)
            e = self.evaluate(uid)
            self.record(self.step_of("generated", e, predicted=predicted))

    def jump_due(self) -> bool:
        """Whether the walk has stalled long enough to pay for a generated proposal."""
        return self.assist.jump_due(self.stall, self.seen)

    def jump(self) -> Evaluation:
        """Pay for the generator's next proposal (the walk then expands the best seen)."""
        uid, predicted = self.assist.next_proposal(self.seen)
        self.intend(uid, "generated", f"the walk stalled for {self.stall} evaluations: the "
                    "generator's next proposal", predicted=predicted)
        e = self.evaluate(uid)
        self.stall = 0  # the next proposal needs another `generator_patience` failures
        self.record(self.step_of("generated", e, predicted=predicted))
        return e

    def start(self) -> Evaluation:
        cfg, space = self.cfg, self.space
        if cfg.generator:
            self.seed_from_generator()
        bests: list[tuple[str, str, dict[str, float | None]]] = []
        limited = cfg.max_params is not None or cfg.max_latency is not None
        for task in self.order:
            if limited:
                rows = self.kb.best_architectures_within(
                    task, space.name, cfg.max_params, cfg.max_latency, limit=500)
            else:
                rows = self.kb.best_architectures(task, limit=200)
            if limited and not any(self.usable(r.uid) for r in rows):
                # costs differ between tasks (input sizes): start unconstrained and let
                # the target's own measured costs screen the walk
                rows = self.kb.best_architectures(task, limit=200)
            for r in rows:
                if r.space == space.name and self.usable(r.uid):
                    bests.append((task, r.uid, {}))
                    break
        if not bests:
            raise InputError("no source's best architectures can be evaluated on the target",
                             "check the target's space restriction")
        uid = bests[0][1]
        why = f"start: the best architecture of the most similar source, {bests[0][0]}"
        if cfg.start != "best":
            votes: dict[str, dict[str, float]] = {}
            for task, u, _ in bests:
                w = self.weights[task] if cfg.start == "weighted_vote" else 1.0
                for d, v in space.parse_key(key_of(u)).items():
                    votes.setdefault(d, {})
                    votes[d][str(v)] = votes[d].get(str(v), 0.0) + w
            # ties: the choice of the most similar source wins (it is counted first)
            voted = space.parse({d: max(c, key=lambda v, c=c: c[v]) for d, c in votes.items()})
            if not space.violation(voted):
                cand = space.uid(space.canonical_form(voted))
                if self.usable(cand):
                    uid = cand
                    why = "start: the per-dimension vote of the sources' best architectures"
        self.intend(uid, "start", why)
        e = self.evaluate(uid)
        if limited:  # the start's measured costs calibrate the sources' cost scales
            probe = Candidate(uid, key_of(uid), 0, None)
            probe.costs = {t: {"params": r.params, "latency": r.latency} for t, r in
                           self.kb.source_scores([uid], self.order).get(uid, {}).items()}
            self.costs.learn(probe.costs, e)
        return e

    # -- one step ---------------------------------------------------------------------

    def _candidates(self, uid: str) -> list[Candidate]:
        """Untried candidates around ``uid``, with their evidence (cached per centre)."""
        if uid in self.candidates:
            return [c for c in self.candidates[uid] if c.uid not in self.seen]
        cfg, key = self.cfg, key_of(uid)
        cands: dict[str, Candidate] = {}
        for n in self.kb.neighbours(uid, self.order):
            if self.usable(n.uid):
                c = Candidate(n.uid, n.key, 1, (n.dimension, n.from_choice, n.to_choice))
                c.evidence = dict(n.gains)
                cands[n.uid] = c
        need_scores = cfg.lookahead > 1 or cfg.uncertainty or cfg.max_params is not None \
            or cfg.max_latency is not None
        if cfg.lookahead > 1:
            for nkey, (hops, edit) in self._ball(uid, key, cands).items():
                nuid = f"{self.space.name}/{nkey}"
                if nuid not in cands and self.usable(nuid):
                    cands[nuid] = Candidate(nuid, nkey, hops, edit)
        if need_scores:
            stored = self.kb.source_scores([uid, *cands], self.order)
            here: dict[str, StoredScore] = stored.get(uid, {})
            for c in cands.values():
                there = stored.get(c.uid, {})
                for t in self.order:
                    a, b = here.get(t), there.get(t)
                    if c.hops > 1:
                        c.evidence[t] = (b.score - a.score) if a and b else None
                    if a and b and a.std is not None and b.std is not None:
                        c.std[t] = a.std ** 2 + b.std ** 2
                c.costs = {t: {"params": s.params, "latency": s.latency}
                           for t, s in there.items()}
        self.candidates[uid] = list(cands.values())
        return [c for c in self.candidates[uid] if c.uid not in self.seen]

    def _ball(self, uid: str, key: str, first: dict[str, Candidate]
              ) -> dict[str, tuple[int, tuple[str, str, str]]]:
        """key -> (edits, first edit) of the architectures within ``lookahead`` edits."""
        if self.cfg.lookahead_engine == "space":
            return _ball(self.space, key, self.cfg.lookahead)
        if self.gds_graph is None:
            self.gds_graph = self.held.enter_context(self.kb.lookahead_graph())
        out = {}
        for r in self.gds_graph.ball(uid, self.cfg.lookahead):
            f = first.get(r.first)
            if f is not None and f.dimension is not None:
                out[r.key] = (r.hops, (f.dimension, f.from_choice, f.to_choice))
        return out

    def close(self) -> None:
        """Release what the run holds (the GDS projection of a GDS lookahead)."""
        self.held.close()
        self.gds_graph = None

    def _open(self, uid: str) -> list[Candidate]:
        """The untried candidates around ``uid`` whose estimated costs are within limits."""
        cands = self._candidates(uid)
        if self.cfg.max_params is None and self.cfg.max_latency is None:
            return cands
        here = self.seen.get(uid)
        if here is not None and not self.costs.within_limits(here):
            # over a limit: only moves that are estimated to cost less lead back
            return [c for c in cands if self.costs.cheaper(c.costs, here)]
        return [c for c in cands if self.costs.ok(c.costs)]

    def _evidence(self, task: str, centre: str, cands: Sequence[Candidate]) -> np.ndarray:
        """The source's stored gain per candidate (NaN: never measured), with the
        predictor's where it is missing (``predictor``)."""
        ev = np.array([c.evidence.get(task) if c.evidence.get(task) is not None else np.nan
                       for c in cands], dtype=float)
        return self.assist.fill_missing(task, centre, cands, ev)

    def _gains(self, centre: str, cands: Sequence[Candidate]) -> dict[str, np.ndarray]:
        """task -> the gain used for each candidate (evidence or planner; NaN: none)."""
        cfg = self.cfg
        out: dict[str, np.ndarray] = {}
        planned: dict[str, np.ndarray] = {}
        if self.planners:
            key_from = key_of(centre)
            x_from = self.onehot([key_from])
            x_to = self.onehot([c.key for c in cands])
            if cfg.planner == "residual":
                for t, p in self.planners.items():
                    g = p.residual_gain(key_from, x_from, [c.key for c in cands], x_to)
                    # the stored evidence, where there is some, replaces the score lookup
                    ev = self._evidence(t, centre, cands)
                    fix = p.beta * ev / p.sd + (x_to - x_from) @ p.residual
                    out[t] = np.where(np.isnan(ev), g, fix)
                return out
            planned = {t: p.gain(x_from, x_to) for t, p in self.planners.items()}
        for t in self.order:
            ev = self._evidence(t, centre, cands)
            if t in planned and (cfg.planner == "always"
                                 or self.weights[t] < cfg.planner_threshold):
                ev = planned[t]
            elif t in planned:
                ev = np.where(np.isnan(ev), planned[t], ev)
            out[t] = ev
        return out

    def choose(self, centre: str, q: int = 1
               ) -> list[tuple[Candidate, float, dict[str, float | None]]]:
        """The ``q`` best-scoring untried candidates around ``centre`` (best first)."""
        cands = self._open(centre)
        if not cands:
            return []
        gains = self._gains(centre, cands)
        total = np.zeros(len(cands))
        for t, g in gains.items():
            total += self.weights[t] * np.nan_to_num(g, nan=0.0)
        if self.cfg.uncertainty:
            var = np.array([sum(self.weights[t] ** 2 * c.std.get(t, 0.0) for t in self.order)
                            for c in cands])
            total = total + np.sqrt(var)
        first = gains[self.order[0]]
        tie = np.where(np.isnan(first), -np.inf, first)
        ranked = sorted(range(len(cands)), key=lambda i: (-total[i], -tie[i], cands[i].uid))
        return [(cands[i], float(total[i]),
                 {t: (None if math.isnan(g[i]) else float(g[i])) for t, g in gains.items()})
                for i in ranked[:q]]

    def centre(self, current: str) -> str | None:
        """Where to expand next: the current architecture or the best seen, backtracking
        to the best architecture seen that still has untried candidates."""
        first = self.best.uid if (self.cfg.expand == "best" and self.best) else current
        if self._open(first):
            return first
        if not self.cfg.backtrack:
            return None
        for u, _ in sorted(self.seen.items(), key=lambda kv: (-kv[1].score, kv[0])):
            if self._open(u):
                return u
        return None

    def observe(self, centre: str, chosen: Candidate, e: Evaluation) -> float:
        self.costs.learn(chosen.costs, e)
        observed = e.score - self.seen[centre].score
        evidence = {t: chosen.evidence.get(t) for t in self.order}
        for t, g in evidence.items():
            if g is not None:
                self.pairs[t].append((g, observed))
        if self.cfg.calibrate:
            fits = {t: fit_source(self.pairs[t], window=self.cfg.window) for t in self.order}
            self.weights = update_weights(self.weights, fits, evidence, observed)
        self.fine_tune()
        return observed


def refine(kb: EvidenceReader, config: RefineConfig, evaluator: Evaluator, *,
           on_step: Callable[[RefinementStep], None] | None = None,
           recorder: RunRecorder | None = None, planners: PlannerCache | None = None,
           run_id: str | None = None, target: Target | None = None,
           source_cache: SourceCache | None = None) -> RefinementResult:
    """Refine an architecture for ``config.task`` with ``evaluator`` within its budget.

    ``recorder`` receives the sources and every step as it happens (persistence);
    ``planners`` caches the sources' trained planners between runs. To resume, give an
    evaluator restored with the run's paid evaluations: the deterministic replay reads
    them for free and the walk carries on. ``target``: the run's task and space, already
    resolved (:func:`~mdesign.refinement.target.resolve`; resolved here if not given).
    ``source_cache``: the surrogate strategy's cache of source scores between runs.
    """
    t_start = time.perf_counter()
    resolved = target if target is not None else resolve(kb, config)
    space_name, space = resolved.space_name, resolved.space
    restrict = resolved.task.restrict

    def usable(uid: str) -> bool:
        if not uid.startswith(space_name + "/") or not evaluator.can_evaluate(uid):
            return False
        if not restrict:
            return True
        arch = key_choices(key_of(uid))
        return all(arch.get(d) in set(map(str, cs)) for d, cs in restrict.items())

    def pool() -> list[str]:
        return space.uids(restrict, usable)

    if config.strategy == "surrogate":
        return refine_surrogate(kb, config, evaluator, space, resolved.task, usable, pool,
                                run_id=run_id, recorder=recorder, on_step=on_step,
                                cache=source_cache)
    refuse_surrogate_options(config)
    refuse_similarity_options(config)
    run = _Refinement(kb, config, evaluator, space, usable, planners, recorder, on_step)

    try:
        sources = run.retrieve(resolved.task, pool)
        if recorder is not None:
            recorder.sources(sources)
        stopped = "budget spent"
        current: str | None = None
        if evaluator.spent < evaluator.budget:
            e = run.start()
            run.record(run.step_of("start", e))
            current = e.uid
        step_times: list[float] = []
        t_step, eval_before = time.perf_counter(), run.eval_time
        while current is not None and evaluator.spent < evaluator.budget:
            if run.jump_due():
                current = run.jump().uid
                t_step, eval_before = time.perf_counter(), run.eval_time
                continue
            centre = run.centre(current)
            if centre is None:
                stopped = "no untried candidate"
                break
            want = min(config.batch, evaluator.budget - evaluator.spent)
            picked = run.assist.narrow(run.choose(centre, run.assist.pool(want)), want)
            assert picked
            for c, predicted, _ in picked:
                run.intend(c.uid, "edit", f"edit {c.dimension}: {c.from_choice} -> "
                           f"{c.to_choice} ({c.hops} edit(s)) of {centre}; the sources' "
                           f"weighted gain {predicted:+.4g}", predicted=predicted)
            evaluations = run.evaluate_many([c.uid for c, _, _ in picked])
            gains = [run.observe(centre, c, e) for (c, _, _), e in zip(picked, evaluations,
                                                                        strict=True)]
            now = time.perf_counter()
            overhead = ((now - t_step) - (run.eval_time - eval_before)) / len(picked)
            for (chosen, predicted, used), e, observed in zip(picked, evaluations, gains,
                                                              strict=True):
                step_times.append(overhead)
                run.record(run.step_of("edit", e, parent=centre, dimension=chosen.dimension,
                                        from_choice=chosen.from_choice,
                                        to_choice=chosen.to_choice, hops=chosen.hops,
                                        predicted=predicted, observed_gain=observed,
                                        source_gains=used,
                                        overhead_ms=round(overhead * 1000, 3)))
                current = chosen.uid
            t_step, eval_before = time.perf_counter(), run.eval_time
    finally:
        run.close()  # the GDS projection of a GDS lookahead, if any
    if run.best is None:
        raise InputError("no architecture evaluated within the cost limits",
                         "raise --max-params/--max-latency or the budget")
    step_times.sort()
    median = step_times[len(step_times) // 2] * 1000 if step_times else \
        (time.perf_counter() - t_start - run.eval_time) * 1000
    return RefinementResult(run_id=run_id, config=config, space=space_name,
                            split=resolved.task.split, sources=sources, best=run.best,
                            steps=run.steps, spent=evaluator.spent,
                            overhead_ms_per_step=round(median, 3), stopped=stopped,
                            notes=similarity_notes(config.similarity, sources,
                                                   config.featureless_sources))

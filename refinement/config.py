"""The refinement's configuration and records: what a run is asked to do
(:class:`RefineConfig`), what each step paid for and learnt (:class:`RefinementStep`), the
run's outcome (:class:`RefinementResult`), how the run came to an architecture
(:class:`Provenance`) and where progress goes as it happens
(:class:`RunRecorder`). Pure data: no database, no torch."""

from __future__ import annotations

from typing import Any, Literal, Protocol

from mdesign.core.evaluation import Evaluation
from mdesign.refinement.sources import SourceInfo
from mdesign.training.config import TrainConfig
from pydantic import BaseModel, Field, computed_field, field_serializer


class RefineConfig(BaseModel):
    # The descriptions are the help of `mdesign refine`'s options (generated from these
    # fields by mdesign.cli.refine).
    task: str = Field(description="target task (already in the knowledge base)")
    budget: int = Field(ge=1, description="evaluations to spend (>= 1)")
    sources: int = Field(default=3, ge=1, description="number of source tasks")
    similarity: Literal["features", "anchors", "both", "agreement"] = Field(
        default="features",
        description="initial task similarity: meta-features, paid anchors, or both; or "
        "(walk only) agreement: the --sources candidates whose stored scores agree most "
        "with the other candidates' consensus, equal prior weights, no budget spent (not "
        "the default: behind features on nested leave-one-dataset-out, round 19)")
    feature_similarity: Literal["cosine", "pair", "canberra"] = Field(
        default="cosine", description="walk: how meta-features compare a candidate source "
        "with the target: cosine over features standardised over the target and the "
        "candidates holding at least sqrt(the largest result count) (adding such a table "
        "to the space can change another target's sources; a task with a few results "
        "cannot); "
        "or from the two tasks alone: the surrogate's pair similarity (log-scaled "
        "distance), or 1 - the mean Canberra distance (every feature weighs alike)")
    featureless_sources: Literal["agreement", "names", "all"] = Field(
        default="agreement", description="walk, --similarity features: the sources when "
        "the target shares no "
        "meta-feature with any candidate (every similarity 0): the --sources whose "
        "stored scores agree most with the other candidates' consensus (no budget spent; "
        "the default, chosen by nested leave-one-dataset-out without meta-features), the "
        "first --sources by name (before 2026-12-07), or every candidate; equal prior "
        "weights")
    anchors: int = Field(default=5, ge=3,
                         description="anchor architectures (paid from the budget)")
    start: Literal["best", "vote", "weighted_vote"] = "best"
    calibrate: bool = Field(default=True, description="refit the source weights on the "
                            "target's observed gains after every step")
    window: int | None = Field(default=None, ge=3, description="calibrate on each source's "
                               "last this many paired gains (default: all)")
    planner: Literal["off", "fallback", "always", "residual"] = Field(
        default="residual",
        description="predictive planners: residual (evidence scaled and corrected on the "
        "target), fallback (only for missing or low-weight evidence: the reference), "
        "always, or off")
    planner_threshold: float = Field(default=0.2, ge=0.0, le=1.0, description="fallback "
                                     "planner: a source weighted under this uses its "
                                     "planner's gain instead of its evidence")
    planner_penalty: float = Field(default=1.0, gt=0,
                                   description="ridge penalty of the planners' fine-tuning")
    lookahead: int = Field(default=1, ge=1, le=4,
                           description="plan up to this many edits per step (1-4)")
    lookahead_engine: Literal["space", "gds"] = Field(
        default="space", description="find multi-edit moves from the space's edit rule, "
        "or by GDS shortest paths over the stored edits")
    expand: Literal["current", "best"] = Field(
        default="best", description="expand the best architecture seen, or walk on from "
        "the current one (the reference method)")
    uncertainty: bool = Field(default=False,
                              description="use stored std as an optimism bonus")
    max_params: float | None = Field(default=None, gt=0, description="parameter count limit")
    max_latency: float | None = Field(default=None, gt=0,
                                      description="latency limit (stored units)")
    backtrack: bool = Field(default=True, description="when no untried candidate is left, "
                            "go back to the best architecture seen that still has some")
    batch: int = Field(default=1, ge=1, le=32, description="candidates proposed and "
                       "evaluated together per step")
    seed: int = Field(default=0, ge=0, description="seed of the method's stochastic choices "
                      "(tie-breaks, Thompson draws, the knowledge-free first design)")
    strategy: Literal["walk", "surrogate"] = Field(
        default="walk", description="walk: expand the best seen by the sources' edit "
        "gains (planners, calibration, lookahead); surrogate: a transfer Gaussian process "
        "over the whole space with every task of the space as a source, and an "
        "acquisition function (docs/refinement.md)")
    acquisition: Literal["ei", "ucb", "thompson"] = Field(
        default="ucb", description="surrogate: upper confidence bound (mean + 2 sd; the "
        "default, chosen by nested leave-one-dataset-out), expected improvement or "
        "Thompson sampling")
    ucb_kappa: float = Field(default=2.0, gt=0, le=10, description="surrogate: the "
                             "number of posterior sd that UCB adds to the mean")
    ucb_schedule: Literal["fixed", "log"] = Field(
        default="fixed", description="surrogate: UCB's kappa fixed, or growing with the "
        "n results paid so far as kappa sqrt(ln(1 + n) / 2) (GP-UCB's sqrt(log t) "
        "growth; equal to --ucb-kappa at n of about 6)")
    transfer: bool = Field(default=True, description="surrogate: use the sources (off: "
                           "knowledge-free Bayesian optimisation, the ablation)")
    transfer_odds: Literal["even", "agreement"] = Field(
        default="even", description="surrogate: prior odds of \"the sources transfer\" "
        "against \"target only\": even, or the sources' agreement among themselves")
    slope_prior: Literal["fixed", "sources"] = Field(
        default="fixed", description="surrogate: the prior variance of how far the "
        "target's slope on the sources' consensus strays from the sources' agreement: "
        "fixed (0.25), or the sources' own spread of agreement (at least 0.01)")
    transfer_model: Literal["average", "select", "rgpe", "ranked"] = Field(
        default="average", description="surrogate: what the acquisition scores: the "
        "average of the models \"the sources transfer\" and \"target only\" weighted by "
        "their posterior probabilities, the more probable model alone, or a "
        "ranking-weighted ensemble of each source's scores and the target-only model "
        "(RGPE: weights from how often each orders bootstrap draws of the paid results "
        "best), or the target-only model whose prior mean is the sources weighted by "
        "those ranking weights (ranked)")
    prior_mean: Literal["consensus", "ranked", "both"] = Field(
        default="consensus", description="surrogate: the prior mean of the model \"the "
        "sources transfer\": the sources' consensus weighted by their prior weights, "
        "weighted by how often each source orders bootstrap draws of the paid results "
        "best (RGPE's ranking weights, refitted at every step), or both, the model with "
        "each averaged by their marginal likelihoods")
    hyperparameters: Literal["maximum", "average"] = Field(
        default="maximum", description="surrogate: each model's kernel hyperparameters: "
        "the grid point of maximum marginal likelihood, or the average over the grid "
        "weighted by its posterior (its most probable points)")
    kernel: Literal["hamming", "sources", "additive"] = Field(
        default="hamming", description="surrogate: the residual kernel: hamming (edits), "
        "sources (the transfer model may also use the choice distances the sources "
        "measured), or additive (both models may also use main effects of the choices); "
        "the target's likelihood decides between the shapes")
    source_scores: Literal["normal", "winsorised", "split", "switch"] = Field(
        default="normal", description="surrogate: how each source's stored results enter "
        "the model: their normal scores (a copula transform that keeps the order), or "
        "those capped at +-2 (about a source's top and bottom 2.3%) and rescaled to unit "
        "variance, so that no source's extreme tail outweighs the others' agreement, or "
        "split: capped for the sources' consensus (the prior mean) and the first design, "
        "normal for each source's own term, or switch: capped until 20 paid results, "
        "normal after")
    portfolio: int = Field(default=2, ge=0, le=32, description="surrogate: first design "
                           "of this many architectures best across the sources (random "
                           "draws without transfer) before the acquisition takes over")
    trust_radius: int = Field(default=0, ge=0, description="surrogate: acquire only "
                              "within this many edits of the best paid, widened by one "
                              "after 5 paid without a new best (0: the whole space)")
    enumerate_limit: int = Field(default=300_000, ge=1, description="surrogate: score "
                                 "every architecture of a space up to this size; a larger "
                                 "space is searched through candidate sets (neighbourhoods "
                                 "of the best paid, the sources' best, random draws)")
    evaluator: str = Field(default="benchmark", description="benchmark: the task's stored "
                           "results as a paid oracle, hidden from retrieval (leave one task "
                           "out); train: train each architecture on the task's data "
                           "(`mdesign task add`); python:MODULE:CALLABLE, or the name of an "
                           "`mdesign.evaluators` entry point: your own function of an "
                           "architecture's choices, or Evaluator class")
    evaluator_version: str | None = Field(
        default=None, description="a user's evaluator (python:MODULE:CALLABLE or an "
        "entry point): the version of the package that provided it, or the hash of its "
        "module file; a resume refuses another")
    space: str | None = Field(default=None, description="design space (default: the "
                              "target's)")
    train: TrainConfig | None = Field(default=None, description="the train evaluator's "
                                      "TrainConfig (kept so that a resume trains alike)")
    predictor: str | None = Field(default=None, description="a stored predictor (`mdesign "
                                  "predictor train`) that fills in the gains a source never "
                                  "measured")
    ghn: str | None = Field(default=None, description="a stored graph hypernetwork (`mdesign "
                            "ghn train`): each step pays only for the candidates it ranks "
                            "best among --ghn-pool x --batch proposals")
    ghn_pool: int = Field(default=4, ge=1, le=32)
    generator: str | None = Field(default=None, description="a stored architecture generator "
                                  "(`mdesign generator train`): evaluate --generated of its "
                                  "proposals for the task before the start")
    generated: int = Field(default=3, ge=1, le=32)
    generator_patience: int = Field(default=0, ge=0, description="after this many paid "
                                    "evaluations in a row without a new best, pay for the "
                                    "generator's next proposal (0: only at the start)")

    @field_serializer("train")
    def _train_as_set(self, train: TrainConfig | None) -> dict[str, Any] | None:
        # the settings given, as stored and reported before the field was typed
        return None if train is None else train.model_dump(exclude_unset=True)


# options of one strategy that the other does not implement: refused there, not ignored
# (and a stored run's values of the other strategy's options are set back to the defaults
# when it is read)
SURROGATE_ONLY = ("acquisition", "ucb_kappa", "ucb_schedule", "transfer", "transfer_odds",
                  "slope_prior", "prior_mean", "hyperparameters",
                  "transfer_model", "kernel", "source_scores", "portfolio",
                  "trust_radius",
                  "enumerate_limit")
WALK_ONLY = ("max_params", "max_latency", "predictor", "ghn", "ghn_pool", "generator",
             "generated", "generator_patience", "lookahead", "lookahead_engine",
             "uncertainty", "sources", "feature_similarity", "featureless_sources", "start",
             "calibrate", "window", "planner",
             "planner_threshold", "planner_penalty", "expand", "backtrack")


def stored_config(text: str) -> RefineConfig:
    """A run's stored configuration. The other strategy's options are the defaults of
    today: a run stored when another default was in force (EI before UCB) resumes as it
    ran, since its strategy never read them."""
    config = RefineConfig.model_validate_json(text)
    other = SURROGATE_ONLY if config.strategy == "walk" else WALK_ONLY
    return config.model_copy(update={n: RefineConfig.model_fields[n].default
                                     for n in other})


class RefinementStep(BaseModel):
    step: int
    kind: Literal["anchor", "generated", "start", "edit", "design", "search"]
    uid: str
    parent: str | None = None
    dimension: str | None = None
    from_choice: str | None = None
    to_choice: str | None = None
    hops: int = 0
    predicted: float | None = None
    observed_gain: float | None = None
    score: float
    valid: float | None = None
    test: float | None = None
    params: float | None = None
    latency: float | None = None
    best_uid: str
    best_score: float
    weights: dict[str, float] = {}
    source_gains: dict[str, float | None] = {}
    overhead_ms: float | None = None
    acquisition: float | None = Field(default=None, description="surrogate: the "
                                      "acquisition value of the paid candidate")
    transfer_probability: float | None = Field(
        default=None, description="surrogate: posterior probability that the sources "
        "predict the target (0: the target-only model carried the step)")

    def evaluation(self) -> Evaluation:
        """What this step paid for, as the evaluation record (one conversion for all)."""
        return Evaluation(uid=self.uid, score=self.score, valid=self.valid, test=self.test,
                          params=self.params, latency=self.latency)


# p(sources transfer) at or above this when a surrogate step chose an architecture:
# transfer led the choice; below it, the target-only model did
TRANSFER_LED = 0.5


class Provenance(BaseModel):
    """How a run came to an architecture: the evaluation that paid for it (1-based; a
    re-read of a paid architecture, as a resumed run does, is free), the kind of step
    that chose it and, for the surrogate, its posterior probability that the sources
    predict the target when it chose it. This answers "did transfer or the target's own
    results find it?" for one run."""

    evaluation: int
    kind: str
    transfer_probability: float | None = None

    @property
    def led_by(self) -> Literal["transfer", "target"] | None:
        """For a surrogate search step, which model held most of the posterior when it
        chose: ``transfer`` (p >= 0.5) or ``target`` (the target-only model, the safety
        net; always so without transfer). None for any other step."""
        p = self.transfer_probability
        if self.kind != "search" or p is None:
            return None
        return "transfer" if p >= TRANSFER_LED else "target"

    def describe(self) -> str:
        """One line, e.g. ``evaluation 9, a search step at p(sources transfer) 0.25: the
        target-only model led``."""
        text = f"evaluation {self.evaluation}, {'an' if self.kind[0] in 'aeiou' else 'a'} " \
            f"{self.kind} step"
        if self.led_by is None:
            return text
        return text + (f" at p(sources transfer) {self.transfer_probability:.2f}: "
                       + ("transfer led" if self.led_by == "transfer" else
                          "the target-only model led"))


def spent_after(steps: list[RefinementStep]) -> list[int]:
    """Evaluations spent after each step (a re-read of a paid architecture is free)."""
    paid: set[str] = set()
    out = []
    for s in steps:
        paid.add(s.uid)
        out.append(len(paid))
    return out


def provenances(steps: list[RefinementStep]) -> dict[str, Provenance]:
    """How the run of ``steps`` came to each architecture it paid for (the first step
    that paid for it), by uid."""
    out: dict[str, Provenance] = {}
    for spent, s in zip(spent_after(steps), steps, strict=True):
        if s.uid not in out:
            out[s.uid] = Provenance(evaluation=spent, kind=s.kind,
                                    transfer_probability=s.transfer_probability)
    return out


def provenance(steps: list[RefinementStep], uid: str) -> Provenance | None:
    """How the run of ``steps`` came to ``uid`` (:func:`provenances`), or None when it
    never paid for it."""
    return provenances(steps).get(uid)


class RefinementResult(BaseModel):
    run_id: str | None = None
    config: RefineConfig
    space: str
    split: str = Field(description="`valid_test`: selected on validation, test reported; "
                                   "`single`: one metric for both")
    sources: list[SourceInfo]
    best: Evaluation
    steps: list[RefinementStep]
    spent: int
    overhead_ms_per_step: float = Field(description="median wall time per step outside "
                                                    "evaluation")
    stopped: str
    notes: list[str] = Field(default=[], description="what the run could not use, or "
                             "fell back to (e.g. no meta-features: equal prior weights)")


    @computed_field  # type: ignore[prop-decorator]
    @property
    def found(self) -> Provenance | None:
        """How the run came to its returned architecture (:func:`provenance`); in the JSON
        report and ``mdesign refine --json`` as ``found``."""
        return provenance(self.steps, self.best.uid)


class RunRecorder(Protocol):
    """Where a run's progress goes as it happens (:class:`~mdesign.refinement.runs.RunStore`)."""

    def sources(self, sources: list[SourceInfo]) -> None: ...

    def step(self, step: RefinementStep) -> None: ...

"""The refinement's configuration and records: what a run is asked to do
(:class:`RefineConfig`), what each step paid for and learnt (:class:`RefinementStep`), the
run's outcome (:class:`RefinementResult`) and where progress goes as it happens
(:class:`RunRecorder`). Pure data: no database, no torch."""

from __future__ import annotations

from typing import Any, Literal, Protocol

from mdesign.core.evaluation import Evaluation
from mdesign.refinement.sources import SourceInfo
from pydantic import BaseModel, Field


class RefineConfig(BaseModel):
    task: str
    budget: int = Field(ge=1)
    sources: int = Field(default=3, ge=1)
    similarity: Literal["features", "anchors", "both"] = "features"
    anchors: int = Field(default=5, ge=3, description="anchor architectures (paid)")
    start: Literal["best", "vote", "weighted_vote"] = "best"
    calibrate: bool = True
    window: int | None = Field(default=None, ge=3)
    planner: Literal["off", "fallback", "always", "residual"] = "residual"
    planner_threshold: float = Field(default=0.2, ge=0.0, le=1.0)
    planner_penalty: float = Field(default=1.0, gt=0,
                                   description="ridge penalty of the planners' fine-tuning")
    lookahead: int = Field(default=1, ge=1, le=4)
    lookahead_engine: Literal["space", "gds"] = Field(
        default="space", description="find the architectures within `lookahead` edits from "
        "the design space's own edit rule, or with GDS shortest paths on the stored edits")
    expand: Literal["current", "best"] = "best"
    uncertainty: bool = False
    max_params: float | None = Field(default=None, gt=0)
    max_latency: float | None = Field(default=None, gt=0)
    backtrack: bool = True
    batch: int = Field(default=1, ge=1, le=32, description="candidates proposed and "
                       "evaluated together per step (in parallel when the evaluator can)")
    seed: int = 0
    evaluator: str = "benchmark"
    space: str | None = None
    train: dict[str, Any] | None = Field(default=None, description="the train evaluator's "
                                         "TrainConfig (kept so that a resume trains alike)")
    predictor: str | None = Field(default=None, description="a stored performance "
                                  "predictor that fills in gains a source never measured")
    ghn: str | None = Field(default=None, description="a stored graph hypernetwork: each "
                            "step proposes ghn_pool x batch candidates and pays for the "
                            "batch it ranks best (no budget spent on the ranking)")
    ghn_pool: int = Field(default=4, ge=1, le=32)
    generator: str | None = Field(default=None, description="a stored architecture "
                                  "generator: before the start, evaluate the `generated` "
                                  "architectures it proposes for the task given the anchors' "
                                  "results; the walk expands from the best")
    generated: int = Field(default=3, ge=1, le=32)
    generator_patience: int = Field(default=0, ge=0, description="with a generator: after "
                                    "this many paid evaluations in a row without a new "
                                    "best, pay for its next proposal (0: only at the start)")


class RefinementStep(BaseModel):
    step: int
    kind: Literal["anchor", "generated", "start", "edit"]
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


class RunRecorder(Protocol):
    """Where a run's progress goes as it happens (:class:`~mdesign.refinement.runs.RunStore`)."""

    def sources(self, sources: list[SourceInfo]) -> None: ...

    def step(self, step: RefinementStep) -> None: ...

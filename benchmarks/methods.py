"""The benchmark's methods: the ``mdesign`` variants (overrides of :class:`RefineConfig`)
and the search baselines of :mod:`mdesign.benchmarks.baselines`, each marked stochastic
(run once per seed) or deterministic (run once)."""

from __future__ import annotations

from typing import Any

# name -> (RefineConfig overrides, stochastic?)
MDESIGN_VARIANTS: dict[str, tuple[dict[str, Any], bool]] = {
    "mdesign": ({}, False),
    # the published loop: sources by meta-features whatever the walk's default
    "mdesign-reference": ({"expand": "current", "planner": "fallback",
                           "similarity": "features"}, False),
    "mdesign-reference-nocal": ({"expand": "current", "planner": "fallback",
                                 "similarity": "features", "calibrate": False}, False),
    # the walk's sources by meta-features (its default until round 19) or by agreement
    "mdesign-features": ({"similarity": "features"}, False),
    "mdesign-agreement": ({"similarity": "agreement"}, False),
    "mdesign-nocal": ({"calibrate": False}, False),
    "mdesign-noplanner": ({"planner": "off"}, False),
    "mdesign-planner-fallback": ({"planner": "fallback"}, False),
    "mdesign-expand-current": ({"expand": "current"}, False),
    "mdesign-lookahead2": ({"lookahead": 2}, False),
    "mdesign-lookahead2-gds": ({"lookahead": 2, "lookahead_engine": "gds"}, False),
    "mdesign-anchors": ({"similarity": "both"}, False),
    "mdesign-uncertainty": ({"uncertainty": True}, False),
    "mdesign-maxparams": ({"max_params": "median"}, False),
    # gains a source never measured come from a predictor trained without the target
    "mdesign-predictor": ({"predictor": "leave-one-out"}, False),
    # the start is seeded by a diffusion generator whose guide never saw the target
    "mdesign-generator": ({"generator": "leave-one-out"}, False),
    # ... and whenever 5 paid evaluations in a row found no new best, its next proposal
    "mdesign-generator-patience5": ({"generator": "leave-one-out",
                                     "generator_patience": 5}, False),
    # the transfer surrogate over the whole space (docs/refinement.md), and its ablations
    "mdesign-surrogate": ({"strategy": "surrogate"}, True),
    "mdesign-surrogate-notransfer": ({"strategy": "surrogate", "transfer": False}, True),
    "mdesign-surrogate-ucb": ({"strategy": "surrogate", "acquisition": "ucb"}, True),
    "mdesign-surrogate-thompson": ({"strategy": "surrogate", "acquisition": "thompson"},
                                   True),
    "mdesign-surrogate-trust1": ({"strategy": "surrogate", "trust_radius": 1}, True),
    "mdesign-surrogate-portfolio1": ({"strategy": "surrogate", "portfolio": 1}, True),
    "mdesign-surrogate-hamming": ({"strategy": "surrogate", "kernel": "hamming"}, True),
    "mdesign-surrogate-additive": ({"strategy": "surrogate", "kernel": "additive"}, True),
    "mdesign-surrogate-ei": ({"strategy": "surrogate", "acquisition": "ei"}, True),
    "mdesign-surrogate-rgpe": ({"strategy": "surrogate", "transfer_model": "rgpe"}, True),
    "mdesign-surrogate-ranked": ({"strategy": "surrogate", "transfer_model": "ranked"},
                                 True),
    "mdesign-surrogate-rankedmean": ({"strategy": "surrogate", "prior_mean": "ranked"},
                                     True),
    "mdesign-surrogate-bothmeans": ({"strategy": "surrogate", "prior_mean": "both"}, True),
    "mdesign-surrogate-logucb": ({"strategy": "surrogate", "ucb_schedule": "log"}, True),
    "mdesign-surrogate-winsorised": ({"strategy": "surrogate",
                                      "source_scores": "winsorised"}, True),
    "mdesign-surrogate-split": ({"strategy": "surrogate", "source_scores": "split"}, True),
    "mdesign-surrogate-switch": ({"strategy": "surrogate", "source_scores": "switch"},
                                 True),
    # the configuration nested leave-one-dataset-out chose for the target from the other
    # datasets only (benchmarks/results/nested_protocol.json)
    "mdesign-nested": ({"nested": True}, True),
}
BASELINES = {"retrieval": False, "random": True, "regevo": True, "tpe": True,
             "tpe-warm": True, "consensus": False}
METHODS = [*MDESIGN_VARIANTS, *BASELINES]
PLOT_METHODS = ["mdesign", "mdesign-reference", "mdesign-reference-nocal", "retrieval",
                "random", "regevo", "tpe", "mdesign-surrogate", "tpe-warm", "consensus"]
# `mdesign bench refine`'s default: issue 20's comparison (both strategies, the
# knowledge-free ablation, the reference loops, and every baseline of its targets)
DEFAULT_METHODS = ["mdesign", "mdesign-surrogate", "mdesign-surrogate-notransfer",
                   "mdesign-reference", "mdesign-reference-nocal", "retrieval", "consensus",
                   "random", "regevo", "tpe", "tpe-warm"]

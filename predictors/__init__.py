"""Learned performance predictors: a GENNAPE-style encoder and predictor, its few-shot
adaptation, zero-cost proxies and a graph hypernetwork (GHN).

Everything here imports torch, so the names load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mdesign.core.lazy import lazy_exports

if TYPE_CHECKING:
    from mdesign.predictors.adaptation import AdaptedPredictor, adapt
    from mdesign.predictors.encoder import ArchitectureEncoder, PerformancePredictor
    from mdesign.predictors.ghn import (
        GHNConfig,
        ghn_initialise,
        ghn_scores,
        load_ghn,
        save_ghn,
        train_ghn,
    )
    from mdesign.predictors.graph import ComputationGraph, architecture_graph
    from mdesign.predictors.hypernetwork import GraphHyperNetwork
    from mdesign.predictors.predictor import (
        PredictorConfig,
        embed_space,
        predict_scores,
        train_predictor,
    )
    from mdesign.predictors.store import PredictorMeta

# name -> module, imported on first use (they import torch)
_LAZY: dict[str, str] = {
    "AdaptedPredictor": "mdesign.predictors.adaptation",
    "adapt": "mdesign.predictors.adaptation",
    "ArchitectureEncoder": "mdesign.predictors.encoder",
    "PerformancePredictor": "mdesign.predictors.encoder",
    "GHNConfig": "mdesign.predictors.ghn",
    "ghn_initialise": "mdesign.predictors.ghn",
    "ghn_scores": "mdesign.predictors.ghn",
    "load_ghn": "mdesign.predictors.ghn",
    "save_ghn": "mdesign.predictors.ghn",
    "train_ghn": "mdesign.predictors.ghn",
    "ComputationGraph": "mdesign.predictors.graph",
    "architecture_graph": "mdesign.predictors.graph",
    "GraphHyperNetwork": "mdesign.predictors.hypernetwork",
    "PredictorConfig": "mdesign.predictors.predictor",
    "embed_space": "mdesign.predictors.predictor",
    "predict_scores": "mdesign.predictors.predictor",
    "train_predictor": "mdesign.predictors.predictor",
    "PredictorMeta": "mdesign.predictors.store",
}

__all__ = [
    "AdaptedPredictor",
    "ArchitectureEncoder",
    "ComputationGraph",
    "GHNConfig",
    "GraphHyperNetwork",
    "PerformancePredictor",
    "PredictorConfig",
    "PredictorMeta",
    "adapt",
    "architecture_graph",
    "embed_space",
    "ghn_initialise",
    "ghn_scores",
    "load_ghn",
    "predict_scores",
    "save_ghn",
    "train_ghn",
    "train_predictor",
]


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)

"""Retrieval-augmented refinement of architectures from edit-effect evidence.

* :mod:`~mdesign.refinement.refine`: :func:`refine`, the loop (the walk strategy);
* :mod:`~mdesign.refinement.transfer`, :mod:`~mdesign.refinement.surrogate`: the surrogate
  strategy (``strategy="surrogate"``) and its transfer Gaussian process (pure);
* :mod:`~mdesign.refinement.ledger`: what a run paid for and recorded, for every strategy;
* :mod:`~mdesign.refinement.config`: :class:`RefineConfig` and the records of a run;
* :mod:`~mdesign.refinement.evidence`, :mod:`~mdesign.refinement.memory`: the evidence
  read interface and an in-memory store of it;
* :mod:`~mdesign.refinement.assistance`, :mod:`~mdesign.refinement.predicted`: what a
  trained predictor, graph hypernetwork or generator adds to a run (none of it paid);
* :mod:`~mdesign.refinement.sources`: source retrieval (meta-features, anchors, both);
* :mod:`~mdesign.refinement.calibration`: Bayesian re-weighting of sources (pure);
* :mod:`~mdesign.refinement.planners`: per-source gain predictors, fine-tuned online (pure);
* :mod:`~mdesign.refinement.similarity`: rank correlations and meta-feature similarity (pure);
* :mod:`~mdesign.refinement.evaluators`: the ``Evaluator`` protocol and the leave-one-task-out
  benchmark oracle;
* :mod:`~mdesign.refinement.runs`: runs persisted in Neo4j, resume;
* :mod:`~mdesign.refinement.asktell`: :class:`Refinement`, the loop seen through
  ``ask()``/``tell()``: from your own code (the Optuna sampler sits on it), or driven by
  an evaluator (``drive()``, what ``mdesign refine`` runs);
* :mod:`~mdesign.refinement.custom`: evaluators of your own (``python:MODULE:CALLABLE``,
  entry points of ``mdesign.evaluators``);
* :mod:`~mdesign.refinement.suggest`: :func:`suggest`, a first design from the evidence
  alone (``mdesign suggest``);
* :mod:`~mdesign.refinement.report`: a run's JSON report and plot;
* :mod:`~mdesign.refinement.export`: a run's best architecture as a standalone PyG module
  or a design config (``mdesign export``).

Start here: ``Refinement(kb, config, evaluator=ev).drive()`` (a stored, resumable run, as
``mdesign refine`` runs it) with a :class:`RefineConfig` and an evaluator
(:class:`BenchmarkEvaluator`, or any ``Evaluator``); :func:`execute` is the same run
with the evaluator inside the loop. The torch-based
export functions load on first use. The loop itself, :func:`refine`, is not handed on
here (the name would hide its module): ``from mdesign.refinement.refine import refine``.

The benchmark protocol and the search baselines live in :mod:`mdesign.benchmarks`, which
the product never imports.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mdesign.core.evaluation import Evaluator
from mdesign.core.lazy import lazy_exports
from mdesign.refinement.asktell import Proposal, Refinement
from mdesign.refinement.candidates import Candidate
from mdesign.refinement.config import (
    Provenance,
    RefineConfig,
    RefinementResult,
    RefinementStep,
    RunRecorder,
    provenance,
)
from mdesign.refinement.costs import CostModel
from mdesign.refinement.custom import FunctionEvaluator
from mdesign.refinement.evaluators import BenchmarkEvaluator, load_target_table, make_evaluator
from mdesign.refinement.evidence import EvidenceReader, LookaheadGraph
from mdesign.refinement.ledger import RunLedger
from mdesign.refinement.memory import InMemoryEvidence, StoredResult, TaskTable
from mdesign.refinement.planners import SourcePlanner
from mdesign.refinement.predicted import GHNFilter, PredictedGains
from mdesign.refinement.runs import (
    RunFailed,
    RunInterrupted,
    RunStore,
    StoredRun,
    execute,
    list_runs,
    load_run,
    resumable,
)
from mdesign.refinement.sources import SourceInfo, choose_sources
from mdesign.refinement.suggest import Suggestion, SuggestionSet, suggest
from mdesign.refinement.surrogate import Posterior, TransferSurrogate, normal_scores, portfolio
from mdesign.refinement.transfer import SourceCache, prior_weights

if TYPE_CHECKING:
    from mdesign.refinement.export import design_config, to_module, to_yaml

# name -> module, imported on first use (they import torch)
_LAZY: dict[str, str] = {
    "design_config": "mdesign.refinement.export",
    "to_module": "mdesign.refinement.export",
    "to_yaml": "mdesign.refinement.export",
}

__all__ = [
    "BenchmarkEvaluator",
    "Candidate",
    "CostModel",
    "Evaluator",
    "EvidenceReader",
    "FunctionEvaluator",
    "GHNFilter",
    "InMemoryEvidence",
    "LookaheadGraph",
    "Posterior",
    "PredictedGains",
    "Proposal",
    "Provenance",
    "RefineConfig",
    "Refinement",
    "RefinementResult",
    "RefinementStep",
    "RunFailed",
    "RunInterrupted",
    "RunLedger",
    "RunRecorder",
    "RunStore",
    "SourceCache",
    "SourceInfo",
    "SourcePlanner",
    "StoredResult",
    "StoredRun",
    "Suggestion",
    "SuggestionSet",
    "TaskTable",
    "TransferSurrogate",
    "choose_sources",
    "design_config",
    "execute",
    "list_runs",
    "load_run",
    "load_target_table",
    "make_evaluator",
    "normal_scores",
    "portfolio",
    "prior_weights",
    "provenance",
    "resumable",
    "suggest",
    "to_module",
    "to_yaml",
]


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)

"""Retrieval-augmented refinement of architectures from edit-effect evidence.

* :mod:`~mdesign.refinement.refine`: :func:`refine` and :class:`RefineConfig`, the loop;
* :mod:`~mdesign.refinement.sources`: source retrieval (meta-features, anchors, both);
* :mod:`~mdesign.refinement.calibration`: Bayesian re-weighting of sources (pure);
* :mod:`~mdesign.refinement.planners`: per-source gain predictors, fine-tuned online (pure);
* :mod:`~mdesign.refinement.similarity`: rank correlations and meta-feature similarity (pure);
* :mod:`~mdesign.refinement.evaluators`: the ``Evaluator`` protocol and the leave-one-task-out
  benchmark oracle;
* :mod:`~mdesign.refinement.runs`: runs persisted in Neo4j, resume;
* :mod:`~mdesign.refinement.report`: a run's JSON report and plot;
* :mod:`~mdesign.refinement.export`: a run's best architecture as a standalone PyG module
  or a design config (``mdesign export``).

The benchmark protocol and the search baselines live in :mod:`mdesign.benchmarks`, which
the product never imports.
"""

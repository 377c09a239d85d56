"""Retrieval-augmented refinement of architectures from edit-effect evidence.

The engine itself (source retrieval, candidate scoring, predictive planners, the
refinement loop and its CLI) is issue 3. What is here already, as pure functions:

* :mod:`mdesign.refinement.similarity`: rank correlations between tasks (Spearman with
  average ranks, Kendall's tau-b), the reference of the knowledge base's similarity
  queries;
* :mod:`mdesign.refinement.calibration`: the Bayesian re-weighting of source tasks as the
  target's observed gains come in.
"""

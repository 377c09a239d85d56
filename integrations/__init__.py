"""mdesign inside other tools.

* :mod:`mdesign.integrations.optuna`: :class:`~mdesign.integrations.optuna.MdesignSampler`,
  an Optuna sampler that proposes whole architectures from mdesign's refinement (and,
  through Optuna's searcher, drives Ray Tune);
* :func:`mdesign.refinement.suggest.suggest` / ``mdesign suggest``: a warm start for any
  other tool (NNI, a hand-written loop).

Each integration loads its tool on first use: ``import mdesign.integrations`` needs none.
"""

"""The benchmarks: a library that nothing in the product imports, and thin scripts over it.

Library (import it from the scripts, from ``mdesign bench`` or from a notebook):

* :mod:`~mdesign.benchmarks.protocol`: the leave-one-task-out refinement benchmark's
  runner (task contexts, one method's trajectory, rows, :func:`run_protocol`);
* :mod:`~mdesign.benchmarks.methods`: the methods it knows (``mdesign`` variants and
  search baselines), which are stochastic, which are plotted and run by default;
* :mod:`~mdesign.benchmarks.baselines`: random search, regularised evolution, TPE,
  retrieval only, behind the refinement's evaluator interface;
* :mod:`~mdesign.benchmarks.loo`: leave-one-out predictors and generators per target;
* :mod:`~mdesign.benchmarks.predictor_baselines`: the one-hot MLP and the stand-in graph
  the predictor benchmark compares against (needs the ``train`` extra);
* :mod:`~mdesign.benchmarks.report`: the one ``machine()`` record, the protocol's
  targets, markdown, plot and files, the results folder.

Scripts (``python benchmarks/NAME.py`` or ``python -m mdesign.benchmarks.NAME``):
``refine_nasbenchgraph``, ``kb``, ``load``, ``train``, ``ghn``, ``predictor``,
``diffusion``; each writes ``benchmarks/results/NAME.*``.
"""

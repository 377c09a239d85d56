"""Real training of architectures on graph tasks.

* :mod:`~mdesign.training.metrics`: accuracy and ROC-AUC (pure torch);
* :mod:`~mdesign.training.data`: a task's graph data with its splits (:class:`TaskData`);
* :mod:`~mdesign.training.trainer`: :func:`train_architecture`, several seeds, early
  stopping on validation, failed (diverging) runs recorded as such.
"""

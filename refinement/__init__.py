"""Retrieval-augmented refinement of architectures from edit-effect evidence.

The engine (source retrieval, adaptive source calibration, predictive planners) is the
subject of issue 3; this package currently holds the task-similarity maths it shares with
the knowledge base (:mod:`mdesign.refinement.similarity`).
"""

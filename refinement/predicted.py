"""Gains a source never measured, from a trained performance predictor.

Where a source has no result at one end of a candidate edit, its evidence is missing. With
``RefineConfig.predictor`` set, that gain is predicted instead: the predictor's score of
both ends on the *source* task (a percentile of that task's architectures,
:mod:`mdesign.predictors`) and the difference turned into the source's score units,

.. math::
    \\hat g_s(c \\to m) = \\big(u_s(m) - u_s(c)\\big) \\cdot \\sigma_s \\sqrt{12}

(a percentile of a uniform spread has standard deviation :math:`1/\\sqrt{12}`), with
:math:`\\sigma_s` the standard deviation of the source's stored scores. The planners and the
calibration then treat it like stored evidence.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from mdesign.kb.errors import InputError
from mdesign.kb.knowledge_base import KnowledgeBase
from mdesign.kb.space import DesignSpace


class PredictedGains:
    def __init__(self, kb: KnowledgeBase, name: str, space: DesignSpace) -> None:
        from mdesign.predictors import store

        self.model, meta = store.load(kb, name)
        if space.name not in meta.spaces:
            raise InputError(f"predictor {name!r} covers {', '.join(meta.spaces)}, not "
                             f"{space.name!r}", "train one on this space, or drop --predictor")
        self.kb, self.space = kb, space
        self._scale: dict[str, float] = {}
        self._score: dict[tuple[str, str], float] = {}

    def scale(self, task: str) -> float:
        if task not in self._scale:
            rows = self.kb.query("task_results", task=task)[0]["results"]
            scores = np.array([r[1] for r in rows if r[1] is not None], dtype=float)
            self._scale[task] = float(scores.std()) * math.sqrt(12) if scores.size > 1 else 0.0
        return self._scale[task]

    def _scores(self, task: str, keys: Sequence[str]) -> np.ndarray:
        from mdesign.predictors import store
        from mdesign.predictors.encoder import task_vector
        from mdesign.predictors.training import predict

        todo = [k for k in dict.fromkeys(keys) if (task, k) not in self._score]
        if todo:
            info = self.kb.task(task)
            vec = task_vector(info.features, info.kind)[None]
            got = predict(self.model, store.space_graphs(self.space, todo), vec)[:, 0]
            self._score.update(((task, k), float(v)) for k, v in zip(todo, got, strict=True))
        return np.array([self._score[(task, k)] for k in keys])

    def gains(self, task: str, centre: str, keys: Sequence[str]) -> np.ndarray:
        """Predicted gains on ``task`` of the edits ``centre -> key`` (score units)."""
        s = self._scores(task, [centre, *keys])
        return (s[1:] - s[0]) * self.scale(task)

"""Few-shot adaptation of the predictor to one task from a few of its results.

The shots' scores become their percentiles among themselves (``y``, in [0, 1]), and an
adaptation is a map from computation graphs to that scale. Six are available:

- gradient adaptations of a copy of the model (:func:`finetune`): ``task`` (the task
  embedding's offset), ``heads`` (task MLP and score head), ``full`` (everything but the
  contrastive projection, the encoder at a tenth of the rate);
- closed-form ridge heads on the frozen model, with the penalty chosen by exact
  leave-one-out (:func:`ridge_loo`):

  - ``transfer``: :math:`\\hat y = w_0 + \\sum_s w_s\\, f(z, g(t_s))` over the new task
    itself and the tasks the model was trained on (:math:`t_s`): the new task as a
    weighting of known ones;
  - ``probe``: the same with the architecture embedding :math:`z` as further columns,
    so that structure no known task rewards can still be picked up;

- ``ensemble`` (the default): the mean of ``full``, ``transfer`` and ``probe``. The three
  err differently (the gradient one bends the representation, the ridge heads keep it),
  and their mean beat each of them on a development split of the leave-one-dataset-out
  benchmark (see ``benchmarks/results/predictor.md``);
- ``auto``: each of the above scored by k-fold cross-validation on the shots (Spearman on
  the left-out fold) and the best one used.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from mdesign.core.stats import ridge, spearman
from mdesign.predictors.encoder import PerformancePredictor
from mdesign.predictors.training import embed, predict, rank_targets
from torch.nn import functional as F
from torch_geometric.data import Batch, Data

GRADIENT = ("task", "heads", "full")
RIDGE = ("transfer", "probe")
ENSEMBLE = ("full", "transfer", "probe")
ADAPTATIONS = (*GRADIENT, *RIDGE, "ensemble")
DEFAULT = "ensemble"
RIDGE_LAMBDAS = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0)


@dataclass(frozen=True)
class Ridge:
    """A ridge regression with intercept on standardised columns."""

    mean: torch.Tensor
    scale: torch.Tensor
    weights: torch.Tensor
    intercept: float
    penalty: float
    loo_mse: float

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return ((x.double() - self.mean) / self.scale) @ self.weights + self.intercept


def ridge_loo(x: torch.Tensor, y: torch.Tensor,
              penalties: Sequence[float] = RIDGE_LAMBDAS) -> Ridge:
    """Ridge regression of ``y`` [n] on ``x`` [n, d] (the fit is
    :func:`mdesign.core.stats.ridge`), on standardised columns ``Z``, with the
    penalty :math:`\\lambda` picked by the exact leave-one-out error. The unpenalised
    intercept adds :math:`1/n` to every leverage
    :math:`h_i = [Z (Z^\\top Z + \\lambda I)^{-1} Z^\\top]_{ii}`, so the i-th left-out
    residual is :math:`r_i / (1 - h_i - 1/n)` without refitting."""
    x64 = x.double()
    mean, scale = x64.mean(0), x64.std(0).clamp_min(1e-8)
    z = ((x64 - mean) / scale).numpy()
    yn = y.double().numpy()
    n, d = z.shape
    best: Ridge | None = None
    for lam in penalties:
        w, b = ridge(z, yn, lam)
        hat = (z * np.linalg.solve(z.T @ z + lam * np.eye(d), z.T).T).sum(1)
        loo = float(np.mean(((yn - z @ w - b) / np.maximum(1 - hat - 1 / n, 1e-6)) ** 2))
        if best is None or loo < best.loo_mse:
            best = Ridge(mean, scale, torch.from_numpy(w), b, lam, loo)
    assert best is not None
    return best


def finetune(model: PerformancePredictor, graphs: Sequence[Data], target: torch.Tensor,
             task: torch.Tensor, how: str, seed: int = 0) -> None:
    """One gradient adaptation of ``model`` (in place) to percentiles ``target`` [n].

    - ``task``: only the task embedding moves (the last bias of the task MLP, i.e. an
      offset of :math:`g(t)`): the new task is placed among the tasks the head knows.
    - ``heads``: the task MLP and the score head train; the encoder stays frozen.
    - ``full``: the task embedding at the ``task`` rate, encoder and head at a tenth of
      the fitting rate, so the representation bends without being overwritten.
    """
    if how not in GRADIENT:
        raise ValueError(f"unknown gradient adaptation {how!r}")
    torch.manual_seed(seed)
    batch = Batch.from_data_list(list(graphs))
    offset = model.task[-1].bias
    groups: list[dict] = [{"params": [offset], "lr": 1e-2}]
    steps = {"task": 200, "heads": 50, "full": 100}[how]
    if how == "heads":
        groups = [{"params": [*model.task.parameters(), *model.head.parameters()],
                   "lr": 1e-3}]
    elif how == "full":
        groups.append({"params": [*model.encoder.parameters(), *model.head.parameters()],
                       "lr": 1e-4})
    opt = torch.optim.Adam(groups)
    z = None
    if how != "full":
        model.eval()
        with torch.no_grad():
            z = model.encoder(batch.x, batch.edge_index, batch.batch)
    model.train()
    for _ in range(steps):
        emb = z if z is not None else model.encoder(batch.x, batch.edge_index, batch.batch)
        loss = F.mse_loss(model.score(emb, task[None, :])[:, 0], target.float())
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()


@dataclass(frozen=True)
class BaseFeatures:
    """What the ridge heads read from the unchanged model, per architecture: the embedding
    ``z`` [N, dim] and the predictions ``cols`` [N, 1 + S] for the new task and the S
    tasks the model was trained on. Computed once per set of graphs and shared by
    ``transfer``, ``probe`` and every cross-validation fold."""

    z: torch.Tensor
    cols: torch.Tensor

    @classmethod
    def of(cls, model: PerformancePredictor, graphs: Sequence[Data],
           tasks: torch.Tensor) -> BaseFeatures:
        z = embed(model, graphs)
        with torch.no_grad():
            return cls(z, model.score(z, tasks))

    def rows(self, index: Sequence[int]) -> BaseFeatures:
        return BaseFeatures(self.z[list(index)], self.cols[list(index)])

    def columns(self, head: str) -> torch.Tensor:
        """``transfer`` reads the predictions; ``probe`` the embedding too."""
        return torch.cat([self.z, self.cols], 1) if head == "probe" else self.cols


@dataclass
class AdaptedPredictor:
    """The predictor adapted to one task: :meth:`predict` gives scores [N] on the scale
    of the shots' percentiles (1: as good as the best shot), the mean of its members: the
    gradient-adapted copy ``model`` (if any), then the ridge ``heads``."""

    how: str
    base: PerformancePredictor
    tasks: torch.Tensor  # the new task's vector, then those the model was trained on
    heads: dict[str, Ridge] = field(default_factory=dict)
    model: PerformancePredictor | None = None
    cv: dict[str, float] = field(default_factory=dict)

    def predict(self, graphs: Sequence[Data],
                feats: BaseFeatures | None = None) -> torch.Tensor:
        """Scores of ``graphs`` (``feats``: their :class:`BaseFeatures`, if known)."""
        outs = []
        if self.model is not None:
            outs.append(predict(self.model, graphs, self.tasks[:1])[:, 0].double())
        if self.heads:
            feats = feats or BaseFeatures.of(self.base, graphs, self.tasks)
            outs += [ridge(feats.columns(head)) for head, ridge in self.heads.items()]
        return torch.stack(outs).mean(0)


def _members(how: str) -> tuple[str, ...]:
    return ENSEMBLE if how == "ensemble" else (how,)


def _fit(model: PerformancePredictor, graphs: Sequence[Data], target: torch.Tensor,
         tasks: torch.Tensor, how: str, seed: int,
         feats: BaseFeatures | None = None) -> AdaptedPredictor:
    """``how`` fitted to percentiles ``target`` of ``graphs`` (``feats``: their
    :class:`BaseFeatures`, computed here if not given)."""
    fitted = AdaptedPredictor(how, model, tasks)
    for member in _members(how):
        if member in GRADIENT:
            fitted.model = copy.deepcopy(model)
            finetune(fitted.model, graphs, target, tasks[0], member, seed)
        else:
            feats = feats or BaseFeatures.of(model, graphs, tasks)
            fitted.heads[member] = ridge_loo(feats.columns(member), target)
    return fitted


def adapt(model: PerformancePredictor, graphs: Sequence[Data], scores: torch.Tensor,
          task: torch.Tensor, seen: torch.Tensor | None = None, how: str = DEFAULT,
          folds: int = 5, seed: int = 0) -> AdaptedPredictor:
    """Adapt ``model`` (left unchanged) to one task from a few of its results ``scores``
    [n] on ``graphs``; ``task`` is its vector, ``seen`` [S, TASK_DIM] the vectors of the
    tasks the model was trained on (for ``transfer``, ``probe`` and ``ensemble``).

    ``how`` is one of :data:`ADAPTATIONS` or ``auto``."""
    if how != "auto" and how not in ADAPTATIONS:
        raise ValueError(f"unknown adaptation {how!r}")
    tasks = torch.cat([task[None, :], seen if seen is not None else task[None, :0]])
    data = list(graphs)
    target = rank_targets(scores[:, None].double())[:, 0]
    if how != "auto":
        return _fit(model, data, target, tasks, how, seed)
    feats = BaseFeatures.of(model, data, tasks)
    cv = cross_validate(model, data, scores, tasks, ADAPTATIONS, folds, seed, feats)
    fitted = _fit(model, data, target, tasks,
                  max(ADAPTATIONS, key=lambda c: cv[c]) if cv else DEFAULT, seed, feats)
    fitted.cv = cv
    return fitted


def cross_validate(model: PerformancePredictor, graphs: Sequence[Data],
                   scores: torch.Tensor, tasks: torch.Tensor, options: Sequence[str],
                   folds: int = 5, seed: int = 0, feats: BaseFeatures | None = None
                   ) -> dict[str, float]:
    """Mean Spearman on the left-out fold of each adaptation in ``options`` (``tasks``:
    the new task's vector, then the trained ones). Each member is fitted once per fold;
    the ensemble is scored from its members' fold predictions."""
    n = len(graphs)
    parts = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    parts = [p for p in parts.chunk(min(folds, n // 2 or 1)) if p.numel() > 1]
    if not parts:
        return {}
    feats = feats or BaseFeatures.of(model, graphs, tasks)
    members = list(dict.fromkeys(m for c in options for m in _members(c)))
    rhos: dict[str, list[float]] = {c: [] for c in options}
    for p in parts:
        held = p.tolist()
        keep = sorted(set(range(n)) - set(held))
        target = rank_targets(scores[keep, None].double())[:, 0]
        kept, fold = [graphs[i] for i in keep], feats.rows(keep)
        got = {m: _fit(model, kept, target, tasks, m, seed, fold).predict(
            [graphs[i] for i in held], feats.rows(held)) for m in members}
        for c in options:
            pred = torch.stack([got[m] for m in _members(c)]).mean(0)
            rho = spearman(pred.tolist(), scores[p].tolist())
            rhos[c].append(0.0 if rho is None else rho)
    return {c: sum(v) / len(v) for c, v in rhos.items()}

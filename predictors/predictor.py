"""``train_predictor`` / ``predict``: the predictor against the knowledge base.

Training reads, for a seeded sample of architectures of a space, every stored result of
the space's tasks; pretrains the encoder contrastively on unlabelled architectures of
every space of the knowledge base that the model builder realises; fits the regressor of
per-task percentiles; and stores the checkpoint (:mod:`mdesign.predictors.store`).
Prediction conditions on the task's meta-features, so it works for a task with no results
(zero-shot); ``finetune_on`` adapts it to a task's own results.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

import torch
from mdesign.core.errors import InputError
from mdesign.kb.knowledge_base import KnowledgeBase, code_version
from mdesign.kb.models import TaskInfo
from mdesign.models.builder import family
from mdesign.predictors import store
from mdesign.predictors.adaptation import DEFAULT, adapt
from mdesign.predictors.encoder import PerformancePredictor, task_vector
from mdesign.predictors.training import embed, fit, predict, pretrain, rank_targets
from pydantic import BaseModel

Echo = Callable[[str], None]


class PredictorConfig(BaseModel):
    name: str = "default"
    space: str = "nas-bench-graph"
    tasks: list[str] | None = None  # default: every task with results in the space
    archs: int = 2000              # labelled architectures (shared by all tasks)
    pretrain_archs: int = 1000     # unlabelled architectures per space
    pretrain_epochs: int = 10
    epochs: int = 100
    dim: int = 64
    layers: int = 3
    seed: int = 0


def task_vectors(tasks: Sequence[TaskInfo]) -> torch.Tensor:
    return torch.stack([task_vector(t.features, t.kind) for t in tasks])


def sample_keys(kb: KnowledgeBase, space: str, n: int, seed: int) -> list[str]:
    sp = kb.space(space)
    keys = sp.all_keys()
    return random.Random(seed).sample(keys, min(n, len(keys)))


def labelled(kb: KnowledgeBase, space: str, keys: Sequence[str],
             tasks: Sequence[TaskInfo]) -> torch.Tensor:
    """Scores [keys, tasks] as stored (NaN where a task has no result)."""
    uids = [f"{space}/{k}" for k in keys]
    stored = kb.source_scores(uids, [t.name for t in tasks])
    out = torch.full((len(keys), len(tasks)), float("nan"), dtype=torch.float64)
    for i, u in enumerate(uids):
        for j, t in enumerate(tasks):
            s = stored.get(u, {}).get(t.name)
            if s is not None and s.score is not None:
                out[i, j] = s.score
    return out


def _pretraining_graphs(kb: KnowledgeBase, cfg: PredictorConfig, echo: Echo) -> list:
    graphs = []
    for name, _ in kb.spaces_by_tasks():
        sp = kb.space(name)
        try:
            family(sp)
        except InputError:
            continue  # a space the builder cannot realise has no computation graphs
        keys = sample_keys(kb, sp.name, cfg.pretrain_archs, cfg.seed + 1)
        echo(f"tracing {len(keys)} unlabelled architectures of {sp.name}")
        graphs += store.space_graphs(sp, keys)
    return graphs


def train_predictor(kb: KnowledgeBase, cfg: PredictorConfig,
                    echo: Echo = lambda m: None) -> store.PredictorMeta:
    torch.manual_seed(cfg.seed)
    space = kb.space(cfg.space)
    family(space)
    tasks = [kb.task(t) for t in cfg.tasks] if cfg.tasks else kb.tasks_in_space(space.name)
    if not tasks:
        raise InputError(f"no task has results in {space.name!r}",
                         "import results first (`mdesign kb import ...`)")
    model = PerformancePredictor(dim=cfg.dim, layers=cfg.layers)
    unlabelled = _pretraining_graphs(kb, cfg, echo)
    pre = pretrain(model, unlabelled, epochs=cfg.pretrain_epochs, seed=cfg.seed,
                   progress=lambda e, n, loss: echo(f"pretrain {e}/{n}: InfoNCE {loss:.3f}"))
    keys = sample_keys(kb, space.name, cfg.archs, cfg.seed)
    echo(f"tracing {len(keys)} labelled architectures of {space.name}")
    graphs = store.space_graphs(space, keys)
    targets = rank_targets(labelled(kb, space.name, keys, tasks)).float()
    losses = fit(model, graphs, targets, task_vectors(tasks), epochs=cfg.epochs,
                 seed=cfg.seed,
                 progress=lambda e, n, loss: echo(f"fit {e}/{n}: MSE {loss:.4f}"))
    meta = store.PredictorMeta(
        name=cfg.name, version=code_version(), created=store.now(), config=model.config,
        spaces=[space.name], tasks=[t.name for t in tasks],
        metrics={"pretrain_infonce": pre[-1] if pre else None, "fit_mse": losses[-1],
                 "archs": len(keys), "pretrain_graphs": len(unlabelled),
                 "settings": cfg.model_dump()})
    store.save(kb, model, meta)
    return meta


def predict_scores(kb: KnowledgeBase, name: str, task: str, space: str,
                   keys: Sequence[str], finetune_on: int = 0,
                   adapt_how: str = DEFAULT) -> list[float]:
    """Predicted scores (percentile scale: 1 is the task's best) of ``keys`` on ``task``.
    ``finetune_on`` > 0 first adapts to that many of the task's own stored results
    (``adapt_how``: one of :data:`mdesign.predictors.adaptation.ADAPTATIONS` or
    ``auto``); the scale is then the percentile among those results."""
    model, meta = store.load(kb, name)
    if space not in meta.spaces:
        raise InputError(f"predictor {name!r} covers {', '.join(meta.spaces)}, not {space!r}",
                         "train one on this space")
    info = kb.task(task)
    vec = task_vector(info.features, info.kind)
    sp = kb.space(space)
    graphs = store.space_graphs(sp, keys)
    if finetune_on:
        own = list(kb.task_scores(task, space).items())
        own = random.Random(0).sample(own, min(finetune_on, len(own)))
        if len(own) < 2:
            raise InputError(f"task {task!r} has {len(own)} stored result(s) in {space!r}; "
                             "adapting needs at least 2",
                             "import or measure results first, or drop --finetune")
        adapted = adapt(model, store.space_graphs(sp, [k for k, _ in own]),
                        torch.tensor([s for _, s in own], dtype=torch.float64), vec,
                        seen=task_vectors([kb.task(t) for t in meta.tasks]), how=adapt_how)
        return adapted.predict(graphs).tolist()
    return predict(model, graphs, vec[None, :])[:, 0].tolist()


def embed_space(kb: KnowledgeBase, name: str, space: str, keys: Sequence[str]) -> int:
    """Store the predictor's embeddings of ``keys`` as ``Architecture.embedding``."""
    model, _ = store.load(kb, name)
    sp = kb.space(space)
    z = embed(model, store.space_graphs(sp, keys))
    return store.write_embeddings(kb, name, [f"{space}/{k}" for k in keys], z)

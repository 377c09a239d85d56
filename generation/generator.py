"""Train a task-guided architecture generator, generate with it, and store what it made.

An :class:`ArchitectureGenerator` pairs

- a :class:`~mdesign.generation.networks.ScoreNetwork`, trained by denoising score matching
  on architectures of one design space (no results needed):
  :math:`\\mathbb E_{t, X_0, \\varepsilon} \\lVert \\sigma(t) s_\\theta(X_0 + \\sigma(t)
  \\varepsilon, t) + \\varepsilon \\rVert^2`;
- a :class:`~mdesign.generation.networks.NoisyPredictor`, trained on noised matrices of
  architectures with stored results to predict their percentile on the task (MSE), given
  the **task vector** :math:`\\tau` of :func:`task_condition`: the task's meta-features
  (:func:`mdesign.predictors.encoder.task_vector`) and its standardised scores on a fixed
  set of anchor architectures, with a presence flag each. Anchors are dropped at random in
  training, so a task with few or no anchor results (a new task) still gets a vector.

:func:`generate` samples in rounds with the guidance scale
:math:`\\lambda_r = \\lambda_0 \\gamma^r` (large first: quality; smaller later:
diversity), rounds each sample to one-hot, and keeps only valid, canonical, new
architectures, until it has ``n``. Within a round they are ordered by the predictor's
score of the clean architecture.
"""

from __future__ import annotations

import random
import shlex
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import torch
from mdesign.core.errors import InputError
from mdesign.core.space import DesignSpace
from mdesign.generation.encoding import ArchitectureMatrix
from mdesign.generation.networks import NoisyPredictor, ScoreNetwork
from mdesign.generation.sampling import guidance_gradient, sample
from mdesign.generation.sde import VESDE
from mdesign.kb.importers.common import architecture_row
from mdesign.kb.knowledge_base import KnowledgeBase, code_version
from mdesign.kb.models import TaskInfo
from mdesign.predictors import store
from mdesign.predictors.encoder import TASK_DIM, task_vector
from mdesign.predictors.training import rank_targets
from pydantic import BaseModel, Field
from torch import nn

Progress = Callable[[str, int, int, float], None]  # (phase, step, steps, loss)


class GeneratorConfig(BaseModel):
    name: str = "diffusion"
    space: str = "nas-bench-graph"
    tasks: list[str] | None = None  # the guide's tasks; default: every task of the space
    exclude: list[str] = []         # tasks the guide must never see (held-out targets)
    archs: list[str] | None = None  # the score network's architectures; default: all
    dim: int = Field(default=64, ge=8)
    layers: int = Field(default=3, ge=1)
    heads: int = Field(default=4, ge=1)
    guide_dim: int = Field(default=64, ge=8)
    guide_layers: int = Field(default=2, ge=1)
    anchors: int = Field(default=8, ge=0)
    score_steps: int = Field(default=3000, ge=1)
    guide_steps: int = Field(default=3000, ge=0)
    batch_size: int = Field(default=256, ge=2)
    lr: float = Field(default=1e-3, gt=0)
    sigma_min: float = 0.1
    sigma_max: float = 5.0
    seed: int = 0


class GenerationSettings(BaseModel):
    n: int = Field(default=10, ge=1)
    steps: int = Field(default=200, ge=2, description="noise levels of the sampler")
    scale: float = Field(default=0.0, ge=0, description="guidance scale of the first round "
                         "(0: the generator's tuned default)")
    decay: float = Field(default=0.5, gt=0, le=1, description="scale factor between rounds")
    rounds: int = Field(default=0, ge=0, description="most rounds (0: enough for n, "
                        "at least 6)")
    batch: int = Field(default=64, ge=1, description="samples per round")
    snr: float = Field(default=0.16, gt=0)
    seed: int = 0
    guided: bool = True


class GeneratedArchitecture(BaseModel):
    uid: str
    key: str
    rank: int
    predicted: float | None
    round: int
    scale: float


class GenerationResult(BaseModel):
    id: str
    task: str | None
    generator: str
    space: str
    settings: GenerationSettings
    samples: int
    valid: int
    unique: int
    architectures: list[GeneratedArchitecture]
    seconds: float


class ArchitectureGenerator(nn.Module):
    """The score network and (optionally) the noise-aware predictor, as one checkpoint."""

    def __init__(self, rows: int, columns: int, dim: int = 64, layers: int = 3,
                 heads: int = 4, guide_dim: int = 64, guide_layers: int = 2,
                 anchors: int = 8, guided: int = 1) -> None:
        super().__init__()
        self.config = {"rows": rows, "columns": columns, "dim": dim, "layers": layers,
                       "heads": heads, "guide_dim": guide_dim, "guide_layers": guide_layers,
                       "anchors": anchors, "guided": guided}
        self.score = ScoreNetwork(rows, columns, dim, layers, heads)
        self.guide = (NoisyPredictor(rows, columns, TASK_DIM + 2 * anchors, guide_dim,
                                     guide_layers, heads) if guided else None)


# -- the task vector -------------------------------------------------------------------

def anchor_block(scores: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
    """``[B, 2K]``: scores on the anchors standardised over the present ones, then the
    presence flags (rows with fewer than two present anchors carry no scores)."""
    p = present.float()
    count = p.sum(1, keepdim=True)
    mean = (scores * p).sum(1, keepdim=True) / count.clamp_min(1)
    var = (((scores - mean) * p) ** 2).sum(1, keepdim=True) / count.clamp_min(1)
    z = (scores - mean) / var.sqrt().clamp_min(1e-6) * p
    z = torch.where(count >= 2, z.clamp(-3, 3), torch.zeros_like(z))
    return torch.cat([z, p * (count >= 2)], 1)


def task_condition(info: TaskInfo, anchors: Sequence[str],
                   known: Mapping[str, float]) -> torch.Tensor:
    """The task vector :math:`\\tau`: meta-features and the ``known`` scores (by uid) of
    the anchor architectures ``anchors`` (uids)."""
    s = torch.tensor([[known.get(a, 0.0) for a in anchors]])
    p = torch.tensor([[a in known for a in anchors]])
    return torch.cat([task_vector(info.features, info.kind)[None], anchor_block(s, p)], 1)[0]


# -- training ------------------------------------------------------------------------------

def _uniform_t(n: int, generator: torch.Generator, eps: float = 1e-3) -> torch.Tensor:
    return torch.rand(n, generator=generator) * (1 - eps) + eps


def train_score(net: ScoreNetwork, matrix: ArchitectureMatrix, sde: VESDE,
                x0: torch.Tensor, steps: int, batch_size: int, lr: float, seed: int,
                progress: Progress | None = None) -> list[float]:
    """Denoising score matching on the one-hot matrices ``x0`` (loss over real columns)."""
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(net.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    cols = matrix.column_mask
    losses = []
    net.train()
    for step in range(steps):
        idx = torch.randint(x0.size(0), (batch_size,), generator=g)
        t = _uniform_t(batch_size, g)
        z = matrix.project(torch.randn(x0[idx].shape, generator=g))
        xt = sde.perturb(x0[idx], t, z)
        sigma = sde.sigma(t)
        s = net(xt, sde.log_sigma(t), sigma, matrix.attention_mask(xt))
        loss = ((sigma.view(-1, 1, 1) * s + z)[:, cols] ** 2).sum(-1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
        if progress and (step + 1) % 50 == 0:
            progress("score", step + 1, steps, sum(losses[-50:]) / 50)
    net.eval()
    return losses


def train_guide(net: NoisyPredictor, matrix: ArchitectureMatrix, sde: VESDE,
                x0: torch.Tensor, targets: torch.Tensor, meta: torch.Tensor,
                anchor_scores: torch.Tensor, steps: int, batch_size: int, lr: float,
                seed: int, progress: Progress | None = None) -> list[float]:
    """Fit :math:`f_\\phi(X_t, t, \\tau) \\approx` percentile, for noised ``x0`` [N, R, C].

    ``targets`` [N, T] percentiles (NaN: no result), ``meta`` [T, D] meta-feature vectors,
    ``anchor_scores`` [T, K] the tasks' scores on the anchors (NaN: none).
    """
    g = torch.Generator().manual_seed(seed)
    pairs = (~torch.isnan(targets)).nonzero()  # (architecture, task) with a result
    if pairs.size(0) == 0:
        raise InputError("the guide has no stored result to learn from",
                         "import results of the space's tasks first")
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=max(steps, 1))
    has = ~torch.isnan(anchor_scores)
    filled = torch.nan_to_num(anchor_scores)
    losses = []
    net.train()
    for step in range(steps):
        pick = pairs[torch.randint(pairs.size(0), (batch_size,), generator=g)]
        a, task = pick[:, 0], pick[:, 1]
        t = _uniform_t(batch_size, g)
        z = matrix.project(torch.randn(x0[a].shape, generator=g))
        xt = sde.perturb(x0[a], t, z)
        # anchor dropout: a quarter of the rows see no anchor, the rest each with p = 3/4
        keep = (torch.rand(has[task].shape, generator=g) < 0.75) & has[task]
        keep &= (torch.rand(batch_size, 1, generator=g) >= 0.25)
        tau = torch.cat([meta[task], anchor_block(filled[task], keep)], 1)
        pred = net(xt, sde.log_sigma(t), matrix.attention_mask(xt), tau)
        loss = ((pred - targets[a, task]) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
        if progress and (step + 1) % 50 == 0:
            progress("guide", step + 1, steps, sum(losses[-50:]) / 50)
    net.eval()
    return losses


def choose_anchors(keys: Sequence[str], scores: Mapping[str, Mapping[str, float]], k: int,
                   seed: int) -> list[str]:
    """``min(k, len(keys))`` anchor keys, seeded: the architectures that most tasks
    measured, then (while fewer than ``k``) those that the next most tasks measured, and
    so on, so that the guide always gets as many anchors as there are keys to choose
    from (a task with few results shares only a few architectures with the others)."""
    if k == 0:
        return []
    counts = {key: sum(key in s for s in scores.values()) for key in keys}
    rng = random.Random(seed)
    chosen: list[str] = []
    for c in sorted(set(counts.values()), reverse=True):
        pool = sorted(key for key, n in counts.items() if n == c)
        chosen += rng.sample(pool, min(k - len(chosen), len(pool)))
        if len(chosen) == k:
            break
    return chosen


MIN_GUIDE_RESULTS = 2  # a percentile target needs two results of the task to rank


def guide_tasks(kb: KnowledgeBase, space: str, names: Sequence[str]
                ) -> tuple[dict[str, dict[str, float]], dict[str, int]]:
    """The scores in ``space`` (key -> score) of the tasks among ``names`` that can teach
    the guide (at least :data:`MIN_GUIDE_RESULTS` results there), and the others with their
    number of results. When no task can serve: an :class:`InputError` naming them."""
    scores = {t: kb.task_scores(t, space) for t in names}
    skipped = {t: len(s) for t, s in scores.items() if len(s) < MIN_GUIDE_RESULTS}
    if len(skipped) == len(scores):
        listed = ", ".join(f"{t!r} ({n})" for t, n in list(skipped.items())[:5])
        more = f" and {len(skipped) - 5} more" if len(skipped) > 5 else ""
        where = shlex.quote(space) if space.isprintable() else "SPACE"
        raise InputError(
            f"no task of space {space!r} has the {MIN_GUIDE_RESULTS} results the generator's "
            f"guide needs to rank architectures: {listed}{more} (results in brackets)",
            f"add results (e.g. `mdesign refine --task NAME --space {where} --evaluator "
            "train --budget 2`) or train an unguided generator with --guide-steps 0")
    return {t: s for t, s in scores.items() if t not in skipped}, skipped


def train_generator(kb: KnowledgeBase, cfg: GeneratorConfig,
                    progress: Progress | None = None,
                    score: ScoreNetwork | None = None) -> tuple[ArchitectureGenerator,
                                                                 store.PredictorMeta]:
    """Train (``score``: reuse a trained score network) and store a generator."""
    torch.manual_seed(cfg.seed)
    space = kb.space(cfg.space)
    matrix = ArchitectureMatrix(space)
    sde = VESDE(sigma_min=cfg.sigma_min, sigma_max=cfg.sigma_max)
    names = cfg.tasks or [t.name for t in kb.tasks_in_space(space.name)]
    names = [t for t in names if t not in set(cfg.exclude)]
    guided = cfg.guide_steps > 0 and bool(names)
    anchors: list[str] = []
    skipped: dict[str, int] = {}
    if guided:  # before any training: which tasks can serve, and the anchors
        scores, skipped = guide_tasks(kb, space.name, names)
        names = list(scores)
        labelled = sorted(set().union(*[s.keys() for s in scores.values()]))
        anchors = choose_anchors(labelled, scores, cfg.anchors, cfg.seed)
    infos = [kb.task(t) for t in names]
    # the guide's task vector has one slot per anchor: as many as were found (fewer than
    # cfg.anchors only when fewer architectures have results)
    model = ArchitectureGenerator(matrix.rows, matrix.columns, cfg.dim, cfg.layers, cfg.heads,
                                  cfg.guide_dim, cfg.guide_layers,
                                  len(anchors) if guided else cfg.anchors, int(guided))
    keys = cfg.archs or space.all_keys()
    t0 = time.perf_counter()
    if score is not None:
        if score.config != model.score.config:
            raise InputError("the given score network has another shape", "train it again")
        model.score.load_state_dict(score.state_dict())
        score_losses: list[float] = []
    else:
        score_losses = train_score(model.score, matrix, sde, matrix.encode_keys(keys),
                                   cfg.score_steps, cfg.batch_size, cfg.lr, cfg.seed, progress)
    t_score = time.perf_counter() - t0
    guide_losses: list[float] = []
    t1 = time.perf_counter()
    if guided:
        assert model.guide is not None
        raw = torch.tensor([[scores[t].get(k, float("nan")) for t in names] for k in labelled],
                           dtype=torch.float64)
        anchor_raw = torch.tensor([[scores[t].get(a, float("nan")) for a in anchors]
                                   for t in names]).reshape(len(names), len(anchors))
        meta_vecs = torch.stack([task_vector(i.features, i.kind) for i in infos])
        guide_losses = train_guide(model.guide, matrix, sde, matrix.encode_keys(labelled),
                                   rank_targets(raw).float(), meta_vecs, anchor_raw.float(),
                                   cfg.guide_steps, cfg.batch_size, cfg.lr, cfg.seed + 1,
                                   progress)
    t_guide = time.perf_counter() - t1
    meta = store.PredictorMeta(
        name=cfg.name, type="generator", version=code_version(), created=store.now(),
        config=model.config, spaces=[space.name], tasks=names,
        metrics={"settings": cfg.model_dump(exclude={"archs"}),
                 "anchors": [f"{space.name}/{a}" for a in anchors],
                 "score_archs": len(keys), "score_s": round(t_score, 1),
                 "guide_s": round(t_guide, 1),
                 "score_loss": _tail(score_losses), "guide_mse": _tail(guide_losses),
                 "skipped_tasks": skipped})
    store.save(kb, model, meta)
    return model, meta


def _tail(losses: Sequence[float]) -> float | None:
    tail = losses[-100:]
    return round(sum(tail) / len(tail), 5) if tail else None


def load_generator(kb: KnowledgeBase, name: str) -> tuple[ArchitectureGenerator,
                                                           store.PredictorMeta]:
    model, meta = store.load(kb, name, expect="generator", build=ArchitectureGenerator)
    return model, meta


def load_generator_meta(kb: KnowledgeBase, name: str) -> store.PredictorMeta:
    """The stored generator's metadata (a clear error when ``name`` is unknown or is not a
    generator)."""
    return store.load_meta(kb, name, expect="generator")[1]


def known_keys(kb: KnowledgeBase, space: str, task: str) -> list[str]:
    """Keys of the architectures of ``space`` that ``task`` already has results for."""
    return sorted(kb.task_scores(task, space))


# -- generation ----------------------------------------------------------------------------

DEFAULT_SCALE = 20.0


def generate(model: ArchitectureGenerator, space: DesignSpace, sde: VESDE,
             settings: GenerationSettings, task: torch.Tensor | None = None,
             exclude: Iterable[str] = (), progress: Callable[[int, int], None] | None = None,
             ) -> tuple[list[GeneratedArchitecture], dict[str, int]]:
    """Valid, canonical, unique architectures (keys not in ``exclude``), at most
    ``settings.n``; and the counts of raw samples, valid ones and unique valid ones."""
    matrix = ArchitectureMatrix(space)
    gen = torch.Generator().manual_seed(settings.seed)
    use_guide = settings.guided and model.guide is not None and task is not None
    guide = (guidance_gradient(model.guide, matrix, sde, task) if use_guide
             else None)  # type: ignore[arg-type]
    scale0 = settings.scale or DEFAULT_SCALE
    seen = set(exclude)
    found: list[GeneratedArchitecture] = []
    counts = {"samples": 0, "valid": 0, "unique": 0}
    uniques: set[str] = set()
    sde = sde.model_copy(update={"steps": settings.steps})
    rounds = settings.rounds or max(6, -(-3 * settings.n // settings.batch))
    for r in range(rounds):
        scale = scale0 * settings.decay ** r if use_guide else 0.0
        x = sample(model.score, matrix, sde, settings.batch, gen, guide, scale, settings.snr,
                   progress=progress)
        keys = matrix.canonical_keys(x)
        counts["samples"] += len(keys)
        fresh = []
        for k in keys:
            if k is None:
                continue
            counts["valid"] += 1
            if k not in uniques:
                uniques.add(k)
            if k not in seen:
                seen.add(k)
                fresh.append(k)
        predicted = predicted_scores(model, matrix, sde, fresh, task) if fresh else []
        order = sorted(range(len(fresh)), key=lambda i: -(predicted[i] or 0.0)) \
            if use_guide else range(len(fresh))
        for i in order:
            if len(found) < settings.n:
                found.append(GeneratedArchitecture(
                    uid=f"{space.name}/{fresh[i]}", key=fresh[i], rank=len(found) + 1,
                    predicted=predicted[i], round=r, scale=scale))
        if len(found) >= settings.n:
            break
    counts["unique"] = len(uniques)
    return found, counts


@torch.no_grad()
def predicted_scores(model: ArchitectureGenerator, matrix: ArchitectureMatrix, sde: VESDE,
                     keys: Sequence[str], task: torch.Tensor | None) -> list[float | None]:
    """The guide's score of clean architectures (``None`` without a guide or task)."""
    if model.guide is None or task is None or not keys:
        return [None] * len(keys)
    x = matrix.encode_keys(keys)
    t = torch.zeros(len(keys))
    out = model.guide(x, sde.log_sigma(t), matrix.attention_mask(x), task.expand(len(keys), -1))
    return [round(float(v), 5) for v in out]


def generator_sde(meta: store.PredictorMeta) -> VESDE:
    s = meta.metrics.get("settings", {})
    return VESDE(sigma_min=s.get("sigma_min", 0.1), sigma_max=s.get("sigma_max", 5.0))


def generate_for_task(kb: KnowledgeBase, name: str, task: str | None,
                      settings: GenerationSettings, known: Mapping[str, float] | None = None,
                      exclude: Iterable[str] = (), save: bool = True, stored: bool = True,
                      progress: Callable[[int, int], None] | None = None) -> GenerationResult:
    """Generate for ``task`` with the stored generator ``name``. The task vector reads the
    task's stored results on the generator's anchors (``stored``) and ``known``: scores of
    architectures on the task (uid -> score), e.g. what a refinement paid for (which
    passes ``stored=False``: it treats the target's stored results as the unknown it pays
    to read). ``exclude``: keys never to return. With ``save`` the result goes into the
    knowledge base."""
    t0 = time.perf_counter()
    model, meta = load_generator(kb, name)
    space = kb.space(meta.spaces[0])
    tau = None
    if task is not None:
        info = kb.task(task)
        anchors = list(meta.metrics.get("anchors", []))
        if model.guide is not None and len(anchors) != model.config["anchors"]:
            raise InputError(f"generator {name!r} stores {len(anchors)} anchors for a guide "
                             f"built for {model.config['anchors']}",
                             "train it again with `mdesign generator train`")
        read = {uid: s.score for uid, per in kb.source_scores(anchors, [task]).items()
                for t, s in per.items() if t == task and s.score is not None} if stored else {}
        tau = task_condition(info, anchors, {**read, **(known or {})})
    found, counts = generate(model, space, generator_sde(meta), settings, tau,
                             exclude=exclude, progress=progress)
    result = GenerationResult(id=uuid.uuid4().hex[:12], task=task, generator=name,
                              space=space.name, settings=settings,
                              samples=counts["samples"], valid=counts["valid"],
                              unique=counts["unique"], architectures=found,
                              seconds=round(time.perf_counter() - t0, 2))
    if save:
        save_generation(kb, result, space)
    return result


def save_generation(kb: KnowledgeBase, result: GenerationResult, space: DesignSpace) -> None:
    """One transaction: the :Generation node, its links to the task and the generator, and a
    ``PROPOSED`` relationship (rank, predicted score, round, guidance scale) to each
    architecture (created when the knowledge base has none)."""
    rows = []
    for a in result.architectures:
        rows.append({**architecture_row(space, space.parse_key(a.key)),
                     "rank": a.rank, "predicted": a.predicted, "round": a.round,
                     "scale": a.scale})
    kb.generations.store(result.id, task=result.task, generator=result.generator, rows=rows,
                         props={"created": store.now(), "space": result.space,
                                "n": result.settings.n, "seed": result.settings.seed,
                                "guided": result.settings.guided, "samples": result.samples,
                                "valid": result.valid, "unique": result.unique,
                                "seconds": result.seconds, "version": code_version(),
                                "settings": result.settings.model_dump_json()})


def summary(result: GenerationResult) -> dict[str, Any]:
    return {"id": result.id, "valid": f"{result.valid}/{result.samples}",
            "unique": result.unique, "returned": len(result.architectures),
            "seconds": result.seconds}

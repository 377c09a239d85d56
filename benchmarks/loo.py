"""Leave-one-out models for the benchmark: per target task, a performance predictor
(``mdesign-predictor``) or an architecture generator (``mdesign-generator``) trained on
the other tasks of its space and never on the target."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from mdesign.kb.knowledge_base import KnowledgeBase


def loo_predictor_name(task: str) -> str:
    return f"loo-{task}"


def ensure_loo_predictors(kb: KnowledgeBase, tasks: Sequence[str],
                          progress: Callable[[str], None] | None = None,
                          settings: dict[str, Any] | None = None) -> dict[str, str]:
    """For each target, a stored performance predictor trained on the other tasks of its
    space and never on the target (reused when one exists with exactly those tasks);
    ``settings`` override the :class:`PredictorConfig` defaults."""
    from mdesign.core.errors import InputError
    from mdesign.predictors import store
    from mdesign.predictors.predictor import PredictorConfig, train_predictor

    made = {}
    for task in tasks:
        space = kb.target_space(task)
        others = sorted(t.name for t in kb.tasks_in_space(space, exclude=task))
        name = loo_predictor_name(task)
        try:
            _, meta = store.load_meta(kb, name)
            if sorted(meta.tasks) == others and meta.spaces == [space]:
                made[task] = "reused"
                continue
        except InputError:
            pass
        t0 = time.perf_counter()
        train_predictor(kb, PredictorConfig(**{**(settings or {}), "name": name,
                                               "space": space, "tasks": others}))
        made[task] = f"trained in {time.perf_counter() - t0:.0f} s"
        if progress:
            progress(f"predictor {name}: {made[task]}")
    return made


def loo_generator_name(task: str) -> str:
    return f"loo-gen-{task}"


def ensure_loo_generators(kb: KnowledgeBase, tasks: Sequence[str],
                          progress: Callable[[str], None] | None = None,
                          settings: dict[str, Any] | None = None) -> dict[str, str]:
    """For each target, a stored architecture generator whose guide learned from the other
    tasks of its space and never from the target. One stored with exactly those tasks is
    reused (given ``settings``: only if it was trained with them). The score network sees
    architectures only, no results: it is trained once and shared."""
    from mdesign.core.errors import InputError
    from mdesign.generation.generator import GeneratorConfig, train_generator
    from mdesign.predictors import store

    made: dict[str, str] = {}
    shared: dict[str, Any] = {}  # space -> a trained score network
    for task in tasks:
        space = kb.target_space(task)
        others = sorted(t.name for t in kb.tasks_in_space(space, exclude=task))
        name = loo_generator_name(task)
        cfg = GeneratorConfig(**{**(settings or {}), "name": name, "space": space,
                                 "tasks": others})
        try:
            _, meta = store.load_meta(kb, name, expect="generator")
            same = sorted(meta.tasks) == others and meta.spaces == [space]
            if same and settings is not None:  # asked for these settings: exactly these
                n_archs = len(cfg.archs) if cfg.archs else len(kb.space(space).all_keys())
                same = (meta.metrics.get("settings") == cfg.model_dump(exclude={"archs"})
                        and meta.metrics.get("score_archs") == n_archs)
            if same:
                made[task] = "reused"
                continue
        except InputError:
            pass
        t0 = time.perf_counter()
        model, _ = train_generator(kb, cfg, score=shared.get(space))
        shared[space] = model.score
        made[task] = f"trained in {time.perf_counter() - t0:.0f} s"
        if progress:
            progress(f"generator {name}: {made[task]}")
    return made

"""Where predictors and architecture graphs live.

- Checkpoints: ``MDESIGN_HOME/predictors/SLUG-HASH/model.pt`` (a safe folder name for
  the predictor's name, :func:`mdesign.kb.settings.safe_name`) beside ``meta.json``
  (configuration, code version, spaces, tasks, training figures), written to a temporary
  file and renamed, so an interrupted save never leaves half a checkpoint. The knowledge
  base holds a ``:Predictor`` node with the path and metadata, ``COVERS`` its spaces and
  ``TRAINED_ON`` the tasks whose results trained it.
- Graphs: tracing every architecture of a space takes minutes, so the computation graphs
  are cached per space under ``MDESIGN_HOME/predictors/graphs/`` (keyed by the space's
  definition, the code version and the feature vocabulary).
- Embeddings: ``Architecture.embedding`` properties, read by the ``architectures_like``
  query.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from mdesign.core.space import DesignSpace
from mdesign.kb import settings
from mdesign.kb.knowledge_base import KnowledgeBase, code_version
from mdesign.predictors.encoder import PerformancePredictor
from mdesign.predictors.graph import FEATURES, OP_VOCAB, architecture_graph
from mdesign.predictors.hypernetwork import GraphHyperNetwork
from mdesign.predictors.meta import PredictorMeta, load_meta, predictor_dir, unreadable
from torch_geometric.data import Data


def save(kb: KnowledgeBase, model: torch.nn.Module, meta: PredictorMeta) -> Path:
    folder = predictor_dir(meta.name)
    settings.write_atomically(folder / "model.pt",
                              lambda p: torch.save(model.state_dict(), p))
    settings.write_atomically(folder / "meta.json",
                              lambda p: p.write_text(meta.model_dump_json(indent=2)))
    kb.predictors.upsert(meta.name, spaces=meta.spaces, tasks=meta.tasks, props={
        "path": str(folder), "created": meta.created, "version": meta.version,
        "type": meta.type, "config": json.dumps(meta.config),
        "metrics": json.dumps(meta.metrics)})
    return folder


def load(kb: KnowledgeBase, name: str, expect: str = "performance",
         build: Callable[..., torch.nn.Module] | None = None) -> tuple[Any, PredictorMeta]:
    """The stored model and its metadata: ``build(**meta.config)`` with the stored weights
    loaded. ``build`` defaults to :class:`PerformancePredictor` for
    ``expect="performance"`` and to
    :class:`~mdesign.predictors.hypernetwork.GraphHyperNetwork` for ``"ghn"``; other kinds
    (an architecture generator) pass their own (the layers above know their classes,
    this store does not)."""
    if build is None:
        kinds = {"performance": PerformancePredictor, "ghn": GraphHyperNetwork}
        if expect not in kinds:
            raise ValueError(f"loading a {expect!r} predictor needs its builder")
        build = kinds[expect]
    folder, meta = load_meta(kb, name, expect)
    try:
        model = build(**meta.config)
        model.load_state_dict(torch.load(folder / "model.pt", weights_only=True))
    except (OSError, ValueError, RuntimeError) as err:
        raise unreadable(name, folder, err) from err
    model.eval()
    return model, meta


def now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def _cache_file(space: DesignSpace, kind: str) -> Path:
    digest = hashlib.sha256(json.dumps(
        [space.model_dump(mode="json", exclude={"table"}), code_version(), OP_VOCAB,
         FEATURES, kind], sort_keys=True, default=str).encode()).hexdigest()[:12]
    return settings.confined(settings.home() / "predictors" / "graphs",
                             f"{settings.slug(space.name)}-{kind}-{digest}.pt")


def space_graphs(space: DesignSpace, keys: Sequence[str], kind: str = "node",
                 progress: Callable[[int, int], None] | None = None) -> list[Data]:
    """The computation graphs (as PyG ``Data``) of the architectures ``keys`` of ``space``,
    traced once and cached on disk."""
    path = _cache_file(space, kind)
    cache: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
    if path.exists():
        cache = torch.load(path, weights_only=True)
    missing = [k for k in dict.fromkeys(keys) if k not in cache]
    for i, k in enumerate(missing):
        d = architecture_graph(space, space.parse_key(k), kind).to_data()
        cache[k] = (d.x.half(), d.edge_index.short())
        if progress:
            progress(i + 1, len(missing))
    if missing:
        settings.write_atomically(path, lambda tmp: torch.save(cache, tmp))
    return [Data(x=cache[k][0].float(), edge_index=cache[k][1].long(),
                 num_nodes=cache[k][0].size(0)) for k in keys]


def write_embeddings(kb: KnowledgeBase, predictor: str, uids: Sequence[str],
                     embeddings: torch.Tensor, chunk: int = 2000) -> int:
    rows = [{"uid": u, "embedding": [round(float(v), 6) for v in e], "predictor": predictor}
            for u, e in zip(uids, embeddings, strict=True)]
    for i in range(0, len(rows), chunk):
        kb.predictors.write_embeddings(rows[i:i + chunk])
    return len(rows)

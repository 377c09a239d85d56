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
from mdesign.core.errors import InputError
from mdesign.core.space import DesignSpace
from mdesign.kb import settings
from mdesign.kb.knowledge_base import KnowledgeBase, code_version
from mdesign.predictors.encoder import PerformancePredictor
from mdesign.predictors.graph import FEATURES, OP_VOCAB, architecture_graph
from mdesign.predictors.hypernetwork import GraphHyperNetwork
from pydantic import BaseModel
from torch_geometric.data import Data


class PredictorMeta(BaseModel):
    name: str
    # "performance", "ghn" (a graph hypernetwork, mdesign.predictors.ghn) or "generator"
    # (an architecture generator, mdesign.generation)
    type: str = "performance"
    version: str
    created: str
    config: dict[str, int]
    spaces: list[str]
    tasks: list[str]
    kinds: dict[str, str] = {}
    metrics: dict[str, Any] = {}


def predictor_dir(name: str) -> Path:
    if not name.replace("-", "_").isidentifier():
        raise InputError(f"predictor name {name!r} must be letters, digits, '-' or '_'",
                         "choose another name")
    # a safe slug plus a hash, whatever the name holds: never a path of its own, never
    # the `graphs` cache
    return settings.confined(settings.home() / "predictors", settings.safe_name(name))


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


def _unreadable(name: str, folder: Path, err: Exception) -> InputError:
    return InputError(f"predictor {name!r} at {folder} cannot be read "
                      f"({str(err).splitlines()[0]})", "train it again")


def load_meta(kb: KnowledgeBase, name: str,
              expect: str | None = None) -> tuple[Path, PredictorMeta]:
    """A stored predictor's folder and metadata, without its weights; with ``expect``
    (``performance``, ``ghn`` or ``generator``), one of that type."""
    row = kb.predictors.get(name)
    if row is None:
        train = {"ghn": "ghn train", "generator": "generator train"}.get(expect or "",
                                                                          "predictor train")
        raise InputError(f"no predictor named {name!r}", f"train one with `mdesign {train}`")
    folder = Path(row["props"]["path"])
    try:
        meta = PredictorMeta.model_validate_json((folder / "meta.json").read_text())
    except (OSError, ValueError) as err:
        raise _unreadable(name, folder, err) from err
    if expect is not None and meta.type != expect:
        what = {"ghn": "a graph hypernetwork", "performance": "a performance predictor",
                "generator": "an architecture generator"}
        raise InputError(f"predictor {name!r} is {what.get(meta.type, meta.type)}, not "
                         f"{what.get(expect, expect)}", "give the name of the right kind "
                         "(`mdesign predictor list`)")
    return folder, meta


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
        raise _unreadable(name, folder, err) from err
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

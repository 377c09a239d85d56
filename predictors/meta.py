"""A stored predictor's metadata, read without torch: what a command checks (the name,
the kind) before it imports the model code. :mod:`~mdesign.predictors.store` saves and
loads the weights."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mdesign.core.errors import InputError
from mdesign.kb import settings
from mdesign.kb.knowledge_base import KnowledgeBase
from pydantic import BaseModel


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


def unreadable(name: str, folder: Path, err: Exception) -> InputError:
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
        raise unreadable(name, folder, err) from err
    if expect is not None and meta.type != expect:
        what = {"ghn": "a graph hypernetwork", "performance": "a performance predictor",
                "generator": "an architecture generator"}
        raise InputError(f"predictor {name!r} is {what.get(meta.type, meta.type)}, not "
                         f"{what.get(expect, expect)}", "give the name of the right kind "
                         "(`mdesign predictor list`)")
    return folder, meta



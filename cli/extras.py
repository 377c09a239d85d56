"""Optional extras: say which one to install before a command starts, not after.

A plain ``pip install mdesign`` has no ``train`` extra (torch, torch-geometric,
matplotlib). Commands that need it check here first, with :func:`importlib.util.find_spec`
(which finds a module without importing it: cheap, even for torch).
"""

from __future__ import annotations

import importlib.util
from typing import Any

from mdesign.core.errors import InputError

TRAIN = ("torch", "torch_geometric")  # what training, predictors, GHNs and generators import
PLOT = ("matplotlib",)  # what `refine`'s plot imports


def missing(*modules: str) -> list[str]:
    """The top-level ``modules`` that cannot be imported here."""
    out = []
    for name in modules:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):  # a broken or blocked installation
            found = False
        if not found:
            out.append(name)
    return out


def require(*modules: str, extra: str, command: str) -> None:
    """Refuse ``command`` at once when one of ``modules`` (of the optional ``extra``) is
    not installed."""
    absent = missing(*modules)
    if absent:
        raise InputError(f"`mdesign {command}` needs {', '.join(absent)}, which "
                         f"{'is' if len(absent) == 1 else 'are'} not installed",
                         f"install the {extra} extra: pip install 'mdesign[{extra}]'")


def require_for_refine(config: Any = None, **options: Any) -> None:
    """What ``mdesign refine`` will import: matplotlib for its plot, always; torch and
    PyTorch Geometric for the train evaluator, a predictor, a graph hypernetwork (--ghn,
    --ghn-init) or a generator. Give either a stored run's config or the options."""
    if config is not None:
        options = {"evaluator": config.evaluator, "predictor": config.predictor,
                   "ghn": config.ghn, "generator": config.generator,
                   "ghn_init": config.train.ghn if config.train else None}
    needs_torch = options.get("evaluator") == "train" or any(
        options.get(k) for k in ("predictor", "ghn", "ghn_init", "generator"))
    require(*PLOT, *(TRAIN if needs_torch else ()), extra="train", command="refine")

"""Lazy re-exports for package faces: a name whose module imports torch is imported on
first use, so that importing the face (and the command line, which imports the faces)
stays light. The PEP 562 hooks a face needs, made once for all faces."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(face: str, names: Mapping[str, str]
                 ) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for the package ``face``: each name of ``names``
    (name -> module) is imported from its module on first use and then kept on the face."""

    def __getattr__(name: str) -> Any:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {face!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[face], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[face]), *names})

    return __getattr__, __dir__

"""Task-conditioned architecture generation: score-based graph diffusion guided by a
noise-aware performance predictor (DiffusionNAG-style; see docs/generation.md).

Everything here imports torch, so the names load on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mdesign.generation.generator import (
        ArchitectureGenerator,
        GeneratedArchitecture,
        GenerationResult,
        GenerationSettings,
        GeneratorConfig,
        generate,
        generate_for_task,
        load_generator,
        save_generation,
        train_generator,
    )

# name -> module, imported on first use (they import torch)
_LAZY: dict[str, str] = {
    "ArchitectureGenerator": "mdesign.generation.generator",
    "GeneratedArchitecture": "mdesign.generation.generator",
    "GenerationResult": "mdesign.generation.generator",
    "GenerationSettings": "mdesign.generation.generator",
    "GeneratorConfig": "mdesign.generation.generator",
    "generate": "mdesign.generation.generator",
    "generate_for_task": "mdesign.generation.generator",
    "load_generator": "mdesign.generation.generator",
    "save_generation": "mdesign.generation.generator",
    "train_generator": "mdesign.generation.generator",
}

__all__ = [
    "ArchitectureGenerator",
    "GeneratedArchitecture",
    "GenerationResult",
    "GenerationSettings",
    "GeneratorConfig",
    "generate",
    "generate_for_task",
    "load_generator",
    "save_generation",
    "train_generator",
]


def __getattr__(name: str) -> Any:
    """Load the torch-based names on first use, so importing this face stays light."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})

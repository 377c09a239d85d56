"""Task-conditioned architecture generation: score-based graph diffusion guided by a
noise-aware performance predictor (DiffusionNAG-style; see docs/generation.md).

Everything here imports torch, so the names load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mdesign.core.lazy import lazy_exports

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


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)

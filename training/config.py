"""How an architecture is trained (:class:`TrainConfig`): a torch-free record, so that
a refinement's configuration can name it without importing torch."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class TrainConfig(BaseModel):
    """Epochs, early stopping, optimiser, seeds, model width and where it runs."""

    epochs: int = Field(default=200, ge=1)
    patience: int = Field(default=30, ge=1)
    lr: float = Field(default=0.01, gt=0)
    weight_decay: float = Field(default=5e-4, ge=0)
    seeds: int = Field(default=3, ge=1)
    first_seed: int = Field(default=0, ge=0)  # seeds first_seed .. first_seed + seeds - 1
    dim: int = Field(default=128, ge=2)
    dropout: float = Field(default=0.5, ge=0, lt=1)
    batch_size: int = Field(default=64, ge=1)
    threads: int = Field(default=1, ge=1)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    # folder of a stored graph hypernetwork (`mdesign ghn train`): training starts from the
    # weights it generates instead of a random initialisation
    ghn: str | None = None

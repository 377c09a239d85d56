"""The variance-exploding SDE (Song et al., 2021) that noises architecture matrices.

.. math::
    \\sigma(t) = \\sigma_{\\min} (\\sigma_{\\max} / \\sigma_{\\min})^{t}, \\qquad
    X_t = X_0 + \\sigma(t)\\, \\varepsilon, \\quad \\varepsilon \\sim \\mathcal N(0, I),
    \\quad t \\in [0, 1].

The reverse process is discretised on ``steps`` noise levels
:math:`\\sigma_{N-1} > \\dots > \\sigma_0 = \\sigma_{\\min}` (geometric, as in the reference:
0.1 to 5 over 1,000 steps). Pure functions of tensors: no model, no database.
"""

from __future__ import annotations

import math

import torch
from pydantic import BaseModel, Field


class VESDE(BaseModel):
    sigma_min: float = Field(default=0.1, gt=0)
    sigma_max: float = Field(default=5.0, gt=0)
    steps: int = Field(default=1000, ge=2)

    def sigma(self, t: torch.Tensor) -> torch.Tensor:
        return self.sigma_min * (self.sigma_max / self.sigma_min) ** t

    def perturb(self, x0: torch.Tensor, t: torch.Tensor,
                noise: torch.Tensor) -> torch.Tensor:
        """A sample of :math:`X_t` given :math:`X_0` (``t``: one time per row of ``x0``)."""
        return x0 + self.sigma(t).view(-1, *[1] * (x0.dim() - 1)) * noise

    def times(self) -> torch.Tensor:
        """The discretisation, from :math:`t = 1` down to :math:`t = 0`."""
        return torch.linspace(1.0, 0.0, self.steps)

    def sigmas(self) -> torch.Tensor:
        return self.sigma(self.times())

    def prior(self, shape: tuple[int, ...], generator: torch.Generator | None = None
              ) -> torch.Tensor:
        """:math:`X_1 \\sim \\mathcal N(0, \\sigma_{\\max}^2 I)` (the data's scale is
        negligible next to :math:`\\sigma_{\\max}`)."""
        return torch.randn(shape, generator=generator) * self.sigma_max

    def log_sigma(self, t: torch.Tensor) -> torch.Tensor:
        """The network's time input, :math:`\\log \\sigma(t)`, centred on the schedule."""
        mid = 0.5 * (math.log(self.sigma_min) + math.log(self.sigma_max))
        return torch.log(self.sigma(t)) - mid

"""Predictor-corrector sampling of the reverse VE SDE, optionally guided.

On the noise levels :math:`\\sigma_{N-1} > \\dots > \\sigma_0` of
:class:`~mdesign.generation.sde.VESDE`, each step :math:`i` runs

- a **predictor** (reverse diffusion, Euler-Maruyama):
  :math:`X \\leftarrow X + (\\sigma_i^2 - \\sigma_{i-1}^2)\\, g(X, \\sigma_i)
  + \\sqrt{\\sigma_i^2 - \\sigma_{i-1}^2}\\, z`;
- a **corrector** (Langevin, signal-to-noise ratio :math:`r`):
  :math:`\\epsilon = 2 (r \\lVert z \\rVert / \\lVert g \\rVert)^2`,
  :math:`X \\leftarrow X + \\epsilon\\, g + \\sqrt{2\\epsilon}\\, z`,

with the guided score :math:`g = s_\\theta(X, t) + \\lambda \\nabla_X f_\\phi(X, t, \\tau)`
(:math:`\\lambda = 0`: unguided). The last step adds no noise. Every random draw comes
from one ``torch.Generator``: a seed fixes the samples.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from mdesign.generation.encoding import ArchitectureMatrix
from mdesign.generation.networks import NoisyPredictor, ScoreNetwork
from mdesign.generation.sde import VESDE

Guide = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def guidance_gradient(predictor: NoisyPredictor, matrix: ArchitectureMatrix, sde: VESDE,
                      task: torch.Tensor) -> Guide:
    """:math:`\\nabla_X f_\\phi(X, t, \\tau)` as a function of ``(x, t)``."""

    def grad(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        with torch.enable_grad():
            x = x.detach().requires_grad_(True)
            score = predictor(x, sde.log_sigma(t), matrix.attention_mask(x),
                              task.expand(x.size(0), -1))
            (g,) = torch.autograd.grad(score.sum(), x)
        return matrix.project(g)

    return grad


@torch.no_grad()
def sample(score: ScoreNetwork, matrix: ArchitectureMatrix, sde: VESDE, n: int,
           generator: torch.Generator, guide: Guide | None = None, scale: float = 0.0,
           snr: float = 0.16, corrector_steps: int = 1,
           progress: Callable[[int, int], None] | None = None) -> torch.Tensor:
    """``n`` matrices :math:`X_0` (continuous; round them with the encoding)."""
    x = matrix.project(sde.prior((n, matrix.rows, matrix.columns), generator))
    times, sigmas = sde.times(), sde.sigmas()

    def guided(x: torch.Tensor, t: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        s = score(x, sde.log_sigma(t), sigma, matrix.attention_mask(x))
        if guide is not None and scale:
            s = s + scale * guide(x, t)
        return matrix.project(s)

    for i in range(sde.steps):
        t = times[i].expand(n)
        sigma = sigmas[i].expand(n)
        # corrector first at this level, then the predictor to the next one
        for _ in range(corrector_steps):
            g = guided(x, t, sigma)
            z = matrix.project(torch.randn(x.shape, generator=generator))
            g_norm = g.flatten(1).norm(dim=1).mean()
            z_norm = z.flatten(1).norm(dim=1).mean()
            eps = 2 * (snr * z_norm / g_norm.clamp_min(1e-12)) ** 2
            x = x + eps * g + torch.sqrt(2 * eps) * z
        nxt = sigmas[i + 1] if i + 1 < sde.steps else torch.tensor(0.0)
        var = sigmas[i] ** 2 - nxt ** 2
        g = guided(x, t, sigma)
        x = x + var * g
        if i + 1 < sde.steps:
            x = x + var.sqrt() * matrix.project(torch.randn(x.shape, generator=generator))
        if progress:
            progress(i + 1, sde.steps)
    return x

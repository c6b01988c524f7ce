"""Flow matching (rectified flow) as pure functions.

Convention: t runs from 0 (pure noise x0 ~ N(0, I)) to 1 (data x1); the path is
x_t = (1 - t) x0 + t x1 and the target velocity is v = x1 - x0. The sampler integrates
dx/dt = v(x, t) from t = 0 to t = 1 with Euler steps; it is exact when v is constant in x and t.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

VelocityFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (x_t, t (B,)) -> v


def sample_time(batch: int, generator: torch.Generator | None = None, device=None) -> torch.Tensor:
    """Logit-normal t (Esser et al. 2024): more weight on the middle of the path than uniform."""
    return torch.sigmoid(torch.randn(batch, generator=generator, device=device))


def interpolate(x0: torch.Tensor, x1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    t = t.view(-1, *([1] * (x1.dim() - 1)))
    return (1 - t) * x0 + t * x1


def flow_matching_loss(
    velocity_fn: VelocityFn,
    x1: torch.Tensor,
    weight: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Mean squared velocity error; `weight` (broadcastable to x1) masks padded entries.

    Returns the per-sample loss (B,), so callers can drop samples (e.g. unlabelled ones).
    """
    noise = torch.randn(x1.shape, generator=generator, device=x1.device, dtype=x1.dtype)
    t = sample_time(x1.shape[0], generator, x1.device)
    v_pred = velocity_fn(interpolate(noise, x1, t), t)
    err = (v_pred - (x1 - noise)) ** 2
    if weight is None:
        weight = torch.ones_like(err)
    weight = weight.expand_as(err)
    dims = tuple(range(1, err.dim()))
    return (err * weight).sum(dims) / weight.sum(dims).clamp_min(1.0)


@torch.no_grad()
def euler_sample(velocity_fn: VelocityFn, noise: torch.Tensor, steps: int) -> torch.Tensor:
    """Integrate from noise (t=0) to data (t=1) in `steps` equal Euler steps."""
    x = noise
    dt = 1.0 / steps
    for i in range(steps):
        t = torch.full((x.shape[0],), i * dt, device=x.device, dtype=x.dtype)
        x = x + dt * velocity_fn(x, t)
    return x


class FlowMatching:
    """The functions above behind the interface every objective shares (see `wam.objectives`)."""

    def loss(self, fn: VelocityFn, x1, weight=None, generator=None) -> torch.Tensor:
        return flow_matching_loss(fn, x1, weight, generator)

    def sample(self, fn: VelocityFn, noise: torch.Tensor, steps: int) -> torch.Tensor:
        return euler_sample(fn, noise, steps)

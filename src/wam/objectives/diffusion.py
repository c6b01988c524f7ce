"""Denoising diffusion (epsilon or v targets) on diffusers' schedulers, as stateless functions.

Every objective in wam shares one time convention so that backbones and couplings never care
which one trains them: the network is called as fn(x_t, t) with t in [0, 1], 0 = pure noise and
1 = clean data (flow matching's convention). For diffusion, t = 1 - timestep / T.

diffusers provides the noise schedule (DDPMScheduler.add_noise / get_velocity for training) and
the deterministic DDIM update for sampling; a fresh scheduler is built per sampling call, so the
functions hold no state between calls.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from diffusers import DDIMScheduler, DDPMScheduler

from wam.errors import require

DenoiseFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (x_t, t (B,)) -> prediction

PREDICTIONS = ("epsilon", "v_prediction")


class Diffusion:
    """DDPM training / DDIM sampling with a cosine schedule and an epsilon or v target."""

    def __init__(self, prediction: str = "epsilon", train_timesteps: int = 100):
        require(prediction in PREDICTIONS, f"diffusion prediction must be one of {PREDICTIONS}, got {prediction!r}")
        require(train_timesteps >= 2, f"train_timesteps must be >= 2, got {train_timesteps}")
        self.prediction, self.train_timesteps = prediction, train_timesteps
        self._schedule = dict(
            num_train_timesteps=train_timesteps,
            beta_schedule="squaredcos_cap_v2",
            prediction_type=prediction,
            clip_sample=False,
            # sampling starts at the last training step (pure noise); the 'leading' default would
            # start a 10-step DDIM at step 90 of 100, from noise it treats as partly signal
            timestep_spacing="trailing",
        )
        self.train_scheduler = DDPMScheduler(**self._schedule)

    def _time(self, timesteps: torch.Tensor) -> torch.Tensor:
        return 1.0 - timesteps.float() / self.train_timesteps

    def loss(
        self,
        fn: DenoiseFn,
        x1: torch.Tensor,
        weight: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Per-sample mean squared error of the epsilon or v target (B,); `weight` masks entries."""
        noise = torch.randn(x1.shape, generator=generator, dtype=x1.dtype, device=x1.device)
        steps = torch.randint(0, self.train_timesteps, (x1.shape[0],), generator=generator).to(x1.device)
        x_t = self.train_scheduler.add_noise(x1, noise, steps)
        target = noise if self.prediction == "epsilon" else self.train_scheduler.get_velocity(x1, noise, steps)
        err = (fn(x_t, self._time(steps)) - target) ** 2
        weight = torch.ones_like(err) if weight is None else weight.expand_as(err)
        dims = tuple(range(1, err.dim()))
        return (err * weight).sum(dims) / weight.sum(dims).clamp_min(1.0)

    @torch.no_grad()
    def sample(self, fn: DenoiseFn, noise: torch.Tensor, steps: int) -> torch.Tensor:
        """Deterministic DDIM from noise to data in `steps` network calls."""
        require(1 <= steps <= self.train_timesteps, f"sampling steps must be in 1..{self.train_timesteps}, got {steps}")
        scheduler = DDIMScheduler(**self._schedule)
        scheduler.set_timesteps(steps)
        x = noise
        for step in scheduler.timesteps:
            t = self._time(torch.full((x.shape[0],), int(step)))
            x = scheduler.step(fn(x, t.to(x.device)), step, x).prev_sample
        return x

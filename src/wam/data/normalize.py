"""Normalisation at the model boundary; the statistics are buffers, so they travel in checkpoints."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from wam.errors import WamError


class Normalizer(nn.Module):
    """Maps a feature to a normalised space and back.

    mode "mean_std": (x - mean) / std.  mode "min_max": to [-1, 1] from the data's range (used for
    actions, so a generative head's samples live where its Gaussian noise does).
    """

    def __init__(self, dim: int, mode: str = "mean_std", stats: dict[str, np.ndarray] | None = None, eps: float = 1e-6):
        super().__init__()
        if mode not in ("mean_std", "min_max"):
            raise WamError(f"unknown normalisation mode '{mode}'; valid: mean_std, min_max")
        self.mode, self.eps = mode, eps
        self.register_buffer("shift", torch.zeros(dim))
        self.register_buffer("scale", torch.ones(dim))
        if stats is not None:
            self.set_stats(stats)

    def set_stats(self, stats: dict[str, np.ndarray]) -> None:
        if self.mode == "mean_std":
            shift, scale = np.asarray(stats["mean"]), np.asarray(stats["std"])
        else:
            lo, hi = np.asarray(stats["min"]), np.asarray(stats["max"])
            shift, scale = (hi + lo) / 2, (hi - lo) / 2
        if shift.shape != tuple(self.shift.shape):
            raise WamError(f"normalisation stats have shape {shift.shape}, the model expects {tuple(self.shift.shape)}")
        if not (np.all(np.isfinite(shift)) and np.all(np.isfinite(scale))):
            raise WamError("normalisation stats contain NaN or inf")
        # A constant dimension (e.g. an unused gripper) would divide by zero: leave it unscaled.
        scale = np.where(scale < self.eps, 1.0, scale)
        self.shift.copy_(torch.as_tensor(shift, dtype=torch.float32))
        self.scale.copy_(torch.as_tensor(scale, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.shift) / self.scale

    def inverse(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale + self.shift

"""A small convolutional image encoder for 64-128 px observations."""

from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F


def _block(c_in: int, c_out: int) -> nn.Sequential:
    groups = 8 if c_out % 8 == 0 else 1
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride=2, padding=1),
        nn.GroupNorm(groups, c_out),
        nn.SiLU(),
        nn.Conv2d(c_out, c_out, 3, padding=1),
        nn.GroupNorm(groups, c_out),
        nn.SiLU(),
    )


class ConvEncoder(nn.Module):
    """uint8 images (N, H, W, 3) -> features (N, D).

    Stride-2 stages halve the image until it is 4x4 (or smaller); the flattened map keeps where
    things are, which a manipulation policy needs (global pooling would throw it away).
    """

    def __init__(self, image_size: int, channels: tuple[int, ...] = (32, 64, 128, 128), out_dim: int = 256):
        super().__init__()
        stages, c_in, size = [], 3, image_size
        for c in channels:
            stages.append(_block(c_in, c))
            c_in, size = c, (size + 1) // 2
        self.stages = nn.Sequential(*stages)
        self.proj = nn.Sequential(nn.Flatten(), nn.Linear(c_in * size * size, out_dim), nn.LayerNorm(out_dim))
        self.out_dim = out_dim

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = images.permute(0, 3, 1, 2).float() / 127.5 - 1.0  # (N, 3, H, W) in [-1, 1]
        return self.proj(self.stages(x))


def random_shift(images: torch.Tensor, pad: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """DrQ-style augmentation: pad by replication and crop back at a random offset per image.

    images: uint8 or float (N, H, W, C). The same shift is used for every frame of one sample when
    the caller folds time into N with a repeated generator draw (see the policy).
    """
    n, h, w, _ = images.shape
    x = F.pad(images.permute(0, 3, 1, 2).float(), (pad, pad, pad, pad), mode="replicate")
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=generator)
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=generator)
    rows = (dy[:, None] + torch.arange(h)[None]).clamp(max=h + 2 * pad - 1)  # (N, H)
    cols = (dx[:, None] + torch.arange(w)[None]).clamp(max=w + 2 * pad - 1)  # (N, W)
    batch = torch.arange(n)[:, None, None]
    out = x.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]]  # (N, H, W, C)
    return out

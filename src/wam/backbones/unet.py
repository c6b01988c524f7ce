"""A small conv U-Net with FiLM conditioning, for image-shaped predictions (frames or latents).

(x (B, C_in, H, W), cond (B, D)) -> (B, C_out, H, W). Conditioning images (the current frame or
its latent) are concatenated to x on channels by the caller; the conditioning vector (time
embedding + observation + task) scales and shifts every residual block (FiLM). H and W must be
divisible by 2 ** (levels - 1).
"""

from __future__ import annotations

import torch
from torch import nn

from wam.errors import require


def _groups(c: int) -> int:
    return 8 if c % 8 == 0 else 1


class ResBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, cond_dim: int):
        super().__init__()
        self.norm1 = nn.GroupNorm(_groups(c_in), c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.film = nn.Linear(cond_dim, 2 * c_out)
        self.norm2 = nn.GroupNorm(_groups(c_out), c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        nn.init.zeros_(self.conv2.weight)  # each block starts as (a projection of) the identity
        nn.init.zeros_(self.conv2.bias)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()
        self.act = nn.SiLU()

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        h = self.conv1(self.act(self.norm1(x)))
        scale, shift = self.film(cond)[:, :, None, None].chunk(2, dim=1)
        h = self.norm2(h) * (1 + scale) + shift
        return self.skip(x) + self.conv2(self.act(h))


class UNet(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, cond_dim: int, channels: tuple[int, ...] = (64, 128, 128)):
        super().__init__()
        require(len(channels) >= 1, "U-Net needs at least one level")
        self.levels = len(channels)
        self.inp = nn.Conv2d(in_channels, channels[0], 3, padding=1)
        self.down = nn.ModuleList()
        self.downsample = nn.ModuleList()
        c = channels[0]
        for i, c_level in enumerate(channels):
            self.down.append(ResBlock(c, c_level, cond_dim))
            c = c_level
            last = i == len(channels) - 1
            self.downsample.append(nn.Identity() if last else nn.Conv2d(c, c, 3, stride=2, padding=1))
        self.mid = ResBlock(c, c, cond_dim)
        self.up = nn.ModuleList()
        self.upsample = nn.ModuleList()
        for i, c_level in reversed(list(enumerate(channels))):
            self.up.append(ResBlock(c + c_level, c_level, cond_dim))
            c = c_level
            self.upsample.append(nn.Upsample(scale_factor=2, mode="nearest") if i > 0 else nn.Identity())
        self.out = nn.Sequential(nn.GroupNorm(_groups(c), c), nn.SiLU(), nn.Conv2d(c, out_channels, 3, padding=1))

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        div = 2 ** (self.levels - 1)
        require(
            x.shape[-1] % div == 0 and x.shape[-2] % div == 0,
            f"U-Net input {tuple(x.shape[-2:])} must be divisible by {div}",
        )
        h = self.inp(x)
        skips = []
        for block, down in zip(self.down, self.downsample):
            h = block(h, cond)
            skips.append(h)
            h = down(h)
        h = self.mid(h, cond)
        for block, up in zip(self.up, self.upsample):
            h = block(torch.cat([h, skips.pop()], dim=1), cond)
            h = up(h)
        return self.out(h)

"""Pixel-latent substrate: a small image autoencoder trained on our own datasets.

A WAM that predicts in this latent space keeps a fixed decoder back to pixels, which is what
makes the latent "pixel-grounded" in the survey's sense (GR-1, UWM, PAD use a pretrained VAE; no
weights can be downloaded here, so it is trained here: `wam train --model autoencoder`, see
wam.models.autoencoder).

Shapes: uint8 frames (N, H, W, 3) <-> latents (N, C_z, H/f, W/f), f = 2 ** len(channels).
Latents are returned normalised by a per-channel scale estimated during training (a buffer, so it
travels with the checkpoint), so the generators downstream see roughly unit-variance targets.
"""

from __future__ import annotations

import torch
from torch import nn


def _groups(c: int) -> int:
    return 8 if c % 8 == 0 else 1


class ImageAutoencoder(nn.Module):
    def __init__(self, channels: tuple[int, ...] = (16, 32, 64), latent_channels: int = 8):
        super().__init__()
        layers, c_in = [], 3
        for c in channels:
            layers += [nn.Conv2d(c_in, c, 4, stride=2, padding=1), nn.GroupNorm(_groups(c), c), nn.SiLU()]
            layers += [nn.Conv2d(c, c, 3, padding=1), nn.GroupNorm(_groups(c), c), nn.SiLU()]
            c_in = c
        layers.append(nn.Conv2d(c_in, latent_channels, 1))
        self.encoder = nn.Sequential(*layers)
        layers = [nn.Conv2d(latent_channels, c_in, 3, padding=1), nn.SiLU()]
        for c in reversed(channels):
            layers += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c_in, c, 3, padding=1)]
            layers += [nn.GroupNorm(_groups(c), c), nn.SiLU(), nn.Conv2d(c, c, 3, padding=1), nn.SiLU()]
            c_in = c
        layers.append(nn.Conv2d(c_in, 3, 3, padding=1))
        self.decoder = nn.Sequential(*layers)
        self.downsample = 2 ** len(channels)
        self.latent_channels = latent_channels
        # Per-channel scale of the raw latent (EMA over training batches); encode() divides by it.
        self.register_buffer("latent_scale", torch.ones(latent_channels))

    @staticmethod
    def to_unit(images: torch.Tensor) -> torch.Tensor:
        """uint8 (N, H, W, 3) -> float (N, 3, H, W) in [-1, 1]."""
        return images.permute(0, 3, 1, 2).float() / 127.5 - 1.0

    @staticmethod
    def to_uint8(x: torch.Tensor) -> torch.Tensor:
        """float (N, 3, H, W) in [-1, 1] -> uint8 (N, H, W, 3)."""
        return ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1)

    def encode_raw(self, images: torch.Tensor) -> torch.Tensor:
        return self.encoder(self.to_unit(images))

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 frames (N, H, W, 3) -> normalised latents (N, C_z, H/f, W/f)."""
        return self.encode_raw(images) / self.latent_scale[None, :, None, None]

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Normalised latents -> frames in [-1, 1], (N, 3, H, W)."""
        return self.decoder(latents * self.latent_scale[None, :, None, None])

    def latent_shape(self, image_size: int) -> tuple[int, int, int]:
        return (self.latent_channels, image_size // self.downsample, image_size // self.downsample)

"""Pixel substrate: the future lives in the frames themselves (UniPi / AVDC).

encode: uint8 (N, H, W, 3) -> (N, 3, H, W) in [-1, 1]; decode is the inverse (the identity map is
the "fixed decoder" that makes any prediction here pixel-grounded by definition).
"""

from __future__ import annotations

import torch
from torch import nn

from wam.substrates.autoencoder import ImageAutoencoder


class PixelSubstrate(nn.Module):
    trainable = False

    def __init__(self, image_size: int):
        super().__init__()
        self.image_size = image_size

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        return ImageAutoencoder.to_unit(images)

    def decode(self, x: torch.Tensor) -> torch.Tensor:
        return x.clamp(-1.0, 1.0)

    @property
    def shape(self) -> tuple[int, int, int]:
        return (3, self.image_size, self.image_size)

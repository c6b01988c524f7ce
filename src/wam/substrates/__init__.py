"""Substrates: where a predicted future lives, and the fixed map back to pixels.

Every substrate module has encode(uint8 frames (N, H, W, 3)) -> maps (N, C, h, w),
decode(maps) -> frames in [-1, 1] (N, 3, H, W), and `shape` = (C, h, w). Chosen by name:
    pixels       raw frames (pixel, decoded)
    autoencoder  latents of a frozen autoencoder trained here (pixel latent)
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from wam.anatomy import Substrate
from wam.errors import WamError, unknown_choice
from wam.substrates.autoencoder import ImageAutoencoder
from wam.substrates.pixels import PixelSubstrate

SUBSTRATES = {"pixels": Substrate.PIXEL, "autoencoder": Substrate.PIXEL_LATENT}


class LatentSubstrate(nn.Module):
    """A frozen autoencoder as a substrate; its weights are part of the owning model's checkpoint."""

    def __init__(self, image_size: int, channels: tuple[int, ...], latent_channels: int):
        super().__init__()
        self.net = ImageAutoencoder(channels, latent_channels)
        self.net.requires_grad_(False)
        self.image_size = image_size

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        return self.net.encode(images)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.net.decode(z).clamp(-1.0, 1.0)

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.net.latent_shape(self.image_size)

    def train(self, mode: bool = True):  # frozen: GroupNorm has no running stats, but stay in eval
        return super().train(False)

    def load_from(self, folder: str | Path, image_shape: tuple[int, ...]) -> None:
        """Copy a trained `autoencoder` checkpoint in; its architecture and image size must match."""
        from wam.train.checkpoint import load_model

        if not Path(folder).is_dir():
            raise WamError(
                f"autoencoder checkpoint not found: {folder} (train one with `wam train --model autoencoder`, "
                "or point --model-overrides autoencoder=... at it)"
            )
        model, meta = load_model(folder)
        if meta["model"] != "autoencoder":
            raise WamError(f"{folder} holds a '{meta['model']}' checkpoint, not an autoencoder")
        if tuple(model.spec.image_shape) != tuple(image_shape):
            raise WamError(
                f"autoencoder {folder} was trained on {tuple(model.spec.image_shape)} images, this dataset has {tuple(image_shape)}"
            )
        own = {k: v.shape for k, v in self.net.state_dict().items()}
        theirs = {k: v.shape for k, v in model.net.state_dict().items()}
        if own != theirs:
            raise WamError(
                f"autoencoder {folder} does not match this model's substrate settings "
                f"(autoencoder_channels / latent_channels): set them to the checkpoint's {meta['config']}"
            )
        self.net.load_state_dict(model.net.state_dict())


def make_substrate(name: str, image_size: int, channels: tuple[int, ...], latent_channels: int) -> nn.Module:
    if name not in SUBSTRATES:
        raise unknown_choice("substrate", name, SUBSTRATES)
    if name == "pixels":
        return PixelSubstrate(image_size)
    return LatentSubstrate(image_size, channels, latent_channels)

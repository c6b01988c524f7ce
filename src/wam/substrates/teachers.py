"""Teachers: the encoders whose embedding of the real future a teacher-target WAM predicts
(substrate: feature, teacher). Chosen by name:

    ema          an exponential moving average of the student's own image encoder (BYOL / JEPA style);
                 follows the student after every optimiser step
    autoencoder  the frozen encoder of the autoencoder substrate trained here (`wam train --model
                 autoencoder`); its flattened latent map is the target

FLARE aligns with a frozen pretrained vision encoder (SigLIP-class); no pretrained weights can be
downloaded here, so both teachers are trained on our own data. Every teacher has
`embed(uint8 frames (N, H, W, 3)) -> (N, dim)`, `follow(student_encoder)` (after each optimiser
step) and `load_pretrained(image_shape)` (before training); it never gets gradients.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from wam.backbones.conv import ConvEncoder
from wam.errors import require, unknown_choice
from wam.substrates import LatentSubstrate

TEACHERS = {
    "ema": "EMA of the student's image encoder",
    "autoencoder": "frozen encoder of the autoencoder substrate trained here",
}


class EmaTeacher(nn.Module):
    def __init__(self, student: ConvEncoder, momentum: float):
        super().__init__()
        require(0 <= momentum < 1, f"teacher_momentum must be in [0, 1), got {momentum}")
        self.net = copy.deepcopy(student).requires_grad_(False)
        self.momentum = momentum
        self.dim = student.out_dim

    @torch.no_grad()
    def embed(self, frames: torch.Tensor) -> torch.Tensor:
        return self.net(frames)

    @torch.no_grad()
    def follow(self, student: ConvEncoder) -> None:
        for mine, theirs in zip(self.net.parameters(), student.parameters()):
            mine.lerp_(theirs, 1.0 - self.momentum)

    def load_pretrained(self, image_shape: tuple[int, ...]) -> None:
        pass  # starts as a copy of the student


class AutoencoderTeacher(nn.Module):
    def __init__(self, image_size: int, channels: tuple[int, ...], latent_channels: int, folder: str):
        super().__init__()
        self.substrate = LatentSubstrate(image_size, channels, latent_channels)
        c, h, w = self.substrate.shape
        self.dim = c * h * w
        self.folder = folder

    @torch.no_grad()
    def embed(self, frames: torch.Tensor) -> torch.Tensor:
        return self.substrate.encode(frames).flatten(1)

    def follow(self, student: ConvEncoder) -> None:
        pass  # frozen

    def load_pretrained(self, image_shape: tuple[int, ...]) -> None:
        self.substrate.load_from(self.folder, image_shape)


def make_teacher(name: str, student: ConvEncoder, image_size: int, momentum: float,
                 autoencoder: str, channels: tuple[int, ...], latent_channels: int) -> nn.Module:
    if name not in TEACHERS:
        raise unknown_choice("teacher", name, TEACHERS)
    if name == "ema":
        return EmaTeacher(student, momentum)
    return AutoencoderTeacher(image_size, channels, latent_channels, autoencoder)

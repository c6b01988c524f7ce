"""Small convolutional image encoders (64-128 px observations) and a frame decoder."""

from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F

from wam.errors import require
from wam.substrates.autoencoder import ImageAutoencoder


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


class SpatialSoftmax(nn.Module):
    """Feature map (N, C, H, W) -> K keypoints (N, 2K): the expected (x, y) of K learned heatmaps.

    Explicit image coordinates generalise across object and goal positions seen only a few dozen
    times in the demonstrations (Levine et al. 2016; robomimic and Diffusion Policy's encoders).
    """

    def __init__(self, channels: int, keypoints: int):
        super().__init__()
        self.heatmaps = nn.Conv2d(channels, keypoints, 1)
        self.log_temperature = nn.Parameter(torch.zeros(()))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        n, _, h, w = features.shape
        logits = self.heatmaps(features).flatten(2) / self.log_temperature.exp()  # (N, K, H*W)
        attention = logits.softmax(-1)
        ys, xs = torch.meshgrid(
            torch.linspace(-1.0, 1.0, h, device=features.device),
            torch.linspace(-1.0, 1.0, w, device=features.device),
            indexing="ij",
        )
        grid = torch.stack([xs.flatten(), ys.flatten()], -1)  # (H*W, 2)
        return (attention @ grid).flatten(1)  # (N, 2K)


class ConvEncoder(nn.Module):
    """uint8 images (N, H, W, 3) -> features (N, D).

    Stride-2 stages halve the image until it is 4x4 (or smaller); the flattened map keeps where
    things are, which a manipulation policy needs (global pooling would throw it away). With
    `keypoints > 0`, a spatial-softmax head on the map after `keypoint_stage` stages adds
    sub-pixel coordinates of K learned keypoints (a goal marker of a few pixels at 64 px is
    blurred away by the last stages but located precisely at 16x16).
    """

    def __init__(
        self,
        image_size: int,
        channels: tuple[int, ...] = (32, 64, 128, 128),
        out_dim: int = 256,
        keypoints: int = 0,
        keypoint_stage: int = 2,
        in_channels: int = 3,
    ):
        super().__init__()
        require(
            keypoints == 0 or 1 <= keypoint_stage <= len(channels),
            f"keypoint_stage must be in 1..{len(channels)} (the number of encoder stages), got {keypoint_stage}",
        )
        stages, c_in, size = [], in_channels, image_size
        for c in channels:
            stages.append(_block(c_in, c))
            c_in, size = c, (size + 1) // 2
        self.stages = nn.ModuleList(stages)
        self.keypoint_stage = keypoint_stage
        self.keypoints = SpatialSoftmax(channels[keypoint_stage - 1], keypoints) if keypoints else None
        flat = c_in * size * size + 2 * keypoints
        self.proj = nn.Sequential(nn.Flatten(), nn.Linear(flat, out_dim), nn.LayerNorm(out_dim))
        self.out_dim = out_dim

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 images (N, H, W, 3) -> (N, D)."""
        return self.encode_maps(images.permute(0, 3, 1, 2).float() / 127.5 - 1.0)

    def encode_maps(self, x: torch.Tensor) -> torch.Tensor:
        """float maps (N, C, H, W), e.g. frames in [-1, 1] or autoencoder latents -> (N, D)."""
        parts = []
        for i, stage in enumerate(self.stages, start=1):
            x = stage(x)
            if self.keypoints is not None and i == self.keypoint_stage:
                parts.append(self.keypoints(x))
        parts.insert(0, x.flatten(1))
        return self.proj(torch.cat(parts, dim=-1))


def random_shift(images: torch.Tensor, pad: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """DrQ-style augmentation: pad by replication and crop back at a random offset per image.

    images: uint8 or float (N, H, W, C), one shift per image. To shift several frames of a sample
    together, stack them on C first (see `wam.conditioning.shift_images`).
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


def check_frame_size(size: int) -> None:
    """FrameDecoder sizes: 4 px doubled by each stage."""
    require(size >= 8 and size & (size - 1) == 0, f"future_size must be a power of two >= 8, got {size}")


class FrameDecoder(nn.Module):
    """A code (N, D) -> a frame (N, 3, S, S) in [-1, 1] (roughly): linear to 4x4, then x2 upsampling.
    `target` turns real frames into what it predicts."""

    def __init__(self, code_dim: int, size: int, channels: tuple[int, ...] = (64, 64, 32, 16)):
        super().__init__()
        check_frame_size(size)
        self.size = size
        stages = size.bit_length() - 3  # 4 -> size
        widths = list(channels[: stages + 1]) + [channels[-1]] * max(0, stages + 1 - len(channels))
        self.widths = widths
        self.inp = nn.Linear(code_dim, widths[0] * 16)
        layers = []
        for c_in, c_out in zip(widths[:-1], widths[1:]):
            layers += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c_in, c_out, 3, padding=1),
                       nn.GroupNorm(8 if c_out % 8 == 0 else 1, c_out), nn.SiLU()]
        self.up = nn.Sequential(*layers)
        self.out = nn.Conv2d(widths[-1], 3, 3, padding=1)

    def forward(self, code: torch.Tensor) -> torch.Tensor:
        x = self.inp(code).view(code.shape[0], self.widths[0], 4, 4)
        return self.out(self.up(x))

    def target(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 frames (N, H, W, 3) -> (N, 3, S, S) in [-1, 1], area-downsampled to this decoder's size."""
        x = ImageAutoencoder.to_unit(images)
        return x if x.shape[-1] == self.size else F.interpolate(x, size=(self.size, self.size), mode="area")

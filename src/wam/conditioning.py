"""Conditioning shared by every model: image history, proprio history, task id, instruction.

`ObservationConfig` holds the fields; a model config inherits them, so every model reads its
observation the same way and a comparison between couplings differs only in the coupling.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from wam.backbones.conv import ConvEncoder, random_shift
from wam.data.cache import DataSpec
from wam.data.language import EMBEDDING_DIM
from wam.errors import require
from wam.models.base import ModelConfig


@dataclass
class ObservationConfig(ModelConfig):
    n_obs_steps: int = 2
    """observation history To (proprio; images use the last `image_history` of these)"""
    image_history: int = 1
    """frames the image encoder reads (the encoder dominates training cost on CPU)"""
    image_features: int = 256
    """image encoder output width per frame"""
    encoder_channels: tuple[int, ...] = (32, 64, 128, 128)
    """conv encoder stage widths (each halves the resolution)"""
    keypoints: int = 0
    """spatial-softmax keypoints read after `keypoint_stage` encoder stages (0: off; see docs/design.md)"""
    keypoint_stage: int = 2
    """encoder stage whose feature map the keypoints are read from (2: 16x16 at 64 px)"""
    cond_dim: int = 256
    """width of the conditioning vector (image + proprio + task)"""
    task_embedding_dim: int = 64
    """learned task-id embedding width"""
    instruction_embedding: bool = False
    """also condition on an offline MiniLM sentence embedding of the instruction (needs wam[language])"""
    shift_pad: int = 4
    """random-shift augmentation in pixels (0 disables)"""

    def validate(self) -> None:
        require(self.n_obs_steps >= 1, f"n_obs_steps must be >= 1, got {self.n_obs_steps}")
        require(
            1 <= self.image_history <= self.n_obs_steps,
            f"image_history must be in 1..n_obs_steps ({self.n_obs_steps}), got {self.image_history}",
        )
        require(self.keypoints >= 0, f"keypoints must be >= 0, got {self.keypoints}")
        require(self.shift_pad >= 0, f"shift_pad must be >= 0, got {self.shift_pad}")
        require(len(self.encoder_channels) >= 1, "encoder_channels must name at least one stage")
        require(all(c >= 1 for c in self.encoder_channels), f"encoder_channels must be >= 1, got {self.encoder_channels}")
        for name in ("image_features", "cond_dim", "task_embedding_dim"):
            require(getattr(self, name) >= 1, f"{name} must be >= 1, got {getattr(self, name)}")


def shift_images(images: torch.Tensor, pad: int) -> torch.Tensor:
    """Random shift (B, T, H, W, 3), one shift per sample shared by its T frames, so the motion
    between frames (history or futures) stays real."""
    b, t, h, w, c = images.shape
    stacked = images.permute(0, 2, 3, 1, 4).reshape(b, h, w, t * c)  # (B, H, W, T*3)
    shifted = random_shift(stacked, pad)
    return shifted.view(b, h, w, t, c).permute(0, 3, 1, 2, 4)  # (B, T, H, W, 3)


def shift_with_futures(batch: dict[str, torch.Tensor], pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch's history and future frames, (B, To, H, W, 3) and (B, F, H, W, 3), randomly shifted
    together (one shift per sample), so the motion between the present and its futures stays real."""
    frames = torch.cat([batch["image"], batch["future_image"]], dim=1)
    if pad > 0:
        frames = shift_images(frames, pad)
    to = batch["image"].shape[1]
    return frames[:, :to], frames[:, to:]


class ObservationEncoder(nn.Module):
    """(images (B, Ti, H, W, 3), normalised state (B, To, S), task (B,)) -> conditioning (B, cond_dim)."""

    def __init__(self, cfg: ObservationConfig, spec: DataSpec):
        super().__init__()
        self.images = ConvEncoder(
            spec.image_shape[0], tuple(cfg.encoder_channels), cfg.image_features, cfg.keypoints, cfg.keypoint_stage
        )
        self.task = nn.Embedding(max(1, len(spec.task_names)), cfg.task_embedding_dim)
        self.instruction = None
        if cfg.instruction_embedding:
            # Filled by `set_instruction_embeddings` before training; saved in the checkpoint.
            self.register_buffer("instruction_table", torch.zeros(len(spec.task_names), EMBEDDING_DIM))
            self.instruction = nn.Linear(EMBEDDING_DIM, cfg.task_embedding_dim)
        in_dim = cfg.image_history * cfg.image_features + cfg.n_obs_steps * spec.state_dim + cfg.task_embedding_dim
        self.fuse = nn.Sequential(nn.Linear(in_dim, cfg.cond_dim), nn.SiLU(), nn.Linear(cfg.cond_dim, cfg.cond_dim))

    def forward(self, images: torch.Tensor, state: torch.Tensor, task: torch.Tensor) -> torch.Tensor:
        b, ti = images.shape[:2]
        feats = self.images(images.flatten(0, 1)).view(b, ti, -1)  # (B, Ti, D)
        task_code = self.task(task)
        if self.instruction is not None:  # the task id stays beside the sentence embedding
            task_code = task_code + self.instruction(self.instruction_table[task])
        x = torch.cat([feats.flatten(1), state.flatten(1), task_code], dim=-1)
        return self.fuse(x)

    def set_instruction_embeddings(self, table: torch.Tensor) -> None:
        """(num_tasks, 384) sentence embeddings of the task names, in task_index order."""
        if self.instruction is not None:
            self.instruction_table.copy_(torch.as_tensor(table, dtype=torch.float32))

"""The policy-only baseline: a flow-matching action-chunk policy (coupling: none).

Lineage: Diffusion Policy (Chi et al. 2023) predicts action chunks by denoising; pi0's action
expert (Black et al. 2024) uses flow matching instead of DDPM. Here: a small conv encoder reads
the last To frames, proprio and a task embedding; a FiLM residual MLP is the velocity field over
the flattened chunk (K x A); 10 Euler steps at inference.

It predicts no future, so it is registered as a policy, not a WAM: every WAM must beat it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from wam.anatomy import Anatomy, Backbone, Coupling, Regime, Substrate
from wam.backbones.conv import ConvEncoder, random_shift
from wam.backbones.mlp import FiLMResMLP
from wam.data.cache import DataSpec, WindowSpec
from wam.data.language import EMBEDDING_DIM
from wam.data.normalize import Normalizer
from wam.errors import require
from wam.models.base import ModelConfig, WamModel, register
from wam.objectives.flow_matching import euler_sample, flow_matching_loss


@dataclass
class FlowPolicyConfig(ModelConfig):
    n_obs_steps: int = 2
    """observation history To (proprio; images use the last `image_history` of these)"""
    image_history: int = 1
    """frames the image encoder reads (the encoder dominates training cost on CPU)"""
    chunk: int = 16
    """action chunk length K predicted per call"""
    image_features: int = 256
    """image encoder output width per frame"""
    encoder_channels: tuple[int, ...] = (32, 64, 128, 128)
    """conv encoder stage widths (each halves the resolution)"""
    cond_dim: int = 256
    """width of the conditioning vector (image + proprio + task)"""
    task_embedding_dim: int = 64
    """learned task-id embedding width"""
    instruction_embedding: bool = False
    """also condition on an offline MiniLM sentence embedding of the instruction (needs wam[language])"""
    width: int = 512
    """velocity MLP width"""
    depth: int = 3
    """velocity MLP residual blocks"""
    noise_samples: int = 4
    """flow-matching noise draws per observation per step (the encoder runs once)"""
    sampling_steps: int = 10
    """Euler steps at inference"""
    shift_pad: int = 4
    """random-shift augmentation in pixels (0 disables)"""

    def validate(self) -> None:
        require(self.n_obs_steps >= 1, f"n_obs_steps must be >= 1, got {self.n_obs_steps}")
        require(
            1 <= self.image_history <= self.n_obs_steps,
            f"image_history must be in 1..n_obs_steps ({self.n_obs_steps}), got {self.image_history}",
        )
        require(self.chunk >= 1, f"chunk must be >= 1, got {self.chunk}")
        require(self.noise_samples >= 1, f"noise_samples must be >= 1, got {self.noise_samples}")
        require(self.sampling_steps >= 1, f"sampling_steps must be >= 1, got {self.sampling_steps}")
        require(self.shift_pad >= 0, f"shift_pad must be >= 0, got {self.shift_pad}")
        require(len(self.encoder_channels) >= 1, "encoder_channels must name at least one stage")
        for name in ("image_features", "cond_dim", "task_embedding_dim", "width", "depth"):
            require(getattr(self, name) >= 1, f"{name} must be >= 1, got {getattr(self, name)}")
        require(all(c >= 1 for c in self.encoder_channels), f"encoder_channels must be >= 1, got {self.encoder_channels}")


class ObservationEncoder(nn.Module):
    """(images (B, Ti, H, W, 3), state (B, To, S), task (B,)) -> conditioning (B, cond_dim)."""

    def __init__(self, cfg: FlowPolicyConfig, spec: DataSpec):
        super().__init__()
        self.images = ConvEncoder(spec.image_shape[0], tuple(cfg.encoder_channels), cfg.image_features)
        self.task = nn.Embedding(max(1, len(spec.task_names)), cfg.task_embedding_dim)
        self.instruction = None
        if cfg.instruction_embedding:
            # Filled by `set_instruction_embeddings` before training; saved in the checkpoint.
            self.register_buffer("instruction_table", torch.zeros(len(spec.task_names), EMBEDDING_DIM))
            self.instruction = nn.Linear(EMBEDDING_DIM, cfg.task_embedding_dim)
        in_dim = cfg.image_history * cfg.image_features + cfg.n_obs_steps * spec.state_dim + cfg.task_embedding_dim
        self.fuse = nn.Sequential(nn.Linear(in_dim, cfg.cond_dim), nn.SiLU(), nn.Linear(cfg.cond_dim, cfg.cond_dim))

    def forward(self, images: torch.Tensor, state: torch.Tensor, task: torch.Tensor) -> torch.Tensor:
        b, to = images.shape[:2]
        feats = self.images(images.flatten(0, 1)).view(b, to, -1)  # (B, To, D)
        task_code = self.task(task)
        if self.instruction is not None:  # the task id stays beside the sentence embedding
            task_code = task_code + self.instruction(self.instruction_table[task])
        x = torch.cat([feats.flatten(1), state.flatten(1), task_code], dim=-1)
        return self.fuse(x)


@register
class FlowPolicy(WamModel):
    name = "flow-policy"
    anatomy = Anatomy(
        substrate=Substrate.NONE,
        coupling=Coupling.NONE,
        backbone=Backbone.DIFFUSION,
        regimes=(Regime.CHUNKED, Regime.OPEN_LOOP, Regime.SINGLE_STEP),
        lineage="Diffusion Policy / pi0 action expert (policy-only baseline)",
    )
    config_class = FlowPolicyConfig

    def __init__(self, config: FlowPolicyConfig, spec: DataSpec):
        super().__init__(config, spec)
        self.state_norm = Normalizer(spec.state_dim, "mean_std")
        self.action_norm = Normalizer(spec.action_dim, "min_max")
        self.encoder = ObservationEncoder(config, spec)
        self.velocity = FiLMResMLP(
            in_dim=config.chunk * spec.action_dim,
            out_dim=config.chunk * spec.action_dim,
            cond_dim=config.cond_dim,
            width=config.width,
            depth=config.depth,
        )

    @property
    def window(self) -> WindowSpec:
        return WindowSpec(n_obs_steps=self.config.n_obs_steps, chunk=self.config.chunk)

    def set_normalization(self, stats: dict[str, dict]) -> None:
        if self.spec.state_dim:
            self.state_norm.set_stats(stats["state"])
        self.action_norm.set_stats(stats["action"])

    def set_instruction_embeddings(self, table: torch.Tensor) -> None:
        """(num_tasks, 384) sentence embeddings of `spec.task_names`, in task_index order."""
        if self.encoder.instruction is None:
            return
        self.encoder.instruction_table.copy_(torch.as_tensor(table, dtype=torch.float32))

    def condition(self, obs: dict[str, torch.Tensor], augment: bool = False) -> torch.Tensor:
        images = obs["image"][:, -self.config.image_history :]  # (B, Ti, H, W, 3)
        if augment and self.config.shift_pad > 0:
            # One shift per sample, shared by its To frames (stacked on channels), so the motion
            # between frames stays real.
            b, to, h, w, c = images.shape
            stacked = images.permute(0, 2, 3, 1, 4).reshape(b, h, w, to * c)  # (B, H, W, To*3)
            shifted = random_shift(stacked, self.config.shift_pad)
            images = shifted.view(b, h, w, to, c).permute(0, 3, 1, 2, 4)  # (B, To, H, W, 3)
        return self.encoder(images, self.state_norm(obs["state"]), obs["task_index"])

    def loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        labelled = batch["labelled"]
        cond = self.condition(batch, augment=True)  # (B, C)
        x1 = self.action_norm(batch["action"]).flatten(1)  # (B, K*A)
        weight = (~batch["action_is_pad"]).float().repeat_interleave(self.spec.action_dim, dim=1)
        n = self.config.noise_samples
        per_sample = flow_matching_loss(
            lambda x, t: self.velocity(x, t, cond.repeat_interleave(n, 0)),
            x1.repeat_interleave(n, 0),
            weight=weight.repeat_interleave(n, 0),
        ).view(-1, n).mean(1)  # (B,)
        # A policy learns only from labelled samples; unlabelled ones contribute exactly zero.
        loss = (per_sample * labelled.float()).sum() / labelled.float().sum().clamp_min(1.0)
        return loss, {"action_loss": float(loss.detach())}

    @torch.no_grad()
    def act(self, observation: dict[str, torch.Tensor], generator: torch.Generator | None = None) -> torch.Tensor:
        cond = self.condition(observation)
        b = cond.shape[0]
        noise = torch.randn(b, self.config.chunk * self.spec.action_dim, generator=generator)
        x1 = euler_sample(lambda x, t: self.velocity(x, t, cond), noise, self.config.sampling_steps)
        return self.action_norm.inverse(x1.view(b, self.config.chunk, self.spec.action_dim))

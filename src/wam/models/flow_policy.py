"""The policy-only baseline: a flow-matching action-chunk policy (coupling: none).

Lineage: Diffusion Policy (Chi et al. 2023) predicts action chunks by denoising; pi0's action
expert (Black et al. 2024) uses flow matching instead of DDPM. Here: a small conv encoder reads
the last frame, the proprio history and a task embedding; a FiLM residual MLP is the velocity
field over the flattened chunk (K x A); 10 Euler steps at inference.

It predicts no future, so it is registered as a policy, not a WAM: every WAM must beat it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from wam.action_head import ActionFlowHead
from wam.anatomy import Anatomy, Backbone, Coupling, Regime, Substrate
from wam.conditioning import ObservationConfig, ObservationEncoder, shift_images
from wam.data.cache import DataSpec, WindowSpec
from wam.data.normalize import Normalizer
from wam.errors import require
from wam.models.base import WamModel, parse_number, register


@dataclass
class FlowPolicyConfig(ObservationConfig):
    chunk: int = 16
    """action chunk length K predicted per call"""
    width: int = 512
    """velocity MLP width"""
    depth: int = 3
    """velocity MLP residual blocks"""
    noise_samples: int = 4
    """flow-matching noise draws per observation per step (the encoder runs once)"""
    sampling_steps: int = 10
    """Euler steps at inference"""

    def validate(self) -> None:
        super().validate()
        for name in ("chunk", "width", "depth", "noise_samples", "sampling_steps"):
            require(getattr(self, name) >= 1, f"{name} must be >= 1, got {getattr(self, name)}")


@register
class FlowPolicy(WamModel):
    name = "flow-policy"
    anatomy = Anatomy(
        substrate=Substrate.NONE,
        coupling=Coupling.NONE,
        backbone=Backbone.DIFFUSION,
        regimes=(Regime.CHUNKED, Regime.SINGLE_STEP),
        lineage="Diffusion Policy / pi0 action expert",
    )
    config_class = FlowPolicyConfig
    runtime_options = {
        "sampling_steps": "Euler steps per call >= 1 (default: the config's sampling_steps)",
        "noise_scale": "scale of the initial noise in [0, 1]: 1 samples the learnt distribution, 0 its prior mode",
    }

    def __init__(self, config: FlowPolicyConfig, spec: DataSpec):
        super().__init__(config, spec)
        self.state_norm = Normalizer(spec.state_dim, "mean_std")
        self.encoder = ObservationEncoder(config, spec)
        self.head = ActionFlowHead(
            spec.action_dim, config.chunk, config.cond_dim, config.width, config.depth, config.noise_samples
        )
        self.noise_scale = 1.0  # a runtime option, not part of the checkpoint

    @property
    def window(self) -> WindowSpec:
        return WindowSpec(n_obs_steps=self.config.n_obs_steps, chunk=self.config.chunk)

    def set_normalization(self, stats: dict[str, dict]) -> None:
        if self.spec.state_dim:
            self.state_norm.set_stats(stats["state"])
        self.head.action_norm.set_stats(stats["action"])

    def upgrade_state_dict(self, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        # Before the shared action head existed (first release), its tensors sat at the top level.
        return {("head." + k if k.startswith(("velocity.", "action_norm.")) else k): v for k, v in tensors.items()}

    def set_runtime_option(self, name: str, value: str) -> None:
        if name == "sampling_steps":
            self.config.sampling_steps = parse_number(name, value, int, 1)
        elif name == "noise_scale":
            self.noise_scale = parse_number(name, value, float, 0.0, 1.0)
        else:
            super().set_runtime_option(name, value)

    def runtime_values(self) -> dict[str, str]:
        return {"sampling_steps": str(self.config.sampling_steps), "noise_scale": str(self.noise_scale)}

    def condition(self, obs: dict[str, torch.Tensor], augment: bool = False) -> torch.Tensor:
        images = obs["image"][:, -self.config.image_history :]  # (B, Ti, H, W, 3)
        if augment and self.config.shift_pad > 0:
            images = shift_images(images, self.config.shift_pad)
        return self.encoder(images, self.state_norm(obs["state"]), obs["task_index"])

    def loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        loss = self.head.loss(self.condition(batch, augment=True), batch)
        return loss, {"action_loss": float(loss.detach())}

    @torch.no_grad()
    def act(self, observation: dict[str, torch.Tensor], generator: torch.Generator | None = None) -> torch.Tensor:
        return self.head.sample(self.condition(observation), self.config.sampling_steps, generator, self.noise_scale)

    @torch.no_grad()
    def propose(self, observation: dict[str, torch.Tensor], n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        # The encoder runs once; only the flow head sees n noise draws.
        cond = self.condition(observation).expand(n, -1)
        return self.head.sample(cond, self.config.sampling_steps, generator, self.noise_scale)

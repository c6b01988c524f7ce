"""The autoencoder substrate as a trainable model: `wam train --model autoencoder`.

It trains with the shared trainer on the same datasets as the WAMs (action labels unused), and
its checkpoint is what latent WAMs name in their `autoencoder` setting. It is a component
(role "substrate"), not a policy: it cannot act or be evaluated closed-loop.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from wam.anatomy import Anatomy, Backbone, Coupling, Substrate
from wam.data.cache import DataSpec, WindowSpec
from wam.errors import WamError, require
from wam.models.base import ModelConfig, WamModel, register
from wam.substrates.autoencoder import ImageAutoencoder


@dataclass
class AutoencoderConfig(ModelConfig):
    channels: tuple[int, ...] = (16, 32, 64)
    """encoder stage widths; each halves the resolution (64 px -> 8x8 latents with three)"""
    latent_channels: int = 8
    """channels of the latent map"""
    latent_penalty: float = 1e-4
    """weight of the L2 penalty that keeps raw latents bounded"""

    def validate(self) -> None:
        require(len(self.channels) >= 1, "autoencoder needs at least one stage")
        require(all(c >= 1 for c in self.channels), f"channels must be >= 1, got {self.channels}")
        require(self.latent_channels >= 1, f"latent_channels must be >= 1, got {self.latent_channels}")
        require(self.latent_penalty >= 0, f"latent_penalty must be >= 0, got {self.latent_penalty}")


@register
class Autoencoder(WamModel):
    """A substrate component, trained with the shared trainer; not a policy (it cannot act)."""

    name = "autoencoder"
    role = "substrate"
    anatomy = Anatomy(
        substrate=Substrate.PIXEL_LATENT,
        coupling=Coupling.NONE,
        backbone=Backbone.HYBRID,
        regimes=(),
        action_representation="none",
        lineage="the VAE of GR-1 / UWM / PAD, trained here",
    )
    config_class = AutoencoderConfig
    needs_action_labels = False

    def __init__(self, config: AutoencoderConfig, spec: DataSpec):
        super().__init__(config, spec)
        size = spec.image_shape[0]
        div = 2 ** len(config.channels)
        require(size % div == 0, f"image size {size} must be divisible by {div} for this autoencoder")
        self.net = ImageAutoencoder(tuple(config.channels), config.latent_channels)

    @property
    def window(self) -> WindowSpec:
        return WindowSpec(n_obs_steps=1, chunk=1)

    def set_normalization(self, stats: dict[str, dict]) -> None:
        pass  # images are mapped to [-1, 1]; the latent scale is estimated while training

    def loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        images = batch["image"][:, -1]  # (B, H, W, 3)
        target = ImageAutoencoder.to_unit(images)
        z = self.net.encode_raw(images)
        recon = self.net.decoder(z)
        mse = F.mse_loss(recon, target)
        loss = mse + self.config.latent_penalty * z.pow(2).mean()
        if self.training:  # the scale is a training statistic; evaluating a batch must not move it
            with torch.no_grad():
                scale = z.transpose(0, 1).flatten(1).std(dim=1).clamp_min(1e-3)
                self.net.latent_scale.lerp_(scale, 0.01)
        psnr = float(10 * torch.log10(4.0 / mse.detach().clamp_min(1e-10)))  # peak-to-peak 2 in [-1, 1]
        return loss, {"recon_mse": float(mse.detach()), "psnr_db": psnr}

    def act(self, observation, generator=None):
        raise WamError("the autoencoder is a substrate, not a policy: it cannot act (train a WAM on top of it)")

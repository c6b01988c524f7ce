"""Reference WAM 6, latent actions: learn actions from action-free video, then ground them with a
few labels (substrate: latent action; coupling: post-prediction head).

Lineage: Genie learns a discrete latent action between consecutive frames by making it the only
thing a decoder gets besides the past; LAPA pretrains a policy to predict those latent actions on
unlabelled video and maps them to real actions with a little labelled data. Here, small:

  1. latent action model (LAM), action-free:
       encoder   z = Q(E(o_t, o_{t+k}))              vector-quantised: `code_groups` tokens from a
                                                     codebook of `codebook_size` (VQ-VAE losses)
       decoder   d_hat = D(C(o_t), z)                predicts the change o_{t+k} - o_t (MSE, `future_size` px)
     The quantised z is a bottleneck that must carry what changes between o_t and o_{t+k}. The
     decoder predicts the change rather than the frame: most of a frame is static background the
     context already shows, which let a first version's codebook collapse to 2 codes.
  2. latent policy  pi(z | o, l): the shared observation encoder predicts the LAM's codes (cross-
     entropy against the LAM's codes, stop-gradient), on every episode.
  3. action decoder  q(a_{t:t+K} | o, z): the shared flow-matching head reads the trunk plus the
     latent action's codebook vectors; labelled episodes only. It reads the LAM's code of the real
     transition or, for `policy_code_share` of the samples, the latent policy's own choice, so that
     at inference (where only the policy's choice exists) it has seen that input.

At inference: z = argmax pi(z | o, l), then a ~ q(a | o, z). The future prediction (the LAM
decoder) trained the codebook that the action path reads (trained and retained, the boundary
rule's third case). Shapes: B batch, G code groups, V codebook size, E code width.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from wam.anatomy import Anatomy, Backbone, Coupling, FutureUse, Regime, Substrate
from wam.backbones.conv import ConvEncoder, FrameDecoder, check_frame_size
from wam.conditioning import shift_with_futures
from wam.data.cache import DataSpec, WindowSpec
from wam.errors import require
from wam.models.base import register
from wam.models.flow_policy import FlowPolicy, FlowPolicyConfig
from wam.substrates.autoencoder import ImageAutoencoder

to_unit = ImageAutoencoder.to_unit  # uint8 (N, H, W, 3) -> float (N, 3, H, W) in [-1, 1]


class VectorQuantizer(nn.Module):
    """Nearest-codebook quantisation with the straight-through estimator (van den Oord et al. 2017).

    Codes and inputs are l2-normalised before matching (ViT-VQGAN's remedy for codebook collapse:
    on unit vectors, no code can sit far from every input and die)."""

    def __init__(self, size: int, dim: int):
        super().__init__()
        self.codebook = nn.Embedding(size, dim)
        nn.init.normal_(self.codebook.weight)

    def vectors(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes (...) -> their unit codebook vectors (..., E)."""
        return F.normalize(self.codebook(codes), dim=-1)

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """z (..., E) -> (quantised unit z (..., E) with straight-through gradients, codes (...),
        codebook loss, commitment loss, diversity loss)."""
        z = F.normalize(z, dim=-1)
        flat = z.reshape(-1, z.shape[-1])
        similarity = flat @ F.normalize(self.codebook.weight, dim=-1).T  # (N, V)
        codes = similarity.argmax(-1).view(z.shape[:-1])
        e = self.vectors(codes)
        codebook_loss = F.mse_loss(e, z.detach())
        commitment = F.mse_loss(z, e.detach())
        # wav2vec 2.0's diversity loss: the batch's average soft assignment should spread over the
        # codebook (1 - its normalised entropy), so codes stay in use
        usage = (similarity / 0.1).softmax(-1).mean(0)
        diversity = 1.0 + (usage * usage.clamp_min(1e-9).log()).sum() / torch.log(torch.tensor(float(usage.numel())))
        return z + (e - z).detach(), codes, codebook_loss, commitment, diversity


@dataclass
class LatentActionConfig(FlowPolicyConfig):
    latent_offset: int = 8
    """k: the latent action explains the change from o_t to o_{t+k} (the executed part of a chunk)"""
    codebook_size: int = 16
    """V: codes in the latent-action codebook"""
    code_groups: int = 2
    """G: codebook tokens per latent action (V ** G distinct latent actions)"""
    code_dim: int = 32
    """E: width of a code"""
    lam_channels: tuple[int, ...] = (16, 32, 64, 64)
    """LAM encoders' conv stage widths"""
    future_size: int = 32
    """resolution at which the LAM decoder predicts o_{t+k}"""
    commitment: float = 0.25
    """VQ commitment weight (beta)"""
    diversity_weight: float = 0.1
    """weight of the codebook diversity loss (keeps codes in use)"""
    latent_policy_weight: float = 1.0
    """weight of the latent policy's cross-entropy"""
    policy_code_share: float = 0.5
    """share of labelled samples whose action decoder reads the latent policy's code, not the LAM's"""

    def validate(self) -> None:
        super().validate()
        for name in ("latent_offset", "codebook_size", "code_groups", "code_dim"):
            require(getattr(self, name) >= 1, f"{name} must be >= 1, got {getattr(self, name)}")
        require(self.codebook_size >= 2, f"codebook_size must be >= 2, got {self.codebook_size}")
        require(len(self.lam_channels) >= 1, "lam_channels must name at least one stage")
        require(0 <= self.policy_code_share <= 1, f"policy_code_share must be in [0, 1], got {self.policy_code_share}")
        require(self.commitment > 0 and self.latent_policy_weight > 0, "commitment and latent_policy_weight must be > 0")
        require(self.diversity_weight >= 0, f"diversity_weight must be >= 0, got {self.diversity_weight}")
        check_frame_size(self.future_size)


@register
class LatentAction(FlowPolicy):
    name = "latent-action"
    anatomy = Anatomy(
        substrate=Substrate.LATENT_ACTION,
        coupling=Coupling.POST_PREDICTION_HEAD,
        backbone=Backbone.HYBRID,
        regimes=(Regime.CHUNKED, Regime.SINGLE_STEP),
        action_representation="latent actions (VQ) -> continuous chunk",
        lineage="LAPA / Genie lineage",
        future_use=(FutureUse.TRAINED_RETAINED,),
    )
    config_class = LatentActionConfig
    needs_action_labels = False  # the LAM and the latent policy learn from action-free episodes

    def __init__(self, config: LatentActionConfig, spec: DataSpec):
        super().__init__(config, spec)
        size, g, e = spec.image_shape[0], config.code_groups, config.code_dim
        channels = tuple(config.lam_channels)
        # 1. latent action model
        self.lam_encoder = ConvEncoder(size, channels, g * e, in_channels=6)
        self.quantizer = VectorQuantizer(config.codebook_size, e)
        self.lam_context = ConvEncoder(size, channels, 128)
        self.lam_decoder = FrameDecoder(128 + g * e, config.future_size)
        # 2. latent policy over the G code tokens
        self.latent_policy = nn.Sequential(
            nn.Linear(config.cond_dim, config.width), nn.SiLU(), nn.Linear(config.width, g * config.codebook_size)
        )
        # 3. action decoder: the shared head, reading the trunk plus the latent action
        self.read_latent = nn.Linear(g * e, config.cond_dim)

    @property
    def window(self) -> WindowSpec:
        cfg = self.config
        return WindowSpec(n_obs_steps=cfg.n_obs_steps, chunk=cfg.chunk, future_offsets=(cfg.latent_offset,))

    def future_parameters(self):
        for prefix in ("lam_encoder", "quantizer", "lam_context", "lam_decoder"):
            yield from getattr(self, prefix).named_parameters(prefix=prefix)

    def action_parameters(self):
        for prefix in ("encoder", "latent_policy", "quantizer", "read_latent", "head"):
            yield from getattr(self, prefix).named_parameters(prefix=prefix)

    # -- the latent action model -------------------------------------------------------------------
    def infer_latent_action(self, current: torch.Tensor, future: torch.Tensor):
        """uint8 frames (B, H, W, 3) at t and t+k -> (quantised z (B, G, E), codes (B, G), VQ losses, diversity loss)."""
        pair = torch.cat([to_unit(current), to_unit(future)], dim=1)  # (B, 6, H, W) in [-1, 1]
        z = self.lam_encoder.encode_maps(pair).view(-1, self.config.code_groups, self.config.code_dim)
        return self.quantizer(z)

    def decode_change(self, current: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """(uint8 o_t (B, H, W, 3), z (B, G, E)) -> predicted o_{t+k} - o_t (B, 3, S, S)."""
        return self.lam_decoder(torch.cat([self.lam_context(current), z.flatten(1)], dim=-1))

    def code_logits(self, h: torch.Tensor) -> torch.Tensor:
        """Trunk features (B, D) -> the latent policy's logits (B, G, V)."""
        return self.latent_policy(h).view(h.shape[0], self.config.code_groups, self.config.codebook_size)

    def _action_condition(self, h: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        # The codebook vectors are read as they are (detached): labels ground the latent actions
        # but do not reshape them; the codebook is learned from video alone.
        return h + self.read_latent(self.quantizer.vectors(codes).detach().flatten(1))

    # -- verbs ---------------------------------------------------------------------------------------
    def loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        cfg = self.config
        images, futures = shift_with_futures(batch, cfg.shift_pad)
        current, future = images[:, -1], futures[:, 0]
        # 1. LAM (every episode)
        z, codes, codebook_loss, commitment, diversity = self.infer_latent_action(current, future)
        target = self.lam_decoder.target(future) - self.lam_decoder.target(current)  # the change, in [-2, 2]
        reconstruction = F.mse_loss(self.decode_change(current, z), target)
        # 2. latent policy (every episode), against the LAM's codes
        h = self.encoder(images[:, -cfg.image_history :], self.state_norm(batch["state"]), batch["task_index"])
        logits = self.code_logits(h)
        latent_policy = F.cross_entropy(logits.flatten(0, 1), codes.detach().flatten())
        # 3. action decoder (labelled samples only, masked inside the head's loss)
        own = logits.argmax(-1).detach()
        use_own = torch.rand(codes.shape[0], 1, device=codes.device) < cfg.policy_code_share
        action_loss = self.head.loss(self._action_condition(h, torch.where(use_own, own, codes)), batch)
        loss = (reconstruction + codebook_loss + cfg.commitment * commitment + cfg.diversity_weight * diversity
                + cfg.latent_policy_weight * latent_policy + action_loss)
        accuracy = (own == codes).float().mean()
        return loss, {
            "action_loss": float(action_loss.detach()),
            "reconstruction_loss": float(reconstruction.detach()),
            "latent_policy_loss": float(latent_policy.detach()),
            "latent_policy_accuracy": float(accuracy),
            "codes_used": float(codes.unique().numel()),
        }

    @torch.no_grad()
    def act(self, observation: dict[str, torch.Tensor], generator: torch.Generator | None = None) -> torch.Tensor:
        h = self.condition(observation)
        codes = self.code_logits(h).argmax(-1)  # the latent policy's latent action
        return self.head.sample(self._action_condition(h, codes), self.config.sampling_steps, generator)

    @torch.no_grad()
    def propose(self, observation: dict[str, torch.Tensor], n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        h = self.condition(observation)
        cond = self._action_condition(h, self.code_logits(h).argmax(-1))
        return self.head.sample(cond.expand(n, -1), self.config.sampling_steps, generator)

    @torch.no_grad()
    def predict(self, observation: dict[str, torch.Tensor], generator: torch.Generator | None = None) -> torch.Tensor:
        """The future the chosen latent action implies: LAM-decoded o_{t+k}, (B, 3, S, S) in [-1, 1]."""
        h = self.condition(observation)
        current = observation["image"][:, -1]
        change = self.decode_change(current, self.quantizer.vectors(self.code_logits(h).argmax(-1)))
        return (self.lam_decoder.target(current) + change).clamp(-1, 1)

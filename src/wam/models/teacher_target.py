"""Reference WAM 5, teacher-target alignment: predict the teacher's embedding of the future and act
from it (substrate: feature, teacher; coupling: joint generation; backbone: joint-embedding).

Lineage: FLARE adds future tokens to a diffusion policy and aligns them with a frozen encoder's
embedding of the real future observation; DINO-WM-style models predict in a teacher's feature
space instead of pixels. Here, small:

  trunk       h = enc(o, proprio, task)                the baseline's observation encoder
  predictor   z_hat = P(h): one token per offset       the predicted future, in the teacher's space
  teacher     z = T(o_{t+k})                           EMA of the student's image encoder, or the
                                                       frozen autoencoder encoder (`teacher=...`)
  alignment   L_align = mean_k (1 - cos(z_hat_k, sg(z_k)))
  action      a ~ q(a | h + W z_hat)                   the shared flow-matching head reads the tokens

Loss L_act + lambda * L_align. Episodes without action labels train with the alignment loss alone.
The predicted tokens are in the action path at inference (consumed) and the alignment trains the
trunk the action path keeps; nothing is decoded to pixels, so acting costs a policy's encoder
plus one small MLP.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from wam.anatomy import Anatomy, Backbone, Coupling, FutureUse, Regime, Substrate
from wam.conditioning import shift_with_futures
from wam.data.cache import DataSpec, WindowSpec
from wam.errors import require
from wam.models.base import register
from wam.models.flow_policy import FlowPolicy, FlowPolicyConfig
from wam.substrates.teachers import TEACHERS, make_teacher


@dataclass
class TeacherTargetConfig(FlowPolicyConfig):
    future_offsets: tuple[int, ...] = (8, 16)
    """frames ahead whose teacher embedding the predictor predicts"""
    teacher: str = "ema"
    """'ema' (moving average of the student's image encoder) or 'autoencoder' (frozen, trained here)"""
    teacher_momentum: float = 0.99
    """EMA teacher: momentum per optimiser step"""
    autoencoder: str = "runs/mt10/autoencoder/model"
    """teacher 'autoencoder': the trained autoencoder checkpoint (copied into this model)"""
    autoencoder_channels: tuple[int, ...] = (16, 32, 64)
    """teacher 'autoencoder': must match the checkpoint"""
    latent_channels: int = 8
    """teacher 'autoencoder': must match the checkpoint"""
    alignment_weight: float = 1.0
    """lambda: weight of the alignment loss beside the action loss"""

    def validate(self) -> None:
        super().validate()
        require(self.teacher in TEACHERS, f"unknown teacher '{self.teacher}'; valid: {', '.join(sorted(TEACHERS))}")
        require(len(self.future_offsets) >= 1, "future_offsets must name at least one frame ahead")
        require(all(o >= 1 for o in self.future_offsets), f"future_offsets must be >= 1, got {self.future_offsets}")
        require(0 <= self.teacher_momentum < 1, f"teacher_momentum must be in [0, 1), got {self.teacher_momentum}")
        require(self.alignment_weight > 0, f"alignment_weight must be > 0, got {self.alignment_weight}")


@register
class TeacherTarget(FlowPolicy):
    name = "teacher-target"
    anatomy = Anatomy(
        substrate=Substrate.FEATURE_TEACHER,
        coupling=Coupling.JOINT_GENERATION,
        backbone=Backbone.JEPA,
        regimes=(Regime.CHUNKED, Regime.SINGLE_STEP),
        lineage="FLARE lineage",
        future_use=(FutureUse.CONSUMED, FutureUse.TRAINED_RETAINED),
    )
    config_class = TeacherTargetConfig
    # EMA of the teacher is the teacher itself: the trainer copies it into the saved weights
    # instead of averaging an average (see Trainer._update_ema)
    ema_copy_prefixes = ("teacher.",)
    needs_action_labels = False  # the alignment loss trains on action-free episodes

    def __init__(self, config: TeacherTargetConfig, spec: DataSpec):
        super().__init__(config, spec)
        self.teacher = make_teacher(
            config.teacher, self.encoder.images, spec.image_shape[0], config.teacher_momentum,
            config.autoencoder, tuple(config.autoencoder_channels), config.latent_channels,
        )
        n_future, dim = len(config.future_offsets), self.teacher.dim
        self.predictor = nn.Sequential(
            nn.Linear(config.cond_dim, config.width), nn.SiLU(), nn.Linear(config.width, n_future * dim)
        )
        self.read_future = nn.Linear(n_future * dim, config.cond_dim)  # how the head reads the tokens
        self._last_tokens: torch.Tensor | None = None

    @property
    def window(self) -> WindowSpec:
        cfg = self.config
        return WindowSpec(n_obs_steps=cfg.n_obs_steps, chunk=cfg.chunk, future_offsets=tuple(cfg.future_offsets))

    def prepare_training(self) -> None:
        self.teacher.load_pretrained(self.spec.image_shape)

    def after_optimizer_step(self, step: int) -> None:
        self.teacher.follow(self.encoder.images)

    def future_parameters(self):
        yield from self.encoder.named_parameters(prefix="encoder")  # the alignment trains the trunk
        yield from self.predictor.named_parameters(prefix="predictor")

    def action_parameters(self):
        yield from self.encoder.named_parameters(prefix="encoder")
        yield from self.read_future.named_parameters(prefix="read_future")
        yield from self.head.named_parameters(prefix="head")

    # -- the predicted future ----------------------------------------------------------------------
    def predict_tokens(self, h: torch.Tensor) -> torch.Tensor:
        """Trunk features (B, D) -> predicted teacher embeddings of the futures (B, F, dim)."""
        return self.predictor(h).view(h.shape[0], len(self.config.future_offsets), self.teacher.dim)

    def _action_condition(self, h: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        return h + self.read_future(tokens.flatten(1))

    # -- verbs ---------------------------------------------------------------------------------------
    def loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        cfg = self.config
        images, futures = shift_with_futures(batch, cfg.shift_pad)
        h = self.encoder(images[:, -cfg.image_history :], self.state_norm(batch["state"]), batch["task_index"])
        tokens = self.predict_tokens(h)  # (B, F, dim)
        b, n_future = futures.shape[:2]
        target = self.teacher.embed(futures.flatten(0, 1)).view(b, n_future, -1)  # no gradient
        alignment = (1.0 - F.cosine_similarity(tokens, target, dim=-1)).mean()
        action_loss = self.head.loss(self._action_condition(h, tokens), batch)
        loss = action_loss + cfg.alignment_weight * alignment
        return loss, {"action_loss": float(action_loss.detach()), "alignment_loss": float(alignment.detach())}

    @torch.no_grad()
    def act(self, observation: dict[str, torch.Tensor], generator: torch.Generator | None = None) -> torch.Tensor:
        h = self.condition(observation)
        tokens = self.predict_tokens(h)
        self._last_tokens = tokens
        return self.head.sample(self._action_condition(h, tokens), self.config.sampling_steps, generator)

    @torch.no_grad()
    def propose(self, observation: dict[str, torch.Tensor], n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        h = self.condition(observation)
        cond = self._action_condition(h, self.predict_tokens(h))
        return self.head.sample(cond.expand(n, -1), self.config.sampling_steps, generator)

    def reset(self) -> None:
        self._last_tokens = None

    @torch.no_grad()
    def predict(self, observation: dict[str, torch.Tensor], generator: torch.Generator | None = None) -> torch.Tensor:
        """Predicted teacher embeddings of the futures at `future_offsets`, (B, F, dim)."""
        return self.predict_tokens(self.condition(observation))

    @torch.no_grad()
    def alignment_error(self, observation: dict[str, torch.Tensor], futures: torch.Tensor) -> torch.Tensor:
        """1 - cosine between the predicted and the teacher's embedding of real futures (B, F, H, W, 3): (B, F)."""
        tokens = self.predict(observation)
        target = self.teacher.embed(futures.flatten(0, 1)).view(*futures.shape[:2], -1)
        return 1.0 - F.cosine_similarity(tokens, target, dim=-1)

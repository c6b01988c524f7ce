"""Reference WAM 4, encoder-only: a shared trunk trained to predict the future, whose features the
action head reads (substrate: feature, encoder-only; coupling: joint generation, future masked).

Lineage: Fast-WAM trains one trunk with a future-prediction objective and the action objective,
then masks the future branch at test time, so it acts at a policy's cost (about 4x faster than
denoising the video) while keeping what predicting the future taught the trunk. Here, small:

  trunk     h = enc(o, proprio, task)         the baseline's observation encoder, unchanged
  future    s = g(h): one code per offset, decoded into the frames `future_offsets` steps ahead
            (at `future_size` px, MSE); trains h on every episode, labelled or not
  action    a ~ q(a | h [+ W s])              the baseline's flow-matching action head

The future branch is masked at inference by default: `act` then runs exactly the baseline's
computation (same encoder, same head, same FLOPs), and the WAM differs from the baseline only
in what trained its trunk. With `--option imagine=true` (test-time imagination) the head also
reads the future code, from the same checkpoint: the head is trained with the future code
dropped for `imagination_dropout` of the samples, so both settings are in its training
distribution. That is the survey's ablation as one flag.

Boundary rule: the future objective trains the trunk the action path retains (and, with
imagination on, the action path also consumes the predicted future).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from wam.anatomy import Anatomy, Backbone, Coupling, FutureUse, Regime, Substrate
from wam.backbones.conv import FrameDecoder, check_frame_size
from wam.conditioning import shift_with_futures
from wam.data.cache import DataSpec, WindowSpec
from wam.errors import require
from wam.models.base import parse_flag, register
from wam.models.flow_policy import FlowPolicy, FlowPolicyConfig

@dataclass
class EncoderOnlyConfig(FlowPolicyConfig):
    future_offsets: tuple[int, ...] = (8, 16)
    """frames ahead the future branch predicts"""
    future_size: int = 32
    """resolution of the predicted future frames (the real ones are area-downsampled to it)"""
    future_dim: int = 128
    """width of the future code per offset (what test-time imagination feeds the action head)"""
    future_weight: float = 1.0
    """weight of the future-prediction loss beside the action loss"""
    imagination_dropout: float = 0.5
    """share of training samples whose action head does not see the future code"""
    imagine: bool = False
    """test-time imagination: run the future branch and let the action head read it (runtime option)"""

    def validate(self) -> None:
        super().validate()
        require(len(self.future_offsets) >= 1, "future_offsets must name at least one frame ahead")
        require(all(o >= 1 for o in self.future_offsets), f"future_offsets must be >= 1, got {self.future_offsets}")
        require(self.future_dim >= 1, f"future_dim must be >= 1, got {self.future_dim}")
        require(self.future_weight > 0, f"future_weight must be > 0, got {self.future_weight}")
        # strictly inside: at 1 the imagination projection never trains, at 0 acting without
        # imagination would be outside the head's training distribution
        require(0 < self.imagination_dropout < 1, f"imagination_dropout must be in (0, 1), got {self.imagination_dropout}")
        check_frame_size(self.future_size)


@register
class EncoderOnly(FlowPolicy):
    name = "encoder-only"
    anatomy = Anatomy(
        substrate=Substrate.FEATURE_ENCODER_ONLY,
        coupling=Coupling.JOINT_GENERATION,
        backbone=Backbone.HYBRID,
        regimes=(Regime.CHUNKED, Regime.SINGLE_STEP),
        lineage="Fast-WAM lineage",
        future_use=(FutureUse.TRAINED_RETAINED,),
    )
    config_class = EncoderOnlyConfig
    # no "predict": its imagined future is decoded frames without a substrate latent, so event-
    # triggered replanning has nothing to compare (frames are still scored for fidelity)
    needs_action_labels = False  # the future objective trains the trunk on action-free episodes
    runtime_options = {"imagine": "test-time imagination: the action head also reads the predicted future (true/false)"}

    def __init__(self, config: EncoderOnlyConfig, spec: DataSpec):
        super().__init__(config, spec)
        n_future = len(config.future_offsets)
        self.future_head = nn.Sequential(
            nn.Linear(config.cond_dim, config.width), nn.SiLU(), nn.Linear(config.width, n_future * config.future_dim)
        )
        self.decoder = FrameDecoder(config.future_dim, config.future_size)
        # How the imagined future enters the action head's conditioning; zero at the start, so an
        # untrained model acts the same with and without imagination.
        self.imagination = nn.Linear(n_future * config.future_dim, config.cond_dim)
        nn.init.zeros_(self.imagination.weight)
        nn.init.zeros_(self.imagination.bias)
        self._last_future: torch.Tensor | None = None

    @property
    def window(self) -> WindowSpec:
        cfg = self.config
        return WindowSpec(n_obs_steps=cfg.n_obs_steps, chunk=cfg.chunk, future_offsets=tuple(cfg.future_offsets))

    def future_parameters(self):
        yield from self.encoder.named_parameters(prefix="encoder")  # the shared trunk
        yield from self.future_head.named_parameters(prefix="future_head")
        yield from self.decoder.named_parameters(prefix="decoder")

    def action_parameters(self):
        yield from self.encoder.named_parameters(prefix="encoder")
        yield from self.head.named_parameters(prefix="head")

    # -- runtime option --------------------------------------------------------------------------
    def set_runtime_option(self, name: str, value: str) -> None:
        require(name in self.runtime_options, f"'{self.name}' has no runtime option {name!r}; it has {sorted(self.runtime_options)}")
        self.config.imagine = parse_flag(name, value)

    def runtime_values(self) -> dict[str, str]:
        return {"imagine": "true" if self.config.imagine else "false"}

    # -- the future branch -------------------------------------------------------------------------
    def future_code(self, h: torch.Tensor) -> torch.Tensor:
        """Trunk features (B, D) -> future codes (B, F, future_dim)."""
        return self.future_head(h).view(h.shape[0], len(self.config.future_offsets), self.config.future_dim)

    def decode_future(self, code: torch.Tensor) -> torch.Tensor:
        """(B, F, future_dim) -> predicted frames (B, F, 3, S, S) in [-1, 1]."""
        b, f = code.shape[:2]
        return self.decoder(code.flatten(0, 1)).view(b, f, 3, self.config.future_size, self.config.future_size)

    def _future_target(self, futures: torch.Tensor) -> torch.Tensor:
        """uint8 (B, F, H, W, 3) -> (B, F, 3, S, S) in [-1, 1], area-downsampled."""
        b, f = futures.shape[:2]
        return self.decoder.target(futures.flatten(0, 1)).view(b, f, 3, self.config.future_size, self.config.future_size)

    def _action_condition(self, h: torch.Tensor, code: torch.Tensor | None) -> torch.Tensor:
        return h if code is None else h + self.imagination(code.flatten(1))

    # -- verbs ---------------------------------------------------------------------------------------
    def loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        cfg = self.config
        images, futures = shift_with_futures(batch, cfg.shift_pad)  # (B, To, ...), (B, F, H, W, 3)
        h = self.encoder(images[:, -cfg.image_history :], self.state_norm(batch["state"]), batch["task_index"])
        code = self.future_code(h)
        future_loss = ((self.decode_future(code) - self._future_target(futures)) ** 2).mean()
        # the head sees the future code on a random share of samples (imagination on / off)
        keep = (torch.rand(h.shape[0], 1, device=h.device) >= cfg.imagination_dropout).float()
        action_loss = self.head.loss(h + keep * self.imagination(code.flatten(1)), batch)
        loss = action_loss + cfg.future_weight * future_loss
        return loss, {"action_loss": float(action_loss.detach()), "future_loss": float(future_loss.detach())}

    @torch.no_grad()
    def act(self, observation: dict[str, torch.Tensor], generator: torch.Generator | None = None) -> torch.Tensor:
        h = self.condition(observation)
        code = self.future_code(h) if self.config.imagine else None  # masked: the baseline's cost
        self._last_future = code
        return self.head.sample(self._action_condition(h, code), self.config.sampling_steps, generator)

    @torch.no_grad()
    def propose(self, observation: dict[str, torch.Tensor], n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        h = self.condition(observation)
        code = self.future_code(h) if self.config.imagine else None
        return self.head.sample(self._action_condition(h, code).expand(n, -1), self.config.sampling_steps, generator)

    def reset(self) -> None:
        self._last_future = None

    @torch.no_grad()
    def predict(self, observation: dict[str, torch.Tensor], generator: torch.Generator | None = None) -> torch.Tensor:
        """Predicted future frames, uint8 (B, F, H, W, 3) at `future_offsets` (upsampled from
        `future_size`); runs the future branch whatever `imagine` says (it only gates acting)."""
        return self._frames(self.future_code(self.condition(observation)))

    def _frames(self, code: torch.Tensor) -> torch.Tensor:
        frames = self.decode_future(code)  # (B, F, 3, S, S)
        b, f = frames.shape[:2]
        h, w = self.spec.image_shape[:2]
        x = F.interpolate(frames.flatten(0, 1), size=(h, w), mode="bilinear", align_corners=False)
        x = ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1)
        return x.reshape(b, f, h, w, 3)

    @torch.no_grad()
    def last_prediction(self) -> dict | None:
        # Only with imagination on does acting produce a future; masked, there is nothing to score.
        if self._last_future is None:
            return None
        frames = self._frames(self._last_future)
        return {"offsets": list(self.config.future_offsets), "frames": frames.cpu().numpy(), "latents": None}

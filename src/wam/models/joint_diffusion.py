"""Reference WAM 2, joint generation: p(s, a | o, l) with independent noise levels (UWM / PAD / UVA).

Lineage: Unified World Models (Zhu et al. 2025) denoise future observations and actions in one
transformer, each with its own diffusion time, so that one set of weights is a policy, a forward
dynamics model, an inverse dynamics model and a video predictor depending on which stream is
clean, noisy or pure noise; PAD (Guo et al. 2024) and UVA (Li et al. 2025) share the recipe.

Here: the future lives in a frozen autoencoder's latents at `future_offsets`, cut into patches
(tokens); the action chunk is cut into tokens of `action_group` consecutive steps (few tokens keep
a CPU step fast: 2 x 4 future + 4 action tokens by default). A DiT with per-token adaLN denoises both
streams with flow matching; the observation conditioning (frame, proprio, task) enters every
token's adaLN. Loss L_gen + λ·L_act (Eq. 19 of the survey). Training draws each stream's time
independently, with extra mass at the ends (pure noise / clean) so every mode is learned, and
some batches drop the future tokens entirely: that is the skip-future path (UVA, Fast-WAM).
Episodes without action labels train the future stream only, their actions fully noised (UWM).

Runtime fidelity-latency dial, `future_steps` = m in 0..N (N = `sampling_steps`):
    m = 0   skip the future: the actions are denoised alone (cheapest; the future is marginalised)
    m > 0   the future is first denoised m of its N steps (to flow time m/N), then the actions are
            denoised for N steps reading that partially denoised future; m = N reads the full future
Cost: N + m network calls (shorter ones for m = 0). One checkpoint, any m, chosen per evaluation.

Shapes: B batch, F future frames, P patches per frame, K chunk, A action dim, D width.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from wam.anatomy import Anatomy, Backbone, Coupling, FutureUse, Regime, Substrate
from wam.backbones.dit import DiT, patchify, unpatchify
from wam.backbones.mlp import timestep_embedding
from wam.conditioning import ObservationConfig, ObservationEncoder, shift_with_futures
from wam.data.cache import DataSpec, WindowSpec
from wam.data.normalize import Normalizer
from wam.errors import require
from wam.models.base import WamModel, parse_number, register
from wam.objectives.flow_matching import interpolate, sample_time
from wam.substrates import make_substrate


@dataclass
class JointDiffusionConfig(ObservationConfig):
    chunk: int = 16
    """action chunk length K (K / action_group action tokens)"""
    future_offsets: tuple[int, ...] = (8, 16)
    """frames ahead whose latents are generated with the actions"""
    autoencoder: str = "runs/mt10/autoencoder/model"
    """trained `autoencoder` checkpoint (copied into this model)"""
    autoencoder_channels: tuple[int, ...] = (16, 32, 64)
    """must match the autoencoder checkpoint"""
    latent_channels: int = 8
    """must match the autoencoder checkpoint"""
    patch: int = 4
    """latent patch size (8x8 latents -> 4 tokens per frame with 4)"""
    action_group: int = 4
    """consecutive action steps per action token (K / action_group tokens)"""
    dit_width: int = 256
    """transformer width D"""
    dit_depth: int = 4
    """transformer blocks"""
    dit_heads: int = 4
    """attention heads"""
    action_weight: float = 1.0
    """λ in L_gen + λ·L_act"""
    end_probability: float = 0.1
    """per stream, chance of training at exactly pure noise and (separately) exactly clean"""
    skip_future_probability: float = 0.15
    """chance that a training batch drops the future tokens (trains the skip-future path)"""
    sampling_steps: int = 10
    """Euler steps N for each stream at inference"""
    future_steps: int = -1
    """the dial: future denoising steps before the actions are read (0..sampling_steps; -1: all); runtime"""

    def validate(self) -> None:
        super().validate()
        require(len(self.future_offsets) >= 1, "future_offsets must name at least one frame ahead")
        require(all(o >= 1 for o in self.future_offsets), f"future_offsets must be >= 1, got {self.future_offsets}")
        require(self.chunk % max(1, self.action_group) == 0, f"chunk ({self.chunk}) must be divisible by action_group ({self.action_group})")
        for name in ("chunk", "patch", "action_group", "dit_width", "dit_depth", "dit_heads", "sampling_steps"):
            require(getattr(self, name) >= 1, f"{name} must be >= 1, got {getattr(self, name)}")
        require(self.action_weight > 0, f"action_weight must be > 0, got {self.action_weight}")
        require(0 <= self.end_probability < 0.5, f"end_probability must be in [0, 0.5), got {self.end_probability}")
        require(0 <= self.skip_future_probability < 1, f"skip_future_probability must be in [0, 1), got {self.skip_future_probability}")
        require(
            -1 <= self.future_steps <= self.sampling_steps,
            f"future_steps must be in 0..sampling_steps ({self.sampling_steps}) or -1 (all), got {self.future_steps}",
        )

    @property
    def effective_future_steps(self) -> int:
        return self.sampling_steps if self.future_steps < 0 else self.future_steps


def _stream_time(b: int, end_probability: float, device=None) -> torch.Tensor:
    """Logit-normal flow times with `end_probability` mass at exactly 0 and at exactly 1."""
    t = sample_time(b).to(device)
    u = torch.rand(b).to(device)
    t = torch.where(u < end_probability, torch.zeros_like(t), t)
    return torch.where(u > 1 - end_probability, torch.ones_like(t), t)


@register
class JointDiffusion(WamModel):
    name = "joint-diffusion"
    anatomy = Anatomy(
        substrate=Substrate.PIXEL_LATENT,
        coupling=Coupling.JOINT_GENERATION,
        backbone=Backbone.DIFFUSION,
        regimes=(Regime.CHUNKED, Regime.SINGLE_STEP),
        lineage="UWM / PAD / UVA lineage",
        future_use=(FutureUse.CONSUMED, FutureUse.TRAINED_RETAINED),
    )
    config_class = JointDiffusionConfig
    capabilities = frozenset({"predict", "forward_dynamics", "inverse_dynamics"})  # forward dynamics: imagine()
    needs_action_labels = False
    may_skip_parameters = True  # skip-future batches leave the future stream unused (DDP must know)
    runtime_options = {"future_steps": "future denoising steps before the actions are read (0 = skip the future)"}

    def __init__(self, config: JointDiffusionConfig, spec: DataSpec):
        super().__init__(config, spec)
        self.substrate = make_substrate("autoencoder", spec.image_shape[0], tuple(config.autoencoder_channels), config.latent_channels)
        c, h, w = self.substrate.shape
        p = config.patch
        require(h % p == 0 and w % p == 0, f"latent map {h}x{w} is not divisible by patch {p}")
        self.patches_per_frame = (h // p) * (w // p)
        self.token_dim = c * p * p
        n_future_tokens = len(config.future_offsets) * self.patches_per_frame
        d = config.dit_width
        self.state_norm = Normalizer(spec.state_dim, "mean_std")
        self.action_norm = Normalizer(spec.action_dim, "min_max")
        self.encoder = ObservationEncoder(config, spec)
        self.context = nn.Linear(config.cond_dim, d)
        self.time_mlp = nn.Sequential(nn.Linear(128, d), nn.SiLU(), nn.Linear(d, d))
        self.stream = nn.Embedding(2, d)  # 0: future tokens, 1: action tokens
        self.future_in = nn.Linear(self.token_dim, d)
        self.future_pos = nn.Parameter(torch.randn(n_future_tokens, d) * 0.02)
        self.action_in = nn.Linear(config.action_group * spec.action_dim, d)
        self.action_pos = nn.Parameter(torch.randn(config.chunk // config.action_group, d) * 0.02)
        self.trunk = DiT(d, config.dit_depth, config.dit_heads)
        self.future_out = nn.Linear(d, self.token_dim)
        self.action_out = nn.Linear(d, config.action_group * spec.action_dim)

    # -- set-up --------------------------------------------------------------------------------
    @property
    def window(self) -> WindowSpec:
        return WindowSpec(
            n_obs_steps=self.config.n_obs_steps, chunk=self.config.chunk, future_offsets=tuple(self.config.future_offsets)
        )

    def set_normalization(self, stats: dict[str, dict]) -> None:
        if self.spec.state_dim:
            self.state_norm.set_stats(stats["state"])
        self.action_norm.set_stats(stats["action"])

    def prepare_training(self) -> None:
        self.substrate.load_from(self.config.autoencoder, self.spec.image_shape)

    def set_runtime_option(self, name: str, value: str) -> None:
        require(name in self.runtime_options, f"'{self.name}' has no runtime option {name!r}; it has {sorted(self.runtime_options)}")
        steps = parse_number(name, value, int, 0, self.config.sampling_steps, note=" (the sampling steps)")
        self.config.future_steps = steps

    def runtime_values(self) -> dict[str, str]:
        return {"future_steps": str(self.config.effective_future_steps)}

    def future_parameters(self):
        for prefix in ("future_in", "future_out", "trunk"):
            yield from getattr(self, prefix).named_parameters(prefix=prefix)
        yield "future_pos", self.future_pos

    def action_parameters(self):
        for prefix in ("action_in", "action_out", "trunk"):
            yield from getattr(self, prefix).named_parameters(prefix=prefix)
        yield "action_pos", self.action_pos

    # -- tokens ----------------------------------------------------------------------------------
    def _patchify(self, z: torch.Tensor) -> torch.Tensor:
        """(B, F, C, h, w) -> (B, F*P, C*p*p)."""
        b, f = z.shape[:2]
        return patchify(z.flatten(0, 1), self.config.patch).reshape(b, f * self.patches_per_frame, self.token_dim)

    def _unpatchify(self, tokens: torch.Tensor) -> torch.Tensor:
        """(B, F*P, C*p*p) -> (B, F, C, h, w)."""
        c, h, w = self.substrate.shape
        b, f = tokens.shape[0], tokens.shape[1] // self.patches_per_frame
        z = unpatchify(tokens.reshape(b * f, self.patches_per_frame, self.token_dim), c, h, w, self.config.patch)
        return z.reshape(b, f, c, h, w)

    def _velocity(
        self, context: torch.Tensor, future: torch.Tensor | None, t_future: torch.Tensor | None, action: torch.Tensor, t_action: torch.Tensor
    ) -> tuple[torch.Tensor | None, torch.Tensor]:
        """One trunk call. future (B, F*P, C*p*p) or None (skip-future), action (B, K, A), times (B,).

        Streams: 0 = future tokens, 1 = action tokens (K / action_group of them, each a group of
        consecutive steps). Each stream's adaLN condition is the context plus its time embedding.
        """
        b, k, a_dim = action.shape
        g, device = self.config.action_group, action.device
        action_tokens = self.action_in(action.reshape(b, k // g, g * a_dim)) + self.action_pos
        streams = [context + self.time_mlp(timestep_embedding(t_action, 128)) + self.stream.weight[1]]
        tokens = [action_tokens]
        if future is not None:
            tokens.insert(0, self.future_in(future) + self.future_pos)
            streams.insert(0, context + self.time_mlp(timestep_embedding(t_future, 128)) + self.stream.weight[0])
            token_stream = [torch.zeros(future.shape[1], dtype=torch.long), torch.ones(k // g, dtype=torch.long)]
        else:
            token_stream = [torch.zeros(k // g, dtype=torch.long)]  # the only stream
        token_stream = [ts.to(device) for ts in token_stream]
        h = self.trunk(torch.cat(tokens, dim=1), torch.stack(streams, dim=1), torch.cat(token_stream))
        n_action = k // g
        v_action = self.action_out(h[:, -n_action:]).reshape(b, k, a_dim)
        v_future = self.future_out(h[:, :-n_action]) if future is not None else None
        return v_future, v_action

    def _context(self, images: torch.Tensor, state: torch.Tensor, task: torch.Tensor) -> torch.Tensor:
        cond = self.encoder(images[:, -self.config.image_history :], self.state_norm(state), task)
        return self.context(cond)

    # -- verbs -----------------------------------------------------------------------------------
    def loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        cfg = self.config
        images, futures = shift_with_futures(batch, cfg.shift_pad)  # (B, To, ...), (B, F, H, W, 3)
        context = self._context(images, batch["state"], batch["task_index"])
        b, n_future = futures.shape[:2]
        labelled = batch["labelled"].float()
        # actions: noise level t_a, fully noised (t_a = 0) where the label is withheld
        a1 = self.action_norm(batch["action"])  # (B, K, A)
        a0 = torch.randn_like(a1)
        t_a = torch.where(batch["labelled"], _stream_time(b, cfg.end_probability, a1.device), torch.zeros(b, device=a1.device))
        skip_future = bool(torch.rand(()) < cfg.skip_future_probability)
        if skip_future:
            v_s, v_a = self._velocity(context, None, None, interpolate(a0, a1, t_a), t_a)
            gen_loss = torch.zeros((), device=a1.device)
        else:
            with torch.no_grad():
                z = self.substrate.encode(futures.flatten(0, 1))
                s1 = self._patchify(z.view(b, n_future, *z.shape[1:]))  # (B, F*P, C*p*p)
            s0 = torch.randn_like(s1)
            t_s = _stream_time(b, cfg.end_probability, a1.device)
            v_s, v_a = self._velocity(context, interpolate(s0, s1, t_s), t_s, interpolate(a0, a1, t_a), t_a)
            # a clean stream (t = 1) is given, not generated: no loss on it
            gen_loss = (((v_s - (s1 - s0)) ** 2).mean((1, 2)) * (t_s < 1).float()).mean()
        weight = (~batch["action_is_pad"]).float()[..., None] * labelled[:, None, None] * (t_a < 1).float()[:, None, None]
        act_err = ((v_a - (a1 - a0)) ** 2 * weight).sum() / (weight.sum() * a1.shape[-1]).clamp_min(1.0)
        loss = gen_loss + cfg.action_weight * act_err
        # NaN, not 0, on skip-future batches: no future was scored (a 0 would read as a perfect one)
        gen_logged = float("nan") if skip_future else float(gen_loss.detach())
        return loss, {"generation_loss": gen_logged, "action_loss": float(act_err.detach())}

    def _initial_noise(self, b: int, generator: torch.Generator | None, device):
        n_tokens = len(self.config.future_offsets) * self.patches_per_frame
        s = torch.randn(b, n_tokens, self.token_dim, generator=generator)
        a = torch.randn(b, self.config.chunk, self.spec.action_dim, generator=generator)
        return s.to(device), a.to(device)

    def _times(self, b: int, value: float, device) -> torch.Tensor:
        return torch.full((b,), value, device=device)

    @torch.no_grad()
    def act(self, observation: dict[str, torch.Tensor], generator: torch.Generator | None = None) -> torch.Tensor:
        cfg = self.config
        context = self._context(observation["image"], observation["state"], observation["task_index"])
        b, n, m, dev = context.shape[0], cfg.sampling_steps, cfg.effective_future_steps, context.device
        s, a = self._initial_noise(b, generator, dev)
        dt = 1.0 / n
        # 1. the dial: denoise the future m of its n steps, the actions still pure noise (t_a = 0)
        self._last_future = None
        for i in range(m):
            v_s, _ = self._velocity(context, s, self._times(b, i * dt, dev), a, self._times(b, 0.0, dev))
            # the clean-future estimate from this step, kept for fidelity scoring (exact when m = n)
            self._last_future = s + (1 - i * dt) * v_s
            s = s + dt * v_s
        # 2. denoise the actions, reading the future frozen at time m / n (or without it, m = 0)
        t_s = self._times(b, m * dt, dev)
        for i in range(n):
            _, v_a = self._velocity(context, s if m > 0 else None, t_s, a, self._times(b, i * dt, dev))
            a = a + dt * v_a
        return self.action_norm.inverse(a)

    def reset(self) -> None:
        self._last_future = None

    def _frames(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, F*P, C*p*p) -> (latents (B, F, C, h, w), uint8 frames (B, F, H, W, 3))."""
        z = self._unpatchify(tokens)
        frames = self.substrate.decode(z.flatten(0, 1))
        frames = ((frames + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1)
        return z, frames.reshape(z.shape[0], -1, *self.spec.image_shape)

    @torch.no_grad()
    def last_prediction(self) -> dict | None:
        """The model's estimate of the clean future from its last future step (exact when m = N;
        for m < N the action reads the partly denoised future this estimate comes from). None
        with future_steps = 0: no future was made."""
        if getattr(self, "_last_future", None) is None:
            return None
        latents, frames = self._frames(self._last_future)
        return {"offsets": list(self.config.future_offsets), "frames": frames.cpu().numpy(), "latents": latents}

    @torch.no_grad()
    def encode_substrate(self, frames: torch.Tensor) -> torch.Tensor:
        return self.substrate.encode(frames)

    @torch.no_grad()
    def predict(
        self, observation: dict[str, torch.Tensor], actions: torch.Tensor | None = None, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Future frames uint8 (B, F, H, W, 3). Without actions: video prediction (actions pure
        noise, marginalised); with an action chunk (B, K, A): forward dynamics (actions clean)."""
        cfg = self.config
        context = self._context(observation["image"], observation["state"], observation["task_index"])
        b, n, dev = context.shape[0], cfg.sampling_steps, context.device
        s, a = self._initial_noise(b, generator, dev)
        t_a = self._times(b, 0.0, dev)
        if actions is not None:
            require(
                tuple(actions.shape[1:]) == (cfg.chunk, self.spec.action_dim),
                f"forward dynamics takes action chunks of shape (B, {cfg.chunk}, {self.spec.action_dim}), got {tuple(actions.shape)}",
            )
            a, t_a = self.action_norm(actions.float().to(dev)), self._times(b, 1.0, dev)
        for i in range(n):
            v_s, _ = self._velocity(context, s, self._times(b, i / n, dev), a, t_a)
            s = s + v_s / n
        self._last_imagined = s
        return self._frames(s)[1]

    @torch.no_grad()
    def imagine(self, observation, actions, generator=None) -> dict:
        frames = self.predict(observation, actions, generator)
        latents = self._unpatchify(self._last_imagined)
        return {"offsets": list(self.config.future_offsets), "latents": latents, "frames": frames.cpu().numpy()}

    @torch.no_grad()
    def inverse_dynamics(
        self, observation: dict[str, torch.Tensor], future_images: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Actions (B, K, A) that lead from the observation to the given future frames (B, F, H, W, 3)."""
        cfg = self.config
        require(
            future_images.dim() == 5 and future_images.shape[1] == len(cfg.future_offsets),
            f"inverse dynamics takes {len(cfg.future_offsets)} future frames per sample (offsets {cfg.future_offsets}), "
            f"got shape {tuple(future_images.shape)}",
        )
        context = self._context(observation["image"], observation["state"], observation["task_index"])
        b, n, dev = context.shape[0], cfg.sampling_steps, context.device
        z = self.substrate.encode(future_images.flatten(0, 1).to(dev))
        s = self._patchify(z.view(b, -1, *z.shape[1:]))
        _, a = self._initial_noise(b, generator, dev)
        for i in range(n):
            _, v_a = self._velocity(context, s, self._times(b, 1.0, dev), a, self._times(b, i / n, dev))
            a = a + v_a / n
        return self.action_norm.inverse(a)

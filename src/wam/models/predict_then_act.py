"""Reference WAM 1, predict-then-act: p(s | o, l) · q(a | o, s, l)  (post-prediction head).

Lineage: UniPi (Du et al. 2023) generates the future video and decodes actions with an inverse
dynamics model; AVDC and Vidar keep that split. Here, small and on our data:

  1. generator  p(s | o, l): a conv U-Net (or a DiT: `generator=dit`) denoises the future frames
     at `future_offsets` (in the chosen substrate: raw pixels, or latents of a frozen autoencoder)
     from the current frame's substrate map and the observation conditioning. Trained on every
     episode, labelled or not.
  2. inverse dynamics  q(a | o, s, l): a conv encoder reads the predicted future; with the
     observation conditioning it feeds the flow-matching action head. Its action loss uses
     labelled episodes only (its reading of the future also trains, on every episode, through a
     small head that predicts future proprio); it reads real futures (teacher forcing) lightly
     noised, so that at run time it tolerates the generator's imperfect futures.

At inference the future is generated first and the action is decoded from it: the prediction is
*consumed* by the action path (the boundary rule's first case). Shapes: B batch, F future frames,
C/h/w substrate map, K chunk, A action dim.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
from torch import nn

from wam.action_head import ActionFlowHead
from wam.anatomy import Anatomy, Backbone, Coupling, FutureUse, Regime, Substrate
from wam.backbones.conv import ConvEncoder
from wam.backbones.dit import DiT, patchify, unpatchify
from wam.backbones.mlp import timestep_embedding
from wam.backbones.unet import UNet
from wam.conditioning import ObservationConfig, ObservationEncoder, shift_with_futures
from wam.data.cache import DataSpec, WindowSpec
from wam.data.normalize import Normalizer
from wam.errors import require
from wam.models.base import WamModel, register
from wam.objectives import OBJECTIVES, make_objective
from wam.substrates import SUBSTRATES, make_substrate


GENERATORS = ("unet", "dit")


class DiTGenerator(nn.Module):
    """The generator on the DiT backbone: (x_t (B, F*C, h, w), current (B, C, h, w), cond (B, D)).

    Tokens: the current frame's patches (stream 1, given) then the noisy future patches (stream 0,
    at time t); the observation conditioning enters every block's adaLN, the time only stream 0's.
    """

    def __init__(self, shape: tuple[int, int, int], n_future: int, cond_dim: int, patch: int, width: int, depth: int):
        super().__init__()
        c, h, w = shape
        require(h % patch == 0 and w % patch == 0, f"substrate map {h}x{w} is not divisible by patch {patch}")
        self.shape, self.n_future, self.patch = shape, n_future, patch
        per_frame, token_dim = (h // patch) * (w // patch), c * patch * patch
        self.inp = nn.Linear(token_dim, width)
        self.pos = nn.Parameter(torch.randn((n_future + 1) * per_frame, width) * 0.02)
        self.cond = nn.Linear(cond_dim, width)
        self.given = nn.Parameter(torch.zeros(width))
        self.trunk = DiT(width, depth, heads=4)
        self.out = nn.Linear(width, token_dim)
        self.register_buffer(
            "token_stream", torch.tensor([1] * per_frame + [0] * (n_future * per_frame)), persistent=False
        )

    def forward(self, x_t: torch.Tensor, current: torch.Tensor, cond_t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        c, h, w = self.shape
        b, f = x_t.shape[0], self.n_future
        future = patchify(x_t.reshape(b * f, c, h, w), self.patch).reshape(b, -1, c * self.patch**2)
        tokens = self.inp(torch.cat([patchify(current, self.patch), future], dim=1)) + self.pos
        streams = torch.stack([self.cond(cond_t), self.cond(cond) + self.given], dim=1)  # (B, 2, D)
        out = self.out(self.trunk(tokens, streams, self.token_stream)[:, -future.shape[1] :])
        maps = unpatchify(out.reshape(b * f, -1, out.shape[-1]), c, h, w, self.patch)
        return maps.reshape(b, f * c, h, w)


@dataclass
class PredictThenActConfig(ObservationConfig):
    chunk: int = 16
    """action chunk length K decoded per call"""
    future_offsets: tuple[int, ...] = (8, 16)
    """frames ahead the generator predicts (the inverse dynamics model reads all of them)"""
    substrate: str = "autoencoder"
    """where the future lives: 'autoencoder' (latents of a frozen autoencoder) or 'pixels'"""
    autoencoder: str = "runs/mt10/autoencoder/model"
    """trained `autoencoder` checkpoint (substrate 'autoencoder' only; copied into this model)"""
    autoencoder_channels: tuple[int, ...] = (16, 32, 64)
    """must match the autoencoder checkpoint"""
    latent_channels: int = 8
    """must match the autoencoder checkpoint"""
    objective: str = "flow"
    """generator objective: 'flow', 'diffusion-eps' or 'diffusion-v'"""
    generator: str = "unet"
    """generator backbone: 'unet' (conv U-Net, FiLM) or 'dit' (DiT over latent patches, adaLN)"""
    generator_channels: tuple[int, ...] = (64, 128)
    """U-Net level widths (each level halves the substrate map)"""
    patch: int = 4
    """DiT generator: substrate patch size"""
    dit_width: int = 256
    """DiT generator: width"""
    dit_depth: int = 4
    """DiT generator: blocks"""
    generator_steps: int = 10
    """denoising steps for the future at inference"""
    future_features: int = 256
    """width of the inverse dynamics model's reading of the future"""
    future_noise: float = 0.1
    """std of the noise added to real futures when training the inverse dynamics model"""
    generation_weight: float = 1.0
    """weight of the generator loss beside the action loss"""
    width: int = 512
    """action head width"""
    depth: int = 3
    """action head residual blocks"""
    noise_samples: int = 4
    """flow-matching noise draws per observation for the action head"""
    sampling_steps: int = 10
    """Euler steps of the action head at inference"""

    def validate(self) -> None:
        super().validate()
        require(self.substrate in SUBSTRATES, f"unknown substrate {self.substrate!r}; choose one of {sorted(SUBSTRATES)}")
        require(self.objective in OBJECTIVES, f"unknown objective {self.objective!r}; choose one of {sorted(OBJECTIVES)}")
        require(len(self.future_offsets) >= 1, "future_offsets must name at least one frame ahead")
        require(all(o >= 1 for o in self.future_offsets), f"future_offsets must be >= 1, got {self.future_offsets}")
        require(self.generator in GENERATORS, f"unknown generator {self.generator!r}; choose one of {list(GENERATORS)}")
        require(len(self.generator_channels) >= 1, "generator_channels must name at least one level")
        require(self.future_noise >= 0, f"future_noise must be >= 0, got {self.future_noise}")
        require(self.generation_weight > 0, f"generation_weight must be > 0, got {self.generation_weight}")
        if self.objective != "flow":
            require(self.generator_steps <= 100, f"generator_steps must be <= 100 (the diffusion schedule's steps), got {self.generator_steps}")
        for name in ("chunk", "patch", "dit_width", "dit_depth", "generator_steps", "future_features", "width", "depth", "noise_samples", "sampling_steps"):
            require(getattr(self, name) >= 1, f"{name} must be >= 1, got {getattr(self, name)}")


@register
class PredictThenAct(WamModel):
    name = "predict-then-act"
    anatomy = Anatomy(
        substrate=Substrate.PIXEL_LATENT,  # the default; a 'pixels' run records Substrate.PIXEL
        coupling=Coupling.POST_PREDICTION_HEAD,
        backbone=Backbone.DIFFUSION,
        regimes=(Regime.CHUNKED, Regime.OPEN_LOOP, Regime.SINGLE_STEP),
        lineage="UniPi / AVDC / Vidar lineage",
        future_use=(FutureUse.CONSUMED,),
    )
    config_class = PredictThenActConfig
    capabilities = frozenset({"predict", "plan"})
    needs_action_labels = False  # the generator learns from action-free episodes

    def __init__(self, config: PredictThenActConfig, spec: DataSpec):
        super().__init__(config, spec)
        size = spec.image_shape[0]
        self.substrate = make_substrate(config.substrate, size, tuple(config.autoencoder_channels), config.latent_channels)
        c, h, w = self.substrate.shape
        n_future = len(config.future_offsets)
        div = 2 ** (len(config.generator_channels) - 1)
        require(
            config.generator != "unet" or h % div == 0,
            f"substrate map {h}x{w} is not divisible by {div}: use fewer generator_channels levels",
        )
        self.objective = make_objective(config.objective)
        self.state_norm = Normalizer(spec.state_dim, "mean_std")
        self.encoder = ObservationEncoder(config, spec)
        # 1. generator p(s | o, l)
        self.time_mlp = nn.Sequential(nn.Linear(128, config.cond_dim), nn.SiLU(), nn.Linear(config.cond_dim, config.cond_dim))
        if config.generator == "unet":  # the current map rides along on channels
            self.generator = UNet(c * (n_future + 1), c * n_future, config.cond_dim, tuple(config.generator_channels))
        else:  # the current map is a set of given tokens
            self.generator = DiTGenerator((c, h, w), n_future, config.cond_dim, config.patch, config.dit_width, config.dit_depth)
        # 2. inverse dynamics q(a | o, s, l)
        stages = max(1, (h // 4).bit_length() - 1)  # reduce the map to about 4x4
        self.future_encoder = ConvEncoder(
            h, (64, 128, 128, 128)[:stages], config.future_features, in_channels=c * (n_future + 1)
        )
        self.idm_fuse = nn.Sequential(
            nn.Linear(config.cond_dim + config.future_features, config.cond_dim),
            nn.SiLU(),
            nn.Linear(config.cond_dim, config.cond_dim),
        )
        self.head = ActionFlowHead(
            spec.action_dim, config.chunk, config.cond_dim, config.width, config.depth, config.noise_samples
        )
        # proprio at the future offsets, read from the same fused features: with it the model can
        # keep imagining past its first chunk (the open-loop plan), like UniPi's video plan
        self.state_head = nn.Linear(config.cond_dim, n_future * spec.state_dim) if spec.state_dim else None
        if config.substrate == "pixels":
            self.anatomy = dataclasses.replace(type(self).anatomy, substrate=Substrate.PIXEL)
        if config.future_offsets[-1] != config.chunk:  # plan() continues from the frame at the chunk's end
            regimes = tuple(r for r in self.anatomy.regimes if r is not Regime.OPEN_LOOP)
            self.anatomy = dataclasses.replace(self.anatomy, regimes=regimes)

    # -- set-up --------------------------------------------------------------------------------
    @property
    def window(self) -> WindowSpec:
        return WindowSpec(
            n_obs_steps=self.config.n_obs_steps, chunk=self.config.chunk, future_offsets=tuple(self.config.future_offsets)
        )

    def set_normalization(self, stats: dict[str, dict]) -> None:
        if self.spec.state_dim:
            self.state_norm.set_stats(stats["state"])
        self.head.action_norm.set_stats(stats["action"])

    def prepare_training(self) -> None:
        if self.config.substrate == "autoencoder":
            self.substrate.load_from(self.config.autoencoder, self.spec.image_shape)

    def future_parameters(self):
        yield from self.generator.named_parameters(prefix="generator")
        yield from self.time_mlp.named_parameters(prefix="time_mlp")

    # -- the two stages ------------------------------------------------------------------------
    def _condition(self, images: torch.Tensor, state: torch.Tensor, task: torch.Tensor) -> torch.Tensor:
        return self.encoder(images[:, -self.config.image_history :], self.state_norm(state), task)

    def _denoiser(self, current: torch.Tensor, cond: torch.Tensor):
        """fn(x_t (B, F*C, h, w), t (B,)) for the objective: the generator given o and l."""

        def fn(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            cond_t = cond + self.time_mlp(timestep_embedding(t, 128))
            if isinstance(self.generator, UNet):
                return self.generator(torch.cat([x_t, current], dim=1), cond_t)
            return self.generator(x_t, current, cond_t, cond)

        return fn

    def _decode_actions_cond(self, current: torch.Tensor, future: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        reading = self.future_encoder.encode_maps(torch.cat([current, future], dim=1))
        return self.idm_fuse(torch.cat([cond, reading], dim=-1))

    def _future_state(self, idm_cond: torch.Tensor) -> torch.Tensor:
        """Normalised proprio at the future offsets, (B, F, S) (S may be 0)."""
        b, n_future = idm_cond.shape[0], len(self.config.future_offsets)
        if self.state_head is None:
            return idm_cond.new_zeros(b, n_future, 0)
        return self.state_head(idm_cond).view(b, n_future, -1)

    # -- verbs ---------------------------------------------------------------------------------
    def loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        cfg = self.config
        images, futures = shift_with_futures(batch, cfg.shift_pad)  # (B, To, ...), (B, F, H, W, 3)
        cond = self._condition(images, batch["state"], batch["task_index"])
        b, n_future = futures.shape[:2]
        with torch.no_grad():
            current = self.substrate.encode(images[:, -1])  # (B, C, h, w)
            target = self.substrate.encode(futures.flatten(0, 1))  # (B*F, C, h, w)
            target = target.reshape(b, n_future * target.shape[1], *target.shape[2:])  # (B, F*C, h, w)
        gen_loss = self.objective.loss(self._denoiser(current, cond), target).mean()
        noisy_future = target + cfg.future_noise * torch.randn_like(target)
        idm_cond = self._decode_actions_cond(current, noisy_future, cond)
        act_loss = self.head.loss(idm_cond, batch)
        # future proprio is observed in every episode, labelled or not
        state_err = (self._future_state(idm_cond) - self.state_norm(batch["future_state"])) ** 2
        state_loss = state_err.mean() if state_err.numel() else state_err.sum()
        loss = cfg.generation_weight * gen_loss + act_loss + state_loss
        return loss, {
            "generation_loss": float(gen_loss.detach()),
            "action_loss": float(act_loss.detach()),
            "state_loss": float(state_loss.detach()),
        }

    @torch.no_grad()
    def imagine(self, observation: dict[str, torch.Tensor], generator: torch.Generator | None = None):
        """Sample the future in the substrate: (current (B, C, h, w), future (B, F*C, h, w), cond)."""
        cond = self._condition(observation["image"], observation["state"], observation["task_index"])
        current = self.substrate.encode(observation["image"][:, -1])
        c, h, w = self.substrate.shape
        noise = torch.randn(current.shape[0], c * len(self.config.future_offsets), h, w, generator=generator).to(current.device)
        future = self.objective.sample(self._denoiser(current, cond), noise, self.config.generator_steps)
        return current, future, cond

    @torch.no_grad()
    def act(self, observation: dict[str, torch.Tensor], generator: torch.Generator | None = None) -> torch.Tensor:
        current, future, cond = self.imagine(observation, generator)
        self._last_future = future  # kept for fidelity scoring (`last_prediction`)
        return self.head.sample(self._decode_actions_cond(current, future, cond), self.config.sampling_steps, generator)

    def reset(self) -> None:
        self._last_future = None

    @torch.no_grad()
    def plan(self, observation: dict[str, torch.Tensor], horizon: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Open-loop: plan `horizon` actions from one observation, (B, horizon, A).

        Each segment imagines the future, decodes a chunk, then continues from the imagined frame
        and proprio at the chunk's end, never looking at the environment again (UniPi's video plan
        followed open-loop). Needs the last future offset to equal the chunk length.
        """
        cfg = self.config
        require(
            cfg.future_offsets[-1] == cfg.chunk,
            f"open-loop planning continues from the frame `chunk` ({cfg.chunk}) steps ahead; future_offsets end at {cfg.future_offsets[-1]}",
        )
        images, states = observation["image"], observation["state"]
        chunks, first_future = [], None
        while sum(c.shape[1] for c in chunks) < horizon:
            obs = {"image": images, "state": states, "task_index": observation["task_index"]}
            current, future, cond = self.imagine(obs, generator)
            first_future = future if first_future is None else first_future
            idm_cond = self._decode_actions_cond(current, future, cond)
            chunks.append(self.head.sample(idm_cond, cfg.sampling_steps, generator))
            # Continue from the imagined end of the chunk. The history is filled with that one
            # frame and proprio (as at an episode start), not appended to the real one: two
            # entries `chunk` steps apart would look like a speed the model never saw.
            _, frames = self._frames(future)
            next_state = self.state_norm.inverse(self._future_state(idm_cond)[:, -1])
            images = frames[:, -1:].expand(-1, images.shape[1], -1, -1, -1).to(images.device)
            states = next_state[:, None].expand(-1, states.shape[1], -1)
        self._last_future = first_future
        return torch.cat(chunks, dim=1)[:, :horizon]

    def _frames(self, future: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, F*C, h, w) substrate maps -> (latents (B, F, C, h, w), uint8 frames (B, F, H, W, 3))."""
        b, n_future = future.shape[0], len(self.config.future_offsets)
        latents = future.reshape(b, n_future, -1, *future.shape[2:])
        frames = self.substrate.decode(latents.flatten(0, 1))
        frames = ((frames + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1)
        return latents, frames.reshape(b, n_future, *self.spec.image_shape)

    @torch.no_grad()
    def predict(self, observation: dict[str, torch.Tensor], generator: torch.Generator | None = None) -> torch.Tensor:
        """Predicted future frames, uint8 (B, F, H, W, 3), at `future_offsets` steps ahead."""
        _, future, _ = self.imagine(observation, generator)
        return self._frames(future)[1]

    @torch.no_grad()
    def last_prediction(self) -> dict | None:
        if getattr(self, "_last_future", None) is None:
            return None
        latents, frames = self._frames(self._last_future)
        return {"offsets": list(self.config.future_offsets), "frames": frames.cpu().numpy(), "latents": latents}

    @torch.no_grad()
    def encode_substrate(self, frames: torch.Tensor) -> torch.Tensor:
        return self.substrate.encode(frames)

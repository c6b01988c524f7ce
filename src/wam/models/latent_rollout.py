"""Reference WAM 3: action-conditioned latent rollout ("score actions"; TD-MPC2 / DINO-WM lineage).

    q(a | c) · p(s | c, a):  a proposer offers action chunks, the world model imagines their
    consequences in latent space, and the imagined consequences decide which chunk runs.

The parts, top to bottom:
  encoder   o_t -> z_t. Trained here, jointly with the dynamics (TD-MPC2 style): the observation
            encoder shared by every model, projected to a latent and SimNorm-ed (softmax over
            groups of 8) so the latent cannot collapse in scale.
  dynamics  z_{t+1} = f(z_t, a_t), step-wise, and F(z_t, a_{t:t+H}) = z_{t+H}, chunk-level (one
            forward for the whole chunk). Trained with multi-step latent consistency against
            stop-gradient encodings of the real future frames, weighted rho^k along the horizon.
  scorer    a reward head r(z, a) and a value head V(z) trained on discounted returns-to-go of
            the dataset's episodes (episode ends treated as absorbing). The score of a chunk is
            sum_k gamma^k r(z_k, a_k) + gamma^H V(z_H).
            Why not a distance to a goal latent (DINO-WM)? Meta-World tasks are given by an
            instruction, not a goal image, and no goal frame exists at test time. Dense shaped
            rewards exist in the data, so the scorer learns what the task rewards instead.
  judge     a success head P(solved | z), trained on the imagined latents z_{t+k} against the
            dataset's per-step success flags (solved after action t+k-1). Planning does not use
            it (the shaped reward ranks chunks better than a sparse flag); it lets the causality
            probe judge success inside the model's own imagined rollout (docs/probes.md).
  planner   by name (wam.planners): `select` scores N proposals from a policy and runs the best;
            `cem` / `mppi` refine a Gaussian over chunks, from scratch or warm-started by proposals.

The proposer is any registered policy or WAM checkpoint, attached at evaluation
(`wam eval --proposals flow-policy`). It is not part of this model's weights.

In the interactive regime (`wam eval --regime interactive --observation-gain g`) the latent is a
belief carried across calls: stepped through the executed actions, then corrected by the new
observation with gain g (`act_interactive`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from wam.anatomy import Anatomy, Backbone, Coupling, FutureUse, Regime, Substrate
from wam.conditioning import ObservationConfig, ObservationEncoder, shift_images
from wam.data.cache import DataSpec, WindowSpec
from wam.data.normalize import Normalizer
from wam.errors import WamError, require, unknown_choice
from wam.models.base import WamModel, parse_flag, parse_number, register
from wam.planners import PLANNER_NAMES, PlannerSettings, get_planner

ROLLOUTS = ("step", "chunk")


@dataclass
class LatentRolloutConfig(ObservationConfig):
    n_obs_steps: int = 1
    """the latent is the state: one observation (image + proprio) per latent"""
    encoder_channels: tuple[int, ...] = (16, 32, 64, 64)
    """a lighter encoder than the policies': it encodes H+1 frames per training sample"""
    image_features: int = 128
    latent_dim: int = 128
    """latent size (SimNorm groups of `simnorm_group`)"""
    simnorm_group: int = 8
    width: int = 256
    """MLP width of dynamics, reward and value heads"""
    horizon: int = 8
    """training horizon and planning chunk length H"""
    gamma: float = 0.95
    """discount of rewards and returns-to-go"""
    rho: float = 0.5
    """per-step weight decay of the consistency loss along the horizon"""
    consistency_weight: float = 20.0
    reward_weight: float = 0.5
    value_weight: float = 0.5
    success_weight: float = 0.5
    """weight of the success judge's loss (binary cross-entropy on imagined latents)"""
    # -- planning defaults (each also a runtime option, `wam eval --option name=value`) --
    planner: str = "select"
    """select | cem | mppi"""
    samples: int = 16
    """N: proposals scored (select) or candidates per iteration (cem, mppi)"""
    iterations: int = 3
    """cem / mppi refinement rounds"""
    elites: int = 4
    """cem elites"""
    temperature: float = 0.5
    """mppi temperature (in units of the population's score std)"""
    init_std: float = 0.5
    """std of the first sampling distribution (in action units) when not warm-started"""
    warm_start: bool = True
    """cem / mppi: seed the first population with the proposer's chunks (if one is attached)"""
    rollout: str = "step"
    """step: H one-step dynamics calls per candidate; chunk: one chunk-level call"""

    def validate(self) -> None:
        super().validate()
        require(self.latent_dim % self.simnorm_group == 0, f"latent_dim {self.latent_dim} must be a multiple of simnorm_group {self.simnorm_group}")
        require(self.horizon >= 1, f"horizon must be >= 1, got {self.horizon}")
        require(self.image_history == 1, f"latent-rollout encodes one frame per latent; image_history must be 1, got {self.image_history}")
        require(0 <= self.gamma < 1, f"gamma must be in [0, 1), got {self.gamma}")
        require(self.samples >= 1, f"samples (N) must be >= 1, got {self.samples}")
        require(self.init_std > 0, f"init_std must be > 0, got {self.init_std}")
        if self.planner not in PLANNER_NAMES:
            raise unknown_choice("planner", self.planner, PLANNER_NAMES)
        if self.rollout not in ROLLOUTS:
            raise unknown_choice("rollout", self.rollout, ROLLOUTS)
        PlannerSettings(self.samples, self.iterations, self.elites, self.temperature)  # validates


def simnorm(z: torch.Tensor, group: int) -> torch.Tensor:
    """Softmax over groups of `group` entries (TD-MPC2's SimNorm): a bounded, non-collapsing latent."""
    shape = z.shape
    return F.softmax(z.view(*shape[:-1], -1, group), dim=-1).view(shape)


def mlp(in_dim: int, width: int, out_dim: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(in_dim, width), nn.LayerNorm(width), nn.Mish(), nn.Linear(width, width), nn.LayerNorm(width), nn.Mish(), nn.Linear(width, out_dim)
    )


@register
class LatentRollout(WamModel):
    name = "latent-rollout"
    anatomy = Anatomy(
        substrate=Substrate.FEATURE_TEACHER,
        coupling=Coupling.ACTION_CONDITIONED_ROLLOUT,
        backbone=Backbone.JEPA,
        regimes=(Regime.CHUNKED, Regime.SINGLE_STEP, Regime.INTERACTIVE),
        action_representation="continuous chunk (proposed, then scored)",
        lineage="TD-MPC2 / DINO-WM",
        future_use=(FutureUse.SCORES,),
    )
    config_class = LatentRolloutConfig
    capabilities = frozenset({"score", "forward_dynamics"})
    imagines_any_horizon = True  # imagine() steps the latent through any number of actions
    runtime_options = {
        "planner": "select | cem | mppi",
        "samples": "N >= 1: proposals scored, or candidates per planner iteration",
        "iterations": "cem/mppi refinement rounds >= 1",
        "warm_start": "true | false: seed cem/mppi with the proposer's chunks",
        "rollout": "step | chunk: step-wise or chunk-level latent rollout",
    }

    def __init__(self, config: LatentRolloutConfig, spec: DataSpec):
        super().__init__(config, spec)
        c = config
        self.state_norm = Normalizer(spec.state_dim, "mean_std")
        self.action_norm = Normalizer(spec.action_dim, "min_max")  # also gives the planners' bounds
        self.encoder = ObservationEncoder(c, spec)
        self.to_latent = nn.Linear(c.cond_dim, c.latent_dim)
        a, h = spec.action_dim, c.horizon
        self.dynamics = mlp(c.latent_dim + a, c.width, c.latent_dim)
        self.chunk_dynamics = mlp(c.latent_dim + h * a, c.width, c.latent_dim)
        self.reward = mlp(c.latent_dim + a, c.width, 1)
        self.chunk_reward = mlp(c.latent_dim + h * a, c.width, 1)  # discounted sum over the chunk
        self.value = mlp(c.latent_dim, c.width, 1)
        self.success = mlp(c.latent_dim, c.width, 1)  # logit of P(task solved | z)
        # Rewards and values are learned in units of the dataset's largest reward.
        self.register_buffer("reward_scale", torch.ones(()))
        # 1 once trained on data with per-step success flags; 0: the judge never saw a label.
        self.register_buffer("success_trained", torch.zeros(()))
        nn.init.zeros_(self.reward[-1].weight)
        nn.init.zeros_(self.value[-1].weight)
        self.proposer: WamModel | None = None
        self._last_plan_info: dict = {}

    may_skip_parameters = True  # data without success flags leaves the judge out of the loss (DDP must know)

    def future_parameters(self):
        """The world model that imagines and scores the future (the encoder is its input side)."""
        for part in ("dynamics", "chunk_dynamics", "reward", "chunk_reward", "value"):
            yield from getattr(self, part).named_parameters(prefix=part)

    # -- data ---------------------------------------------------------------------------------
    @property
    def window(self) -> WindowSpec:
        h = self.config.horizon
        n_obs = self.config.n_obs_steps
        if self.proposer is not None:  # the runner keeps enough history for both models
            n_obs = max(n_obs, self.proposer.window.n_obs_steps)
        return WindowSpec(n_obs_steps=n_obs, chunk=h, future_offsets=tuple(range(1, h + 1)), gamma=self.config.gamma)

    def set_normalization(self, stats: dict[str, dict]) -> None:
        if "reward" not in stats:
            raise WamError("latent-rollout needs per-step rewards ('next.reward'); collect data with `wam collect`")
        if self.spec.state_dim:
            self.state_norm.set_stats(stats["state"])
        self.action_norm.set_stats(stats["action"])
        self.reward_scale.fill_(max(float(abs(stats["reward"]["max"][0])), float(abs(stats["reward"]["min"][0])), 1e-6))
        self.success_trained.fill_(1.0 if "success" in stats else 0.0)

    def upgrade_state_dict(self, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Checkpoints from before the success judge: keep this model's fresh head, marked untrained."""
        if "success_trained" not in tensors:
            fresh = {k: v for k, v in self.state_dict().items() if k.startswith("success.")}
            tensors = {**tensors, **fresh, "success_trained": torch.zeros(())}
        return tensors

    # -- the world model ----------------------------------------------------------------------
    def encode(self, images: torch.Tensor, state: torch.Tensor, task: torch.Tensor) -> torch.Tensor:
        """images (B, Ti, H, W, 3) uint8, raw state (B, To, S), task (B,) -> latent (B, D)."""
        c = self.encoder(images, self.state_norm(state), task)
        return simnorm(self.to_latent(c), self.config.simnorm_group)

    def _encode_observation(self, obs: dict[str, torch.Tensor]) -> torch.Tensor:
        n = self.config.n_obs_steps
        return self.encode(obs["image"][:, -self.config.image_history :], obs["state"][:, -n:], obs["task_index"])

    def step(self, z: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        """One step of latent dynamics; a in normalised action units."""
        return simnorm(self.dynamics(torch.cat([z, a], -1)), self.config.simnorm_group)

    def jump(self, z: torch.Tensor, chunk: torch.Tensor) -> torch.Tensor:
        """Chunk-level dynamics: z_t, normalised a_{t:t+H} (B, H, A) -> z_{t+H} in one call."""
        return simnorm(self.chunk_dynamics(torch.cat([z, chunk.flatten(1)], -1)), self.config.simnorm_group)

    # -- training -----------------------------------------------------------------------------
    def loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        c = self.config
        h, n = c.horizon, c.n_obs_steps
        images = torch.cat([batch["image"][:, -1:], batch["future_image"]], dim=1)  # (B, H+1, ...)
        if c.shift_pad > 0:
            images = shift_images(images, c.shift_pad)  # one shift per sample, shared along time
        states = torch.cat([batch["state"][:, -n:], batch["future_state"]], dim=1)  # (B, H+n, S)
        b = images.shape[0]
        z0 = self.encode(images[:, :1], states[:, :n], batch["task_index"])
        with torch.no_grad():  # stop-gradient targets (TD-MPC2): the H future frames in one batched call
            future_states = torch.stack([states[:, k : k + n] for k in range(1, h + 1)], dim=1)  # (B, H, n, S)
            task = batch["task_index"].repeat_interleave(h)
            targets = self.encode(images[:, 1:].flatten(0, 1)[:, None], future_states.flatten(0, 1), task).view(b, h, -1)
        actions = self.action_norm(batch["action"])  # (B, H, A)
        device = actions.device
        # valid[:, k]: action t+k exists (reward and value targets at t+k exist).
        valid = (~batch["action_is_pad"]).float() * batch["labelled"].float()[:, None]  # (B, H)
        # seen[:, k]: the frame after action t+k exists too. The last action of an episode has no
        # next frame (the cache clamps it to the last one), so it gets no consistency target.
        seen = valid * (~batch["future_is_pad"]).float()
        rewards = batch["reward"] / self.reward_scale
        returns = batch["return_to_go"] * (1 - c.gamma) / self.reward_scale  # (B, H+1), in reward units
        weights = c.rho ** torch.arange(h, dtype=torch.float32, device=device)
        denom = valid.sum().clamp_min(1.0)

        # success[:, k]: the task is solved after action t+k (absent: the data has no flags).
        solved = batch["success"].float() if "success" in batch else None

        z, consistency, reward_loss, value_loss, success_loss = z0, 0.0, 0.0, 0.0, 0.0
        for k in range(h):
            reward_loss = reward_loss + (valid[:, k] * (self.reward(torch.cat([z, actions[:, k]], -1))[:, 0] - rewards[:, k]) ** 2).sum()
            value_loss = value_loss + (valid[:, k] * (self.value(z)[:, 0] - returns[:, k]) ** 2).sum()
            z = self.step(z, actions[:, k])
            consistency = consistency + weights[k] * (seen[:, k] * ((z - targets[:, k]) ** 2).mean(-1)).sum()
            if solved is not None:
                # Judged on the latent the dynamics predicts after the action, never on a real
                # frame's encoding: the episodes end at their first success, so the dataset holds
                # no frame of a solved task (the action that solves it is the last one recorded).
                bce = F.binary_cross_entropy_with_logits(self.success(z)[:, 0], solved[:, k], reduction="none")
                success_loss = success_loss + (valid[:, k] * bce).sum()
        # The value at depth H is what planning bootstraps from: train it there as well.
        value_loss = value_loss + (seen[:, -1] * (self.value(z)[:, 0] - returns[:, h]) ** 2).sum()
        # Chunk-level dynamics and reward: supervised only where the whole chunk and the frame
        # after it are inside the episode.
        full = seen.prod(1)
        z_jump = self.jump(z0, actions)
        discounts = c.gamma ** torch.arange(h, dtype=torch.float32, device=device)
        chunk_return = (rewards * discounts).sum(1)
        chunk_pred = self.chunk_reward(torch.cat([z0, actions.flatten(1)], -1))[:, 0]
        chunk_loss = (full * (((z_jump - targets[:, -1]) ** 2).mean(-1) + (chunk_pred - chunk_return) ** 2 / h)).sum()
        chunk_loss = chunk_loss / full.sum().clamp_min(1.0)

        consistency = consistency / seen.sum().clamp_min(1.0)
        reward_loss, value_loss = reward_loss / denom, value_loss / (denom + seen[:, -1].sum())
        total = c.consistency_weight * consistency + c.reward_weight * reward_loss + c.value_weight * value_loss + chunk_loss
        logs = {
            "consistency": float(consistency.detach()),
            "reward_loss": float(reward_loss.detach()),
            "value_loss": float(value_loss.detach()),
            "chunk_loss": float(chunk_loss.detach()),
        }
        if solved is not None:
            success_loss = success_loss / denom
            total = total + c.success_weight * success_loss
            logs["success_loss"] = float(success_loss.detach())
        return total, logs

    # -- scoring ------------------------------------------------------------------------------
    @torch.no_grad()
    def score_latent(self, z0: torch.Tensor, chunks: torch.Tensor, rollout: str | None = None) -> torch.Tensor:
        """z0 (1 or N, D), chunks (N, H, A) in action units -> imagined discounted return (N,)
        in reward units: sum_k gamma^k r(z_k, a_k) + gamma^H V(z_H) / (1 - gamma)."""
        c = self.config
        actions = self.action_norm(chunks)
        n, h = actions.shape[:2]
        require(h == c.horizon, f"candidates have {h} steps, the world model plans {c.horizon}")
        z = z0.expand(n, -1)
        if (rollout or c.rollout) == "chunk":
            ret = self.chunk_reward(torch.cat([z, actions.flatten(1)], -1))[:, 0]
            z = self.jump(z, actions)
        else:
            ret = torch.zeros(n, device=z.device)
            for k in range(h):
                ret = ret + c.gamma**k * self.reward(torch.cat([z, actions[:, k]], -1))[:, 0]
                z = self.step(z, actions[:, k])
        return (ret + c.gamma**h * self.value(z)[:, 0] / (1 - c.gamma)) * self.reward_scale

    @torch.no_grad()
    def score(self, observation: dict[str, torch.Tensor], chunks: torch.Tensor) -> torch.Tensor:
        """Score candidate chunks (N, H, A) from one observation (batch of one)."""
        return self.score_latent(self._encode_observation(observation), chunks)

    # -- forward dynamics (for probes) ------------------------------------------------------
    @torch.no_grad()
    def encode_observation(self, observation: dict[str, torch.Tensor]) -> torch.Tensor:
        return self._encode_observation(observation)

    @torch.no_grad()
    def imagine(self, observation, actions, generator=None) -> dict:
        """Latents after each action (step-wise rollout, any number of steps: persistence runs it
        past the training horizon); no frames: the latent has no decoder."""
        latents = self._roll(self._encode_observation(observation), actions)
        return {"offsets": list(range(1, len(latents) + 1)), "latents": torch.stack(latents, 1), "frames": None}

    # -- acting -------------------------------------------------------------------------------
    def attach_proposer(self, proposer: WamModel | None) -> None:
        """Use `proposer` (any registered policy or WAM) for proposals and warm starts."""
        if proposer is not None:
            if proposer.spec.action_dim != self.spec.action_dim:
                raise WamError(
                    f"proposal model '{proposer.name}' outputs {proposer.spec.action_dim}-d actions; "
                    f"the world model takes {self.spec.action_dim}-d"
                )
            if proposer.window.chunk < self.config.horizon:
                raise WamError(
                    f"proposal model '{proposer.name}' proposes {proposer.window.chunk}-step chunks; "
                    f"the world model plans {self.config.horizon} steps (proposals may be longer, never shorter)"
                )
            if tuple(proposer.spec.task_names) != tuple(self.spec.task_names):
                raise WamError(
                    f"proposal model '{proposer.name}' was trained on tasks {list(proposer.spec.task_names)}, "
                    f"the world model on {list(self.spec.task_names)}"
                )
        # Not a registered submodule: the proposer's weights stay in its own checkpoint.
        object.__setattr__(self, "proposer", proposer)

    def reset(self) -> None:
        if self.proposer is not None:  # a stateful proposer (e.g. a cached future) starts afresh too
            self.proposer.reset()

    def _needs_proposals(self) -> bool:
        return self.config.planner == "select" or self.config.warm_start

    def check_ready(self) -> None:
        if self._needs_proposals() and self.proposer is None:
            c = self.config
            what = "planner 'select'" if c.planner == "select" else f"a warm-started '{c.planner}'"
            hint = "" if c.planner == "select" else " (or --option warm_start=false to plan from scratch)"
            raise WamError(f"{what} needs a proposal model: pass --proposals <model> to `wam eval`{hint}")

    @torch.no_grad()
    def act(self, observation: dict[str, torch.Tensor], generator: torch.Generator | None = None) -> torch.Tensor:
        """One plan per observation; a batch is planned row by row (each plan is itself batched)."""
        rows = observation["image"].shape[0]
        if rows > 1:
            return torch.cat([self.act({k: v[i : i + 1] for k, v in observation.items()}, generator) for i in range(rows)])
        return self._plan_one(observation, generator)

    @torch.no_grad()
    def act_interactive(self, observation, carry, executed, observation_gain: float, generator=None):
        """The interactive regime: plan from a latent belief carried across calls.

        The carried latent (the one the previous call planned from) is stepped through the actions
        executed since, then blended with the new observation's latent:
        z = g * enc(o) + (1 - g) * f(z_prev, a_executed). Both are SimNorm simplices per group, so
        their convex combination is one too: the blended latent stays on the manifold the
        dynamics and the heads were trained on. g = 1 plans from enc(o) alone, as `act` does.
        A proposer that warm-starts the planner is a separate policy and still reads the camera;
        only the world model's own latent is carried (plan from scratch to take the camera away).
        """
        require(observation["image"].shape[0] == 1, "the interactive regime carries one episode's latent (batch of one)")
        z = self._encode_observation(observation)
        if carry is not None and observation_gain < 1.0:
            imagined = carry if executed is None else self._roll(carry, np.asarray(executed)[None])[-1]
            z = observation_gain * z + (1.0 - observation_gain) * imagined
        return self._plan_one(observation, generator, z0=z), z

    def _roll(self, z: torch.Tensor, actions) -> list[torch.Tensor]:
        """The latents (B, D) after each step of `actions` (B, n, A), in action units, from z (B or 1, D)."""
        normed = self.action_norm(torch.as_tensor(np.asarray(actions), dtype=z.dtype))
        latents = []
        for k in range(normed.shape[1]):
            z = self.step(z, normed[:, k])
            latents.append(z)
        return latents

    # -- imagination: acting in the latent alone, judged by the success head ----------------------
    def imagination_unavailable(self) -> str | None:
        if not bool(self.success_trained):
            return ("its success judge was never trained (no per-step success flags in its training data, "
                    "or a checkpoint from before the judge)")
        if self._needs_proposals():
            return ("its planner takes proposals from a policy that reads camera images, which the latent imagination "
                    "does not render; plan from scratch to measure it (--option planner=cem --option warm_start=false)")
        return None

    @torch.no_grad()
    def imagination_start(self, observation: dict[str, torch.Tensor]) -> torch.Tensor:
        return self._encode_observation(observation)

    @torch.no_grad()
    def imagination_act(self, belief: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        reason = self.imagination_unavailable()
        if reason is not None:
            raise WamError(f"latent-rollout cannot act in imagination: {reason}")
        return self._plan_one(None, generator, z0=belief)  # without proposals the plan reads only the latent

    @torch.no_grad()
    def imagination_step(self, belief: torch.Tensor, actions) -> tuple[torch.Tensor, np.ndarray]:
        latents = self._roll(belief, np.asarray(actions)[None])
        solved = torch.sigmoid(self.success(torch.cat(latents))[:, 0]) if latents else torch.zeros(0)
        return (latents[-1] if latents else belief), solved.numpy()

    @torch.no_grad()
    def judge_step(self, observation: dict[str, torch.Tensor], action) -> float:
        """One dynamics step from the real observation's latent, judged: the input the head trains on."""
        z = self._roll(self._encode_observation(observation), np.asarray(action)[None, None])[-1]
        return float(torch.sigmoid(self.success(z))[0, 0])

    def _plan_one(self, observation: dict[str, torch.Tensor], generator: torch.Generator | None, z0: torch.Tensor | None = None) -> torch.Tensor:
        c = self.config
        if z0 is None:
            z0 = self._encode_observation(observation)
        proposals = None
        if self._needs_proposals():
            if self.proposer is None:
                self.check_ready()  # raises
            else:
                n_prop = self.proposer.window.n_obs_steps
                prop_obs = {
                    "image": observation["image"][:, -n_prop:],
                    "state": observation["state"][:, -n_prop:],
                    "task_index": observation["task_index"],
                }
                proposals = self.proposer.propose(prop_obs, c.samples, generator)[:, : c.horizon]
        if c.planner == "select" and len(proposals) == 1:  # N = 1: the proposer alone, nothing to score
            self._last_plan_info = {"evaluated": 0}
            return proposals[:1]
        low = self.action_norm.inverse(-torch.ones(self.spec.action_dim))
        high = self.action_norm.inverse(torch.ones(self.spec.action_dim))
        mean = ((low + high) / 2).expand(c.horizon, -1).clone()
        std = torch.full_like(mean, c.init_std)
        settings = PlannerSettings(c.samples, c.iterations, c.elites, c.temperature)
        plan, info = get_planner(c.planner)(
            lambda chunks: self.score_latent(z0, chunks), (mean, std), settings, generator, low, high, proposals
        )
        self._last_plan_info = info
        return plan[None]

    # -- runtime options ----------------------------------------------------------------------
    def runtime_values(self) -> dict[str, str]:
        c = self.config
        return {
            "planner": c.planner,
            "samples": str(c.samples),
            "iterations": str(c.iterations),
            "warm_start": str(c.warm_start).lower(),
            "rollout": c.rollout,
        }

    def set_runtime_option(self, name: str, value: str) -> None:
        c = self.config
        if name == "planner":
            if value not in PLANNER_NAMES:
                raise unknown_choice("planner", value, PLANNER_NAMES)
            c.planner = value
        elif name in ("samples", "iterations"):
            note = " (the number of proposals N)" if name == "samples" else " (CEM/MPPI refinement rounds)"
            setattr(c, name, parse_number(name, value, int, 1, note=note))
        elif name == "warm_start":
            c.warm_start = parse_flag(name, value)
        elif name == "rollout":
            if value not in ROLLOUTS:
                raise unknown_choice("rollout", value, ROLLOUTS)
            c.rollout = value
        else:
            super().set_runtime_option(name, value)

"""The model interface every policy and WAM implements, and the name -> class registry.

Verbs (kept small, like TD-MPC2's):
    loss(batch)            -> (scalar loss, {name: float}) on a raw batch from the training cache
    act(observation)       -> action chunk (B, K, A), in the dataset's action units
    reset()                -> forget any per-episode state (caches, warm starts)
Optional: `act_interactive` (a state carried across calls, for the interactive regime), and the
imagination verbs (`imagination_start/act/step`, `judge_step`: acting inside the model's own
rollout and judging success there, for the causality probe).
Optional capabilities, declared in `capabilities`: "predict" (`last_prediction` returns the imagined
future with latents in the model's substrate, which event-triggered replanning compares with the
observed one), "forward_dynamics" (`imagine`), "score", "plan".

A model owns its normalisers (buffers), so a checkpoint carries its statistics. Models never
import envs, runners, trainers or the CLI: data flows envs -> data -> train -> runner -> eval.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from wam.anatomy import Anatomy
from wam.data.cache import DataSpec, WindowSpec
from wam.errors import WamError, unknown_choice

MODELS: dict[str, type[WamModel]] = {}


_TRUE, _FALSE = ("true", "1", "on", "yes"), ("false", "0", "off", "no")


def parse_flag(name: str, value: str) -> bool:
    """A runtime on/off option: 'true'/'false' (also 1/0, on/off, yes/no)."""
    v = str(value).strip().lower()
    if v in _TRUE:
        return True
    if v in _FALSE:
        return False
    raise WamError(f"{name} must be true or false, got {value!r}")


def parse_number(name: str, value: str, kind: type, lo: float, hi: float | None = None, note: str = "") -> int | float:
    """A numeric runtime option (`--option name=value`): `kind` (int or float) in [lo, hi]
    (hi=None: no upper bound), or a one-line WamError naming the option; `note` says what the
    range is, e.g. ' (the sampling steps)'."""
    if hi is None:
        bounds = f">= {lo:g}"
    else:
        bounds = f"in [{lo:g}, {hi:g}]" if kind is float else f"in {lo}..{hi}"
    try:
        number = kind(value)
    except (TypeError, ValueError):
        raise WamError(f"{name} must be {'an integer' if kind is int else 'a number'} {bounds}{note}, got {value!r}") from None
    # written so that NaN (which fails every comparison) is out of range
    if not (lo <= number and (hi is None or number <= hi)):
        raise WamError(f"{name} must be {bounds}{note}, got {number}")
    return number


def register(cls: type[WamModel]) -> type[WamModel]:
    MODELS[cls.name] = cls
    return cls


def model_class(name: str) -> type[WamModel]:
    import wam.models  # noqa: F401  (populates the registry)

    if name not in MODELS:
        raise unknown_choice("model", name, MODELS)
    return MODELS[name]


@dataclass
class ModelConfig:
    """Base of every model config; subclasses add fields with defaults and one-line docs."""

    def validate(self) -> None:
        """Raise a WamError naming any bad value (called by the model's constructor)."""


class WamModel(nn.Module):
    name: ClassVar[str]
    anatomy: ClassVar[Anatomy]
    config_class: ClassVar[type[ModelConfig]]
    capabilities: ClassVar[frozenset[str]] = frozenset()
    # forward dynamics that take any number of actions in one `imagine` call (a latent stepped
    # action by action), not only one chunk: the persistence probe's open loop needs no frames then
    imagines_any_horizon: ClassVar[bool] = False
    needs_action_labels: ClassVar[bool] = True  # a policy cannot learn from action-free episodes
    # "agent": acts in the closed loop (a policy or a WAM). "substrate": a trained component that
    # other models build on (e.g. the autoencoder); it trains with `wam train` but cannot be evaluated.
    role: ClassVar[str] = "agent"
    # Knobs that change inference but not the weights, set per evaluation (`wam eval --option k=v`).
    runtime_options: ClassVar[dict[str, str]] = {}
    # State that the trainer's weight EMA copies instead of averaging (e.g. an EMA teacher, which
    # is already an average of the student).
    ema_copy_prefixes: ClassVar[tuple[str, ...]] = ()

    def __init__(self, config: ModelConfig, spec: DataSpec):
        super().__init__()
        config.validate()
        self.config, self.spec = config, spec

    @property
    def window(self) -> WindowSpec:
        raise NotImplementedError

    def loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        raise NotImplementedError

    def forward(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        """`forward` is the training loss, so DistributedDataParallel can wrap any model."""
        return self.loss(batch)

    def act(self, observation: dict[str, torch.Tensor], generator: torch.Generator | None = None) -> torch.Tensor:
        raise NotImplementedError

    def propose(self, observation: dict[str, torch.Tensor], n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n sampled action chunks (n, K, A) for one observation (batch of one): the proposals a
        world model scores. Default: `act` on the observation repeated n times."""
        repeated = {k: v.expand(n, *v.shape[1:]) for k, v in observation.items()}
        return self.act(repeated, generator=generator)

    def reset(self) -> None:
        pass

    def act_interactive(self, observation, carry, executed, observation_gain: float, generator=None):
        """The interactive regime (a model whose anatomy declares it): act from a state carried
        across calls. carry: what the previous call returned (None at an episode's first call);
        executed: the actions (n, A) run since that call, in action units (None at the first call);
        observation_gain in [0, 1]: how far the new observation corrects the carried state (1: it
        replaces it, which must equal `act`). Returns (action chunk (1, K, A), the state to carry)."""
        raise WamError(f"model '{self.name}' carries no state across calls (no interactive regime)")

    # -- acting inside the model's own imagination (the causality probe's imagined-vs-real gap) ---
    def imagination_unavailable(self) -> str | None:
        """Why this model cannot act inside its own imagination and judge success there, or None if
        it can (then the four methods below work)."""
        return f"'{self.name}' has no success judgment on imagined futures (it cannot tell whether an imagined episode succeeds)"

    def imagination_start(self, observation: dict[str, torch.Tensor]):
        """The belief an imagined episode starts from: the first (real) observation, encoded."""
        raise WamError(self.imagination_unavailable() or f"model '{self.name}' does not implement imagination_start")

    def imagination_act(self, belief, generator: torch.Generator | None = None) -> torch.Tensor:
        """An action chunk (1, K, A) planned from the belief alone (no camera)."""
        raise WamError(self.imagination_unavailable() or f"model '{self.name}' does not implement imagination_act")

    def imagination_step(self, belief, actions):
        """Step the belief through actions (n, A) in action units -> (new belief, the judge's
        success probability after each action, (n,))."""
        raise WamError(self.imagination_unavailable() or f"model '{self.name}' does not implement imagination_step")

    def judge_step(self, observation: dict[str, torch.Tensor], action) -> float:
        """The success judge one imagined step from a real observation (batch of one): P(task
        solved after `action` (A,) is executed from there)."""
        raise WamError(self.imagination_unavailable() or f"model '{self.name}' does not implement judge_step")

    def last_prediction(self) -> dict | None:
        """The future imagined by the last `act` call, for fidelity scoring (None: no world model).

        {"offsets": [frames ahead], "frames": uint8 (B, F, H, W, 3), "latents": (B, F, C, h, w) or None}
        Called outside the timed `act`, so decoding here does not count as acting latency.
        """
        return None

    def encode_substrate(self, frames: torch.Tensor) -> torch.Tensor:
        """uint8 frames (N, H, W, 3) -> the substrate the model predicts in (for latent errors)."""
        raise WamError(f"model '{self.name}' has no substrate")

    def encode_observation(self, observation: dict[str, torch.Tensor]) -> torch.Tensor:
        """A real observation (batch) in the substrate its predictions live in, to compare them
        with. Default: the last frame through `encode_substrate`; a model whose latent also reads
        proprio and task (latent-rollout) overrides it."""
        return self.encode_substrate(observation["image"][:, -1])

    def imagine(
        self, observation: dict[str, torch.Tensor], actions: torch.Tensor, generator: torch.Generator | None = None
    ) -> dict:
        """Forward dynamics ("forward_dynamics" capability): the future under a given action chunk
        (B, K, A) -> {"offsets": [steps ahead], "latents": (B, F, ...), "frames": uint8 (B, F, H, W, 3) or None}."""
        raise WamError(f"model '{self.name}' has no forward dynamics (it cannot predict the future under given actions)")

    def runtime_values(self) -> dict[str, str]:
        """Current value of every runtime option (recorded in each evaluation's protocol)."""
        return {}

    def check_ready(self) -> None:
        """Raise a WamError if the model cannot act as configured (called before an evaluation)."""

    def set_runtime_option(self, name: str, value: str) -> None:
        known = ", ".join(sorted(self.runtime_options)) or "none"
        raise WamError(f"model '{self.name}' has no runtime option {name!r} (it has: {known})")

    def upgrade_state_dict(self, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Rename tensors of checkpoints written by an older layout of this model (default: none)."""
        return tensors

    def prepare_training(self) -> None:
        """Called once by the trainer before the first step: load frozen pretrained parts (e.g. an
        autoencoder substrate named in the config). Loading a saved model never calls it: the
        frozen parts are inside the model's own checkpoint."""

    def after_optimizer_step(self, step: int) -> None:
        """Called by the trainer after every optimiser step (`step` counts from 1): for updates that
        are not gradient steps, e.g. an EMA teacher following its student."""

    def set_instruction_embeddings(self, table: torch.Tensor) -> None:
        """(num_tasks, 384) sentence embeddings of `spec.task_names`; kept by the model's shared
        observation encoder (`self.encoder`, see wam.conditioning) when it has one."""
        encoder = getattr(self, "encoder", None)
        if encoder is not None:
            encoder.set_instruction_embeddings(table)

    def set_normalization(self, stats: dict[str, dict]) -> None:
        """Load dataset statistics into the model's normalisers (before training)."""
        raise NotImplementedError

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

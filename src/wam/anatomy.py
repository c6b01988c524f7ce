"""The survey's anatomy as types: WAM = (substrate, coupling, backbone, deployment regimes).

Every registered model declares its `Anatomy`. `wam models` prints them; eval.json records them.
See ../shared/notes/wam-anatomy.md (survey arXiv 2606.20781) for the vocabulary.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import Enum


class Substrate(str, Enum):
    """Where the predicted future lives (Φ)."""

    NONE = "none"  # a policy predicts no future
    PIXEL = "pixel"
    PIXEL_LATENT = "pixel latent"
    FEATURE_ENCODER_ONLY = "feature (encoder-only)"
    FEATURE_TEACHER = "feature (teacher)"
    LATENT_ACTION = "latent action"


class Coupling(str, Enum):
    """How the action path meets the prediction (F)."""

    NONE = "none"  # policy: no prediction in the action path
    POST_PREDICTION_HEAD = "post-prediction head"
    JOINT_GENERATION = "joint generation"
    ACTION_CONDITIONED_ROLLOUT = "action-conditioned rollout"


class Backbone(str, Enum):
    """The function family that produces the prediction or action (B)."""

    DIFFUSION = "diffusion / flow matching"
    AUTOREGRESSIVE = "autoregressive"
    JEPA = "JEPA"
    HYBRID = "hybrid"
    MLP = "MLP"


class Regime(str, Enum):
    """How the closed-loop runner calls the model (D)."""

    OPEN_LOOP = "open-loop"
    CHUNKED = "chunked"
    SINGLE_STEP = "single-step"
    INTERACTIVE = "interactive"


class FutureUse(str, Enum):
    """How a predicted future reaches the action path: the survey's boundary rule (§1)."""

    CONSUMED = "consumed by the action path at inference"
    SCORES = "scores or verifies candidate actions"
    TRAINED_RETAINED = "trained an action representation that is retained"


@dataclass(frozen=True)
class Anatomy:
    substrate: Substrate
    coupling: Coupling
    backbone: Backbone
    regimes: tuple[Regime, ...]
    action_representation: str = "continuous chunk"
    lineage: str = ""
    future_use: tuple[FutureUse, ...] = ()  # empty for a policy

    @property
    def is_wam(self) -> bool:
        return self.coupling is not Coupling.NONE

    def to_json(self) -> dict:
        d = asdict(self)
        d["substrate"], d["coupling"], d["backbone"] = self.substrate.value, self.coupling.value, self.backbone.value
        d["regimes"] = [r.value for r in self.regimes]
        d["future_use"] = [f.value for f in self.future_use]
        d["kind"] = "WAM" if self.is_wam else "policy"
        return d

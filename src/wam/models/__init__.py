"""Reference models, one per file; importing this package registers them all."""

from wam.models.base import MODELS, WamModel, model_class
from wam.models import (  # noqa: F401
    autoencoder,
    encoder_only,
    flow_policy,
    joint_diffusion,
    latent_action,
    latent_rollout,
    predict_then_act,
    teacher_target,
)

__all__ = ["MODELS", "WamModel", "model_class"]

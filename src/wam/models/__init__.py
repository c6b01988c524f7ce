"""Reference models, one per file; importing this package registers them all."""

from wam.models.base import MODELS, WamModel, model_class
from wam.models import autoencoder, flow_policy, joint_diffusion, latent_rollout, predict_then_act  # noqa: F401

__all__ = ["MODELS", "WamModel", "model_class"]

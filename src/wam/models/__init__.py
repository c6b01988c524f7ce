"""Reference models, one per file; importing this package registers them all."""

from wam.models.base import MODELS, WamModel, model_class
from wam.models import flow_policy  # noqa: F401

__all__ = ["MODELS", "WamModel", "model_class"]

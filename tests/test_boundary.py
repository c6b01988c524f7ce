"""The boundary rule: a WAM's predicted future must reach its actions; a discarded head fails."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

from wam.anatomy import Anatomy, Backbone, Coupling, FutureUse, Regime, Substrate
from wam.data.cache import DataSpec
from wam.errors import WamError
from wam.models import MODELS
from wam.models.base import ModelConfig, WamModel
from wam.models.boundary import check_boundary, synthetic_batch

SPEC = DataSpec("observation.image", (16, 16, 3), "observation.state", 4, "action", 4, 80, ("a", "b"))
OBS = {
    "image": torch.randint(0, 255, (2, 2, 16, 16, 3), dtype=torch.uint8),
    "state": torch.randn(2, 2, 4),
    "task_index": torch.tensor([0, 1]),
}


class ToyWam(WamModel):
    """Predicts a 'future' from the image, then acts from the image (and, if wired, the future)."""

    name = "toy"
    config_class = ModelConfig

    def __init__(self, use_future: bool, shared_trunk: bool, future_use: tuple[FutureUse, ...], detach_future: bool = False,
                 future_head_in_action: bool = False):
        super().__init__(ModelConfig(), SPEC)
        self.detach_future, self.future_head_in_action = detach_future, future_head_in_action
        self.anatomy = Anatomy(Substrate.PIXEL, Coupling.POST_PREDICTION_HEAD, Backbone.MLP, (Regime.CHUNKED,), future_use=future_use)
        self.use_future, self.shared = use_future, shared_trunk
        self.trunk = nn.Linear(16 * 16 * 3, 8)
        self.future_head = nn.Linear(8, 8)
        self.action_head = nn.Linear(16, 4 * 4)

    def future_parameters(self):
        yield from self.future_head.named_parameters(prefix="future_head")
        if self.shared:
            yield from self.trunk.named_parameters(prefix="trunk")

    def action_parameters(self):
        yield from self.trunk.named_parameters(prefix="trunk")
        yield from self.action_head.named_parameters(prefix="action_head")
        if self.future_head_in_action:
            yield from self.future_head.named_parameters(prefix="future_head")

    @property
    def window(self):
        from wam.data.cache import WindowSpec

        return WindowSpec(n_obs_steps=2, chunk=4, future_offsets=(2,))

    def loss(self, batch):
        h = self.trunk(batch["image"][:, -1].flatten(1).float() / 255)
        future = self.future_head(h.detach() if self.detach_future else h)
        target = self.trunk(batch["future_image"][:, 0].flatten(1).float() / 255).detach()
        action = self.action_head(torch.cat([h, future], -1)).view(-1, 4, 4)
        labelled = batch["labelled"].float()[:, None, None]
        loss = ((future - target) ** 2).mean() + (((action - batch["action"]) ** 2) * labelled).mean()
        return loss, {}

    def act(self, observation, generator=None):
        h = self.trunk(observation["image"][:, -1].flatten(1).float() / 255)
        future = self.future_head(h) if self.use_future else torch.zeros_like(h)
        return self.action_head(torch.cat([h, future], -1)).view(-1, 4, 4)


def test_a_wam_whose_future_reaches_the_action_passes():
    check_boundary(ToyWam(use_future=True, shared_trunk=False, future_use=(FutureUse.CONSUMED,)), OBS)
    check_boundary(ToyWam(use_future=False, shared_trunk=True, future_use=(FutureUse.TRAINED_RETAINED,)), OBS)


def test_a_future_that_cannot_train_the_shared_trunk_is_rejected():
    """Declared "trained and retained", but the future is computed from a detached trunk: the
    names are shared, the gradients are not."""
    from wam.models.boundary import synthetic_batch

    honest = ToyWam(use_future=False, shared_trunk=True, future_use=(FutureUse.TRAINED_RETAINED,))
    check_boundary(honest, OBS, synthetic_batch(honest))
    detached = ToyWam(use_future=False, shared_trunk=True, future_use=(FutureUse.TRAINED_RETAINED,), detach_future=True)
    check_boundary(detached, OBS)  # names alone cannot tell
    with pytest.raises(WamError, match="sends no gradient"):
        check_boundary(detached, OBS, synthetic_batch(detached))


def test_a_consumed_future_must_be_checked_on_parameters_that_only_produce_it():
    with pytest.raises(WamError, match="every parameter it names as producing the future is also an action parameter"):
        check_boundary(ToyWam(use_future=True, shared_trunk=False, future_use=(FutureUse.CONSUMED,), future_head_in_action=True), OBS)


def test_a_discarded_future_head_is_rejected():
    with pytest.raises(WamError, match="future head is discarded"):
        check_boundary(ToyWam(use_future=False, shared_trunk=False, future_use=(FutureUse.CONSUMED,)), OBS)
    with pytest.raises(WamError, match="no parameter is shared"):
        check_boundary(ToyWam(use_future=False, shared_trunk=False, future_use=(FutureUse.TRAINED_RETAINED,)), OBS)
    with pytest.raises(WamError, match="declares no future use"):
        check_boundary(ToyWam(use_future=True, shared_trunk=True, future_use=()), OBS)


SPEC64 = dataclasses.replace(SPEC, image_shape=(64, 64, 3))  # the default settings' image size
OBS64 = {**OBS, "image": torch.randint(0, 255, (2, 2, 64, 64, 3), dtype=torch.uint8)}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_registered_model_passes_the_boundary_check(name):
    cls = MODELS[name]
    model = cls(cls.config_class(), SPEC64)
    if "score" in cls.capabilities:  # plan from scratch: no proposal model is attached here
        model.set_runtime_option("planner", "cem")
        model.set_runtime_option("warm_start", "false")
    check_boundary(model, OBS64, synthetic_batch(model))
    if name == "flow-policy":
        assert not model.anatomy.is_wam  # the baseline is a policy, not a WAM

"""The survey's boundary rule as an executable check.

"A World Action Model begins when a predicted future becomes action-facing": some predicted future
must be consumed by the action path at inference, score candidate actions, or have trained an
action representation that is retained. An auxiliary future loss on a head that is thrown away
does not make a WAM.

Declarations are not trusted: the check perturbs the parameters that the model says produce its
future (`future_parameters()`) and looks at what happens to the actions (on a copy whose weights
are first randomised slightly, so that zero-initialised gates do not hide the wiring).
  - CONSUMED / SCORES: `act` (with the same sampling noise) must change.
  - TRAINED_RETAINED: the future objective must train parameters that the action path also uses
    (`action_parameters()`); a separate head that nothing reads fails.
"""

from __future__ import annotations

import copy

import torch

from wam.anatomy import FutureUse
from wam.errors import WamError
from wam.models.base import WamModel


def _act(model: WamModel, observation: dict[str, torch.Tensor]) -> torch.Tensor:
    model.reset()
    return model.act(observation, generator=torch.Generator().manual_seed(0))


def check_boundary(model: WamModel, observation: dict[str, torch.Tensor]) -> None:
    """Raise a WamError if `model`'s registration contradicts what its parameters do."""
    anatomy = model.anatomy
    if not anatomy.is_wam:
        if anatomy.future_use:
            raise WamError(f"'{model.name}' declares coupling none (a policy) but also a future use {anatomy.future_use}")
        return
    if not anatomy.future_use:
        raise WamError(f"'{model.name}' is registered as a WAM ({anatomy.coupling.value}) but declares no future use")
    if not hasattr(model, "future_parameters"):
        raise WamError(f"WAM '{model.name}' must name the parameters that produce its future (future_parameters)")
    future = dict(model.future_parameters())
    if not future:
        raise WamError(f"WAM '{model.name}' has no future-producing parameters")
    # Zero-initialised gates (adaLN-Zero, identity residual blocks) hide the wiring of a fresh
    # model: open them with a small random perturbation of every weight first, so the check sees
    # which parameters *can* reach the action, trained or not.
    model = copy.deepcopy(model).eval()
    with torch.no_grad():
        g = torch.Generator().manual_seed(2)
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=g) * 0.05)
    if FutureUse.CONSUMED in anatomy.future_use or FutureUse.SCORES in anatomy.future_use:
        before = _act(model, observation)
        perturbed = copy.deepcopy(model)
        with torch.no_grad():
            g = torch.Generator().manual_seed(1)
            for name, p in perturbed.named_parameters():
                if name in future:
                    p.add_(torch.randn(p.shape, generator=g) * (p.abs().mean() + 0.1))
        after = _act(perturbed, observation)
        if torch.allclose(before, after):
            raise WamError(
                f"'{model.name}' declares its predicted future is {'consumed' if FutureUse.CONSUMED in anatomy.future_use else 'scoring'}, "
                "but its actions do not change when the future predictor changes: the future head is discarded"
            )
    if FutureUse.TRAINED_RETAINED in anatomy.future_use:
        action = dict(model.action_parameters()) if hasattr(model, "action_parameters") else {}
        if not set(future) & set(action):
            raise WamError(
                f"'{model.name}' declares a future objective that trained a retained representation, "
                "but no parameter is shared between its future objective and its action path"
            )

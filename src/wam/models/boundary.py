"""The survey's boundary rule as an executable check.

"A World Action Model begins when a predicted future becomes action-facing": some predicted future
must be consumed by the action path at inference, score candidate actions, or have trained an
action representation that is retained. An auxiliary future loss on a head that is thrown away
does not make a WAM.

Declarations are not trusted: the check perturbs the parameters that the model says produce its
future (`future_parameters()`) and looks at what happens to the actions (on a copy whose weights
are first randomised slightly, so that zero-initialised gates do not hide the wiring).
  - CONSUMED / SCORES: perturbing the parameters that only produce the future (those not also in
    `action_parameters()`, so a shared trunk cannot pass the check for them) must change `act`
    (with the same sampling noise).
  - TRAINED_RETAINED: the future objective must train parameters that the action path also uses
    (`action_parameters()`); a separate head that nothing reads fails. Given a training batch, the
    check also runs the model's loss on it with every action label withheld (so only the future
    objective is left) and requires a gradient on those shared parameters: a future computed from
    a detached trunk fails.
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


def synthetic_batch(model: WamModel, n: int = 2, seed: int = 0) -> dict[str, torch.Tensor]:
    """A random training batch with the keys and shapes the training cache serves for `model.window`."""
    g = torch.Generator().manual_seed(seed)
    w, spec = model.window, model.spec
    k, f = w.chunk, len(w.future_offsets)
    batch = {
        "image": torch.randint(0, 256, (n, w.n_obs_steps, *spec.image_shape), generator=g, dtype=torch.uint8),
        "state": torch.randn(n, w.n_obs_steps, spec.state_dim, generator=g),
        "obs_is_pad": torch.zeros(n, w.n_obs_steps, dtype=torch.bool),
        "action": torch.rand(n, k, spec.action_dim, generator=g) * 2 - 1,
        "action_is_pad": torch.zeros(n, k, dtype=torch.bool),
        "labelled": torch.ones(n, dtype=torch.bool),
        "task_index": torch.randint(0, max(1, len(spec.task_names)), (n,), generator=g),
    }
    if f:
        batch["future_image"] = torch.randint(0, 256, (n, f, *spec.image_shape), generator=g, dtype=torch.uint8)
        batch["future_state"] = torch.randn(n, f, spec.state_dim, generator=g)
        batch["future_is_pad"] = torch.zeros(n, f, dtype=torch.bool)
    if w.gamma is not None:
        batch["reward"] = torch.rand(n, k, generator=g)
        batch["return_to_go"] = torch.rand(n, k + 1, generator=g)
    return batch


def _future_objective_reaches(model: WamModel, batch: dict[str, torch.Tensor], shared: set[str]) -> bool:
    """Does the loss on `batch` with every action label withheld send a gradient into `shared`?
    Tried on three draws of the model's own randomness (a model may skip its future on a batch)."""
    action_free = {**batch, "labelled": torch.zeros_like(batch["labelled"]), "action": torch.zeros_like(batch["action"])}
    params = dict(model.named_parameters())
    for seed in range(3):
        model.zero_grad(set_to_none=True)
        torch.manual_seed(seed)
        loss, _ = model.loss(action_free)
        if loss.requires_grad:
            loss.backward()
        if any(params[n].grad is not None and float(params[n].grad.abs().sum()) > 0 for n in shared if n in params):
            return True
    return False


def check_boundary(model: WamModel, observation: dict[str, torch.Tensor], batch: dict[str, torch.Tensor] | None = None) -> None:
    """Raise a WamError if `model`'s registration contradicts what its parameters do. With a
    training `batch`, a "trained and retained" claim is also checked by gradients."""
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
    action = dict(model.action_parameters()) if hasattr(model, "action_parameters") else {}
    if FutureUse.CONSUMED in anatomy.future_use or FutureUse.SCORES in anatomy.future_use:
        only_future = set(future) - set(action)
        if not only_future:
            raise WamError(
                f"'{model.name}' declares its predicted future reaches the action, but every parameter it names as "
                "producing the future is also an action parameter: name the ones that only produce the future"
            )
        before = _act(model, observation)
        perturbed = copy.deepcopy(model)
        with torch.no_grad():
            g = torch.Generator().manual_seed(1)
            for name, p in perturbed.named_parameters():
                if name in only_future:
                    p.add_(torch.randn(p.shape, generator=g) * (p.abs().mean() + 0.1))
        after = _act(perturbed, observation)
        if torch.allclose(before, after):
            raise WamError(
                f"'{model.name}' declares its predicted future is {'consumed' if FutureUse.CONSUMED in anatomy.future_use else 'scoring'}, "
                "but its actions do not change when the future predictor changes: the future head is discarded"
            )
    if FutureUse.TRAINED_RETAINED in anatomy.future_use:
        shared = set(future) & set(action)
        if not shared:
            raise WamError(
                f"'{model.name}' declares a future objective that trained a retained representation, "
                "but no parameter is shared between its future objective and its action path"
            )
        if batch is not None and not _future_objective_reaches(model.train(), batch, shared):
            raise WamError(
                f"'{model.name}' declares a future objective that trained a retained representation, but its loss "
                "without action labels sends no gradient into the parameters it shares with the action path"
            )

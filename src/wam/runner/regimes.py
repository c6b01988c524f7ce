"""Deployment regimes: how the closed-loop runner calls a model (the anatomy's axis D).

A regime decides, at each control step, whether to call the model and which planned action to
execute. Regimes live in the runner, never in the model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wam.errors import require


@dataclass
class Chunked:
    """Receding horizon: call the model, execute the first `action_steps` of its chunk, re-plan.

    action_steps = 1 is the single-step regime; action_steps = chunk length executes whole chunks.
    """

    action_steps: int = 8
    name: str = "chunked"

    def __post_init__(self):
        require(self.action_steps >= 1, f"action_steps must be >= 1, got {self.action_steps}")
        self._plan: list[np.ndarray] = []

    def reset(self) -> None:
        self._plan = []

    def needs_plan(self) -> bool:
        return not self._plan

    def set_plan(self, chunk: np.ndarray) -> None:
        """chunk: (K, A) actions from one model call."""
        require(
            self.action_steps <= len(chunk),
            f"regime executes {self.action_steps} steps per call but the model's chunk has {len(chunk)}",
        )
        self._plan = list(chunk[: self.action_steps])

    def next_action(self) -> np.ndarray:
        return self._plan.pop(0)

    def describe(self) -> dict:
        return {"regime": self.name, "executed_steps_per_call": self.action_steps, "temporal_ensembling": False}

    def call(self, model, observation, generator) -> np.ndarray:
        """One model call: an action chunk (K, A)."""
        return model.act(observation, generator=generator)[0].numpy()


@dataclass
class OpenLoop:
    """Plan once: a single model call at reset plans the whole episode, which then runs blind.

    Needs a model that can imagine past its first chunk (`plan` capability, e.g. predict-then-act
    rolling its generator forward on its own predictions).
    """

    horizon: int = 500
    name: str = "open-loop"

    def __post_init__(self):
        require(self.horizon >= 1, f"horizon must be >= 1, got {self.horizon}")
        self._plan: list[np.ndarray] = []
        self._planned = False

    @property
    def action_steps(self) -> int:  # every planned step is executed
        return self.horizon

    def reset(self) -> None:
        self._plan, self._planned = [], False

    def needs_plan(self) -> bool:
        return not self._planned

    def set_plan(self, plan: np.ndarray) -> None:
        self._plan, self._planned = list(plan), True

    def next_action(self) -> np.ndarray:
        require(bool(self._plan), "the open-loop plan ran out before the episode ended")
        return self._plan.pop(0)

    def describe(self) -> dict:
        return {"regime": self.name, "executed_steps_per_call": self.horizon, "temporal_ensembling": False}

    def call(self, model, observation, generator) -> np.ndarray:
        return model.plan(observation, self.horizon, generator=generator)[0].numpy()


REGIMES = {"chunked": Chunked, "open-loop": OpenLoop}

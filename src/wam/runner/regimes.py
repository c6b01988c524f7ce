"""Deployment regimes: how the closed-loop runner calls a model (the anatomy's axis D).

A regime decides, at each control step, whether to call the model and which planned action to
execute. Regimes live in the runner, never in the model.
"""

from __future__ import annotations

from dataclasses import dataclass

import math

import numpy as np

from wam.errors import require


@dataclass
class Chunked:
    """Receding horizon: call the model, execute the first `action_steps` of its chunk, re-plan.

    action_steps = 1 is the single-step regime; action_steps = chunk length executes whole chunks.
    """

    action_steps: int = 8
    name: str = "chunked"
    # The executed actions are the ones the model planned from the call's observation, so its
    # predicted future can be scored against the real one (not so under async inference).
    scores_predictions = True

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

    def charge_latency(self, seconds: float) -> None:
        """Synchronous regimes: the world waits for the model (latency costs time, not actions)."""

    def diverged(self, prediction_error: float) -> bool:
        """Event-triggered regimes replan early when this is true (others never do)."""
        return False


@dataclass
class Async(Chunked):
    """Asynchronous inference: the robot keeps moving while the next chunk is computed.

    The runner measures each call's compute time and charges it in control steps,
    d = ceil(latency x control_hz). During those d steps the robot executes what is left of the
    previous chunk (or holds still, action 0, when nothing is left, e.g. at the first call); the new
    chunk, computed from the observation at request time, then starts at its entry d, because
    its first d actions were meant for steps that have already passed. A chunk older than its own
    length is discarded and the robot holds. So latency has consequences: a slow model acts on
    stale observations, a fast one behaves like the chunked regime.
    """

    control_hz: float = 80.0
    name: str = "async"
    scores_predictions = False  # the first d executed actions are the previous chunk's

    def __post_init__(self):
        super().__post_init__()
        require(self.control_hz > 0, f"control_hz must be > 0, got {self.control_hz}")
        self._leftover: list[np.ndarray] = []
        self._pending_delay = 0
        self.delays: list[int] = []  # steps charged per call, for the record

    def reset(self) -> None:
        super().reset()
        self._leftover, self._pending_delay, self.delays = [], 0, []

    def charge_latency(self, seconds: float) -> None:
        """Called by the runner with the measured compute time of the call just made."""
        self._pending_delay = math.ceil(max(seconds, 0.0) * self.control_hz - 1e-9)

    def set_plan(self, chunk: np.ndarray) -> None:
        d = self._pending_delay
        self.delays.append(d)
        hold = np.zeros_like(chunk[0])
        during_compute = (self._leftover + [hold] * d)[:d]  # the old chunk runs on while this one computes
        fresh = list(chunk[d : d + self.action_steps])
        self._leftover = list(chunk[d + self.action_steps :])
        self._plan = during_compute + fresh
        if not self._plan:  # nothing at all to execute (a zero-latency call on an exhausted chunk): hold one step
            self._plan = [hold]

    def describe(self) -> dict:
        return {**super().describe(), "regime": self.name, "control_hz": self.control_hz}


@dataclass
class OpenLoop:
    """Plan once: a single model call at reset plans the whole episode, which then runs blind.

    Needs a model that can imagine past its first chunk (`plan` capability, e.g. predict-then-act
    rolling its generator forward on its own predictions).
    """

    horizon: int = 500
    name: str = "open-loop"
    scores_predictions = True

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


    def charge_latency(self, seconds: float) -> None:
        """Plan once: the world waits for the plan."""

    def diverged(self, prediction_error: float) -> bool:
        return False


@dataclass
class EventTriggered(Chunked):
    """Replan early when the observed future leaves the predicted one.

    Executes up to `action_steps` of each chunk, like the chunked regime, but after every step
    on which the model's prediction from its last call can be checked (a predicted latent at that
    offset), the runner measures the error in the model's own substrate (latent MSE between the
    prediction and the encoded real frame); above `threshold` the rest of the chunk is dropped and
    the model is called again. Needs a model that predicts its future ("predict" capability).
    """

    threshold: float = 0.2
    name: str = "event-triggered"

    def __post_init__(self):
        super().__post_init__()
        require(self.threshold > 0, f"trigger threshold must be > 0, got {self.threshold}")
        self.triggers = 0

    def reset(self) -> None:
        super().reset()
        self.triggers = 0

    def diverged(self, prediction_error: float) -> bool:
        if prediction_error > self.threshold and self._plan:
            self._plan = []
            self.triggers += 1
            return True
        return False

    def describe(self) -> dict:
        return {**super().describe(), "regime": self.name, "trigger_threshold": self.threshold}


def image_history(frames: np.ndarray, n: int):
    """uint8 frames (B, H, W, 3) -> an image history (B, n, H, W, 3) that repeats them, as the runner
    fills the history at reset: how an imagined frame stands in for the camera."""
    import torch

    frame = torch.from_numpy(np.ascontiguousarray(frames))
    return frame[:, None].expand(-1, n, -1, -1, -1).contiguous()


@dataclass
class Regrounding(Chunked):
    """Act on imagined observations, re-grounded in measured ones every `reground_every` calls.

    Between re-groundings the camera image the model acts on is its own prediction of it: the
    frame it predicted `action_steps` ahead at the previous call (where that call's executed
    actions end), filling the image history as the runner fills it at reset. Every
    `reground_every`-th call (the first included) sees the measured image. Proprio is measured at
    every call, as a robot always reads its joints. reground_every = 1 is the chunked regime; a
    large value is a plan made in imagination and corrected every M chunks, so the gap between
    the two measures how far the model's imagination can stand in for its camera. Needs a model
    that predicts the frame at the executed offset ("predict" capability); decoding that frame is
    part of the timed call, since the next call needs it.
    """

    reground_every: int = 2
    name: str = "re-grounding"

    def __post_init__(self):
        super().__post_init__()
        require(self.reground_every >= 1, f"reground_every must be >= 1, got {self.reground_every}")
        self._calls, self._imagined = 0, None
        self.imagined_calls = 0  # calls that acted on an imagined image, for the record

    def reset(self) -> None:
        super().reset()
        self._calls, self._imagined, self.imagined_calls = 0, None, 0

    def call(self, model, observation, generator) -> np.ndarray:
        if self._calls % self.reground_every != 0:
            observation = {**observation, "image": self._imagined}
            self.imagined_calls += 1
        chunk = model.act(observation, generator=generator)[0].numpy()
        self._calls += 1
        if self.reground_every > 1:
            prediction = model.last_prediction()
            offsets = [] if prediction is None else list(prediction["offsets"])
            require(
                self.action_steps in offsets,
                f"re-grounding needs the frame {self.action_steps} steps ahead (--action-steps) among the model's "
                f"predictions; '{getattr(model, 'name', 'model')}' predicts offsets {offsets or 'none'}",
            )
            self._imagined = image_history(prediction["frames"][:, offsets.index(self.action_steps)], observation["image"].shape[1])
        return chunk

    def describe(self) -> dict:
        return {**super().describe(), "regime": self.name, "reground_every": self.reground_every}


@dataclass
class Interactive(Chunked):
    """A persistent latent carried across calls: the model's belief about the world, advanced in
    imagination through the actions the robot executed, then corrected by the new observation.

    At each call the model gets back the state it returned at the previous call and the actions
    executed since (`act_interactive`), and returns its chunk and the state to carry on. How far a
    new observation corrects the carried belief is the observation gain g in [0, 1]:
    z_t = g * enc(o_t) + (1 - g) * f(z_prev, a_executed). g = 1 discards the carried state and is
    the chunked regime; g = 0 looks at the camera once, at the first call, and plans every later
    chunk from the imagined latent (persistence inside the loop); values in between are a
    fixed-gain filter over calls, the role a recurrent state-space model's posterior plays. Needs a
    model that declares the interactive regime (its anatomy) and implements `act_interactive`.
    """

    observation_gain: float = 0.5
    name: str = "interactive"
    scores_predictions = True

    def __post_init__(self):
        super().__post_init__()
        require(0.0 <= self.observation_gain <= 1.0, f"observation_gain must be in [0, 1], got {self.observation_gain}")
        self._carry, self._executed = None, []

    def reset(self) -> None:
        super().reset()
        self._carry, self._executed = None, []

    def next_action(self) -> np.ndarray:
        action = super().next_action()
        self._executed.append(action)
        return action

    def call(self, model, observation, generator) -> np.ndarray:
        executed = np.stack(self._executed) if self._executed else None  # (n, A) since the last call
        chunk, self._carry = model.act_interactive(observation, self._carry, executed, self.observation_gain, generator)
        self._executed = []
        return chunk[0].numpy()

    def describe(self) -> dict:
        return {**super().describe(), "regime": self.name, "observation_gain": self.observation_gain}


REGIMES = {"chunked": Chunked, "interactive": Interactive, "async": Async, "event-triggered": EventTriggered, "re-grounding": Regrounding, "open-loop": OpenLoop}
# Runner strategies any chunked model supports, with no declaration of its own (event-triggered
# and re-grounding also need a model that predicts its future; the evaluation checks that).
RUNNER_REGIMES = {"async": "chunked", "event-triggered": "chunked", "re-grounding": "chunked"}

"""One closed-loop episode: a model under a regime in a MetaWorldEnv.

The model sees only {image history, proprio history, task index}; the simulator's success
signal, reward and privileged state stay in the runner, which uses them only to score.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from wam.envs.metaworld import MetaWorldEnv
from wam.eval.failures import FailureTracker
from wam.models.base import WamModel
from wam.runner.regimes import Async, Chunked, EventTriggered, OpenLoop

MODEL_INPUT_KEYS = ("image", "state", "task_index")


def observation_batch(history: deque, task_index: int) -> dict[str, torch.Tensor]:
    """Stack the last To env observations into the model's input (batch of one)."""
    images = np.stack([o["image"] for o in history])  # (To, H, W, 3)
    states = np.stack([o["proprio"] for o in history])  # (To, S)
    return {
        "image": torch.from_numpy(images)[None],
        "state": torch.from_numpy(states)[None],
        "task_index": torch.tensor([task_index]),
    }


@dataclass
class EpisodeResult:
    task: str
    seed: int
    success: bool
    steps: int  # steps executed (to success, or max_steps)
    success_at_reset: bool = False  # success after the first step: counted (Meta-World convention), but reported
    latencies: list[float] = field(default_factory=list)  # seconds per model call, pre-processing included
    frames: list[np.ndarray] = field(default_factory=list)  # only when recording
    # (offset, predicted frame, real frame, latent MSE) per prediction whose target step was reached
    predictions: list[tuple] = field(default_factory=list)
    final_state: list[float] = field(default_factory=list)
    triggers: int = 0  # early replans (event-triggered regime)
    imagined_calls: int = 0  # calls that acted on the model's own predicted image (re-grounding regime)
    failure_tags: list[str] = field(default_factory=list)  # why it failed, primary first (wam.eval.failures)

    def record(self) -> dict:
        return {
            "task": self.task,
            "seed": self.seed,
            "success": self.success,
            "steps": self.steps,
            "calls": len(self.latencies),
            "success_at_reset": self.success_at_reset,
            "triggers": self.triggers,
            "imagined_calls": self.imagined_calls,
            "failure_tags": self.failure_tags,
        }


def episode_generator(sampling_seed: int, seed: int) -> torch.Generator:
    """The model's sampling noise for the episode from initial condition `seed`."""
    return torch.Generator().manual_seed(sampling_seed * 1_000_003 + seed)


def run_episode(
    model: WamModel,
    env: MetaWorldEnv,
    seed: int,
    task_index: int,
    regime: Chunked | Async | EventTriggered | OpenLoop,
    max_steps: int,
    record_video: bool = False,
    sampling_seed: int = 0,
    before_step: Callable[[deque, np.ndarray], None] | None = None,
) -> EpisodeResult:
    """`before_step(history, action)`, if given, sees each action with the observations it is
    executed from, before the simulator steps (the causality probe's judge reads them)."""
    generator = episode_generator(sampling_seed, seed)
    model.reset()
    regime.reset()
    obs, _ = env.reset(seed=seed)
    failures = FailureTracker(env.task)  # the runner's, never the model's
    history = deque([obs] * model.window.n_obs_steps, maxlen=model.window.n_obs_steps)
    result = EpisodeResult(env.task, seed, False, 0)
    if record_video:
        result.frames.append(obs["image"])
    pending: dict[int, list] = {}  # target step -> [(offset, predicted frame, predicted latent)]
    for step in range(max_steps):
        if regime.needs_plan():
            t0 = time.perf_counter()
            chunk = regime.call(model, observation_batch(history, task_index), generator)
            result.latencies.append(time.perf_counter() - t0)
            regime.charge_latency(result.latencies[-1])
            regime.set_plan(chunk)
            # Read outside the timed call (decoding is not part of acting). Only offsets that the
            # executed actions reach are scored: beyond them the plan was replaced.
            prediction = model.last_prediction() if regime.scores_predictions else None
            if prediction is not None:
                for i, offset in enumerate(prediction["offsets"]):
                    if offset <= regime.action_steps:
                        latent = None if prediction["latents"] is None else prediction["latents"][0, i]
                        pending.setdefault(step + offset, []).append((offset, prediction["frames"][0, i], latent))
        action = regime.next_action()
        if before_step is not None:
            before_step(history, action)
        obs, _, _, truncated, info = env.step(action)
        history.append(obs)
        failures.update(info["privileged_state"])
        result.steps = step + 1
        for offset, frame, latent in pending.pop(step + 1, []):
            real = obs["image"]
            mse = None
            if latent is not None:
                real_latent = model.encode_substrate(torch.from_numpy(real)[None])[0]
                mse = float(((latent - real_latent) ** 2).mean())
            result.predictions.append((offset, frame, real, mse))
            if mse is not None and regime.diverged(mse):
                pending.clear()  # the rest of that plan will not run: its predictions are void
                result.triggers += 1
                break
        if record_video:
            result.frames.append(obs["image"])
        if info["success"]:
            result.success = True
            result.success_at_reset = step == 0
            break
        if truncated:
            break
    result.final_state = env.privileged_state.tolist()
    result.imagined_calls = getattr(regime, "imagined_calls", 0)
    result.failure_tags = failures.tags(result.success, ran_to_limit=result.steps >= min(max_steps, env.max_steps))
    return result

"""Meta-World v3 as a gymnasium environment with image + proprio observations.

Follows LeRobot's Meta-World conventions so that datasets and policies move between the two:
the `corner2` camera is moved to (0.75, 0.075, 0.7), images are rotated 180 degrees, and the
proprio vector (`agent_pos`) is the first 4 entries of the state (hand xyz + gripper opening).

No privileged simulator state reaches a model: the observation is {image, proprio, instruction,
task}. The full 39-d state (object and goal positions) is put in `info["privileged_state"]` for
scripted experts and evaluation probes only.
"""

from __future__ import annotations

import gc
import os
from typing import Any

import gymnasium as gym
import mujoco
import numpy as np
from metaworld.env_dict import ALL_V3_ENVIRONMENTS

from wam.envs.shifts import SHIFTS, VisualShift
from wam.errors import WamError, require, unknown_choice

MT10 = (
    "reach-v3",
    "push-v3",
    "pick-place-v3",
    "door-open-v3",
    "drawer-open-v3",
    "drawer-close-v3",
    "button-press-topdown-v3",
    "peg-insert-side-v3",
    "window-open-v3",
    "window-close-v3",
)
TASK_SETS = {"mt10": MT10}
CAMERAS = ("corner2", "corner", "corner3", "corner4", "topview", "behindGripper", "gripperPOV")
# LeRobot (and TD-MPC2) move corner2 closer: at 64 px the stock view shows the goal as ~1 pixel.
CORNER2_POS = (0.75, 0.075, 0.7)
PROPRIO_DIM = 4
ACTION_DIM = 4
CONTROL_HZ = 80  # Meta-World steps at dt = 0.0125 s
MAX_PATH_LENGTH = 500  # Meta-World raises if stepped past this

_INSTRUCTIONS = {
    "reach-v3": "reach the red goal marker with the gripper",
    "push-v3": "push the puck to the goal",
    "pick-place-v3": "pick up the puck and place it at the goal",
    "door-open-v3": "open the door",
    "drawer-open-v3": "open the drawer",
    "drawer-close-v3": "close the drawer",
    "button-press-topdown-v3": "press the button from the top",
    "peg-insert-side-v3": "insert the peg into the hole from the side",
    "window-open-v3": "slide the window open",
    "window-close-v3": "slide the window closed",
}


def all_tasks() -> tuple[str, ...]:
    return tuple(sorted(ALL_V3_ENVIRONMENTS))


def resolve_tasks(spec: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Task names from 'mt10', a comma list, or a list; unknown names raise a WamError."""
    names = spec.split(",") if isinstance(spec, str) else list(spec)
    out: list[str] = []
    for raw in names:
        name = raw.strip()
        if not name:
            continue
        if name.lower() in TASK_SETS:
            out.extend(TASK_SETS[name.lower()])
            continue
        if name not in ALL_V3_ENVIRONMENTS and f"{name}-v3" in ALL_V3_ENVIRONMENTS:
            name = f"{name}-v3"
        if name not in ALL_V3_ENVIRONMENTS:
            raise unknown_choice("task", name, list(ALL_V3_ENVIRONMENTS) + list(TASK_SETS))
        out.append(name)
    require(len(out) > 0, "no tasks given (use e.g. 'mt10' or 'reach-v3,push-v3')")
    return tuple(dict.fromkeys(out))  # de-duplicate, keep order


def instruction_for(task: str) -> str:
    """A natural-language instruction for a task (MT10 hand-written, others from the name)."""
    if task in _INSTRUCTIONS:
        return _INSTRUCTIONS[task]
    return task.removesuffix("-v3").replace("-", " ")


class MetaWorldEnv(gym.Env):
    """One Meta-World v3 task rendered headless.

    Observation: {"image": uint8 (H, W, 3), "proprio": float32 (4,), "instruction": str,
    "task": str}. Action: float32 (4,) in [-1, 1]. `reset(seed=s)` fixes the initial condition
    exactly (Meta-World itself ignores reset seeds). Episodes never terminate on success
    (Meta-World convention); they truncate at `max_steps`. `info["success"]` is the task success.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": CONTROL_HZ}

    def __init__(
        self,
        task: str,
        camera: str = "corner2",
        resolution: int = 64,
        max_steps: int = MAX_PATH_LENGTH,
        shift: str = "none",
        fast_render: bool = True,
    ):
        if task not in ALL_V3_ENVIRONMENTS:
            raise unknown_choice("task", task, ALL_V3_ENVIRONMENTS)
        if camera not in CAMERAS:
            raise unknown_choice("camera", camera, CAMERAS)
        if shift not in SHIFTS:
            raise unknown_choice("visual shift", shift, SHIFTS)
        require(8 <= resolution <= 1024, f"resolution must be in 8..1024 pixels, got {resolution}")
        require(
            1 <= max_steps <= MAX_PATH_LENGTH, f"max_steps must be in 1..{MAX_PATH_LENGTH}, got {max_steps}"
        )
        self.task, self.camera, self.resolution, self.max_steps = task, camera, resolution, max_steps
        self.shift: VisualShift = SHIFTS[shift]
        self.instruction = instruction_for(task)
        self._env = ALL_V3_ENVIRONMENTS[task](
            render_mode="rgb_array", camera_name=camera, width=resolution, height=resolution
        )
        self._env.max_path_length = MAX_PATH_LENGTH
        model = self._env.model
        if camera == "corner2":
            model.cam_pos[mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, "corner2")] = CORNER2_POS
        if fast_render:  # 4096^2 shadow map and 4x MSAA cost ~10x at 64 px; set before the first render
            model.vis.quality.offsamples = 0
            model.vis.quality.shadowsize = 512
        self.shift.apply(model, camera)
        self._fast_render = fast_render
        self._viewer_configured = False
        # Full state observation (for experts); the model only ever sees image + proprio.
        self._env._partially_observable = False
        if hasattr(self._env, "sawyer_observation_space"):
            del self._env.sawyer_observation_space
        self._env._freeze_rand_vec = False
        self._env.seeded_rand_vec = True
        self._env._set_task_called = True
        self._state: np.ndarray | None = None
        self._steps = 0
        self.observation_space = gym.spaces.Dict(
            {
                "image": gym.spaces.Box(0, 255, (resolution, resolution, 3), np.uint8),
                "proprio": gym.spaces.Box(-np.inf, np.inf, (PROPRIO_DIM,), np.float32),
                "instruction": gym.spaces.Text(256),
                "task": gym.spaces.Text(64),
            }
        )
        self.action_space = gym.spaces.Box(-1.0, 1.0, (ACTION_DIM,), np.float32)

    # -- gymnasium API ---------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if seed is None:  # draw a seed from gymnasium's RNG so that an unseeded reset is still recorded
            seed = int(self.np_random.integers(0, 2**31 - 1))
        self.seed_value = int(seed)
        self._env.seed(self.seed_value)  # seeds Meta-World's own initial-condition generator
        state, info = self._env.reset()
        # Meta-World moves the goal site in model.site_pos but does not recompute the derived
        # positions, so the reset frame would draw the goal marker where the previous episode
        # had it. mj_forward updates them without advancing time or touching qpos/qvel.
        mujoco.mj_forward(self._env.model, self._env.data)
        self._state = np.asarray(state, dtype=np.float64)
        self._steps = 0
        obs = self._observation()
        # No "success" here: Meta-World's evaluate_state before the first step is unreliable
        # (window-close reports success at every reset). Success is read after steps only.
        info = {"privileged_state": self._state.copy(), "seed": self.seed_value}
        return obs, info

    def step(self, action: np.ndarray):
        if self._state is None:
            raise WamError("step() called before reset()")
        action = np.clip(np.asarray(action, dtype=np.float64).reshape(ACTION_DIM), -1.0, 1.0)
        if not np.all(np.isfinite(action)):
            raise WamError(f"non-finite action {action.tolist()} sent to the environment")
        state, reward, _, _, info = self._env.step(action)
        self._state = np.asarray(state, dtype=np.float64)
        self._steps += 1
        info = dict(info)
        info["success"] = bool(info.get("success", 0.0) >= 1.0)
        info["privileged_state"] = self._state.copy()
        truncated = self._steps >= self.max_steps
        return self._observation(), float(reward), False, truncated, info

    def render(self) -> np.ndarray:
        return self._render_image()

    # -- the simulator as an oracle (planning references and probes; never a model input) -----
    _SNAPSHOT_SPEC = mujoco.mjtState.mjSTATE_INTEGRATION

    def snapshot(self) -> dict:
        """Everything that determines the next steps: MuJoCo's integration state (qpos, qvel,
        controls, mocap) and the Meta-World env's own numeric bookkeeping (targets, step count)."""
        require(self._state is not None, "snapshot() called before reset()")
        model, data = self._env.model, self._env.data
        physics = np.empty(mujoco.mj_stateSize(model, self._SNAPSHOT_SPEC))
        mujoco.mj_getState(model, data, physics, self._SNAPSHOT_SPEC)
        python = {
            k: (v.copy() if isinstance(v, np.ndarray) else v)
            for k, v in vars(self._env).items()
            if isinstance(v, (np.ndarray, int, float, bool, np.generic))
        }
        return {"physics": physics, "python": python, "state": self._state.copy(), "steps": self._steps}

    def restore(self, snap: dict) -> None:
        model, data = self._env.model, self._env.data
        mujoco.mj_setState(model, data, snap["physics"], self._SNAPSHOT_SPEC)
        for k, v in snap["python"].items():
            setattr(self._env, k, v.copy() if isinstance(v, np.ndarray) else v)
        self._state, self._steps = snap["state"].copy(), snap["steps"]

    @property
    def steps_taken(self) -> int:
        """Steps since reset (Meta-World refuses to step past MAX_PATH_LENGTH)."""
        return self._steps

    def step_physics(self, action: np.ndarray) -> tuple[float, bool]:
        """Step without rendering: (reward, success). For oracle planning from a snapshot."""
        action = np.clip(np.asarray(action, dtype=np.float64).reshape(ACTION_DIM), -1.0, 1.0)
        state, reward, _, _, info = self._env.step(action)
        self._state = np.asarray(state, dtype=np.float64)
        self._steps += 1
        return float(reward), bool(info.get("success", 0.0) >= 1.0)

    def close(self):
        # The viewer must be freed before another env creates a GL context, or later frames are
        # silently black (see docs/design.md). Collect garbage now, while this context is current.
        if getattr(self, "_env", None) is not None:
            self._env.close()
            self._env = None
            gc.collect()

    # -- helpers ---------------------------------------------------------------------------
    @property
    def privileged_state(self) -> np.ndarray:
        """The full 39-d Meta-World state. Experts and probes only; never a model input."""
        assert self._state is not None
        return self._state

    def _observation(self) -> dict[str, Any]:
        return {
            "image": self._render_image(),
            "proprio": self._state[:PROPRIO_DIM].astype(np.float32),
            "instruction": self.instruction,
            "task": self.task,
        }

    def _render_image(self) -> np.ndarray:
        renderer = self._env.mujoco_renderer
        if renderer.viewer is not None:
            # Another env in this process may have made (or freed) the current GL context; make
            # ours current so several live envs can render side by side.
            renderer.viewer.make_context_current()
        renderer = None  # hold no viewer reference (a stale one frees the context when dropped)
        try:
            frame = self._env.render()
        except Exception as e:  # EGL/OSMesa failures surface as assorted GL exceptions
            raise WamError(
                f"rendering failed with MUJOCO_GL={os.environ.get('MUJOCO_GL')}: {type(e).__name__}: {e}; run `wam doctor`"
            ) from None
        if self._fast_render and not self._viewer_configured:
            # Shadows and reflections cost most of the render time and add nothing at 64 px.
            scene = self._env.mujoco_renderer.viewer.scn
            scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = 0
            scene.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = 0
            scene = None  # drop the reference at once: a stale viewer handle later frees the GL context
            self._viewer_configured = True
            frame = self._env.render()
        image = np.ascontiguousarray(np.flip(frame, (0, 1)))  # MuJoCo renders upside down
        check_not_black(image, self.task)
        return image


def check_not_black(image: np.ndarray, where: str = "") -> None:
    """The black-frame guard: a dead GL context renders zeros silently."""
    if image.max() == 0:
        raise WamError(
            f"rendered an all-black frame{f' ({where})' if where else ''}: the GL context was lost "
            "(an old env was freed after a new one was made) or the backend is broken; run `wam doctor`"
        )

"""Named visual shifts for generalization tests: the task and physics stay, the pixels change.

Each shift edits the MuJoCo model once, before the first render. Held-out evaluation under a
shift is a separate, declared protocol ("generalization to a named shift", wam-anatomy.md §3).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import mujoco
import numpy as np


@dataclass(frozen=True)
class VisualShift:
    name: str
    description: str
    edit: Callable[[mujoco.MjModel, str], None]

    def apply(self, model: mujoco.MjModel, camera: str) -> None:
        self.edit(model, camera)


def _no_change(model: mujoco.MjModel, camera: str) -> None:
    return None


def _camera_id(model: mujoco.MjModel, camera: str) -> int:
    return mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, camera)


def _camera_pose(model: mujoco.MjModel, camera: str) -> None:
    cam = _camera_id(model, camera)
    model.cam_pos[cam] = model.cam_pos[cam] + np.array([0.05, -0.05, 0.03])


def _dim_lighting(model: mujoco.MjModel, camera: str) -> None:
    model.light_diffuse[:] = model.light_diffuse * 0.45
    model.light_ambient[:] = model.light_ambient * 0.45


def _table_colour(model: mujoco.MjModel, camera: str) -> None:
    # Tint every material and geom colour toward blue-green: a global appearance change.
    tint = np.array([0.6, 0.9, 1.3, 1.0])
    model.mat_rgba[:] = np.clip(model.mat_rgba * tint, 0.0, 1.0)
    model.geom_rgba[:] = np.clip(model.geom_rgba * tint, 0.0, 1.0)


SHIFTS: dict[str, VisualShift] = {
    s.name: s
    for s in (
        VisualShift("none", "the training distribution", _no_change),
        VisualShift("camera-pose", "camera moved 5 cm sideways and 3 cm up", _camera_pose),
        VisualShift("lighting-dim", "all lights at 45% intensity", _dim_lighting),
        VisualShift("colour-tint", "all materials tinted blue-green", _table_colour),
    )
}

"""Environments: gymnasium wrappers that give a model only what a real robot would have.

MUJOCO_GL must be chosen before mujoco is first imported; EGL is the fast headless backend and
`wam doctor` tells the user how to fall back to OSMesa.
"""

import os

os.environ.setdefault("MUJOCO_GL", "egl")
if os.environ["MUJOCO_GL"] in ("egl", "osmesa"):
    os.environ.setdefault("PYOPENGL_PLATFORM", os.environ["MUJOCO_GL"])

from wam.envs.metaworld import (  # noqa: E402
    CAMERAS,
    MT10,
    MetaWorldEnv,
    all_tasks,
    instruction_for,
    resolve_tasks,
)
from wam.envs.seeds import SPLITS, episode_seeds  # noqa: E402
from wam.envs.shifts import SHIFTS  # noqa: E402

__all__ = [
    "CAMERAS",
    "MT10",
    "MetaWorldEnv",
    "SHIFTS",
    "SPLITS",
    "all_tasks",
    "episode_seeds",
    "instruction_for",
    "resolve_tasks",
]

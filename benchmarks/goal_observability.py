"""How well can a 64 px image reveal a 3-D goal drawn as a marker of a few pixels?

reach and pick-place draw their goal (a 3-D point) as a small marker. From one camera, the
marker's pixel fixes a ray, not a point. This script bounds the success any image policy could
reach if it located the marker perfectly (to `--pixel` px) and then guessed the goal optimally:
goals are drawn uniformly from the task's goal box (as Meta-World draws them), projected through
the evaluation camera, grouped by pixel, and for each pixel the guess that lies within the
success threshold of the most goals is taken. Closed-loop cues (the hand occluding the marker)
could do better; nothing that reads the marker's position alone can.

    python benchmarks/goal_observability.py [--samples 100000] [--pixel 1.0]
"""

from __future__ import annotations

import argparse
import os
from collections import defaultdict

import mujoco
import numpy as np

os.environ.setdefault("MUJOCO_GL", "egl")

from wam.envs.metaworld import MetaWorldEnv  # noqa: E402

# task: (goal box low, goal box high, success threshold in metres), from metaworld 3.1.1's sources
GOALS = {
    "reach-v3": ((-0.1, 0.8, 0.05), (0.1, 0.9, 0.3), 0.05),
    "pick-place-v3": ((-0.1, 0.8, 0.05), (0.1, 0.9, 0.3), 0.07),
}


def camera_projector(task: str, resolution: int):
    """Pinhole projection of world points to (column, row) pixels of the wrapper's camera."""
    env = MetaWorldEnv(task, resolution=resolution)
    try:
        env.reset(seed=0)
        model, data = env._env.model, env._env.data
        cam = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, env.camera)
        position, rotation = data.cam_xpos[cam].copy(), data.cam_xmat[cam].reshape(3, 3).copy()
        focal = (resolution / 2) / np.tan(np.deg2rad(model.cam_fovy[cam]) / 2)
    finally:
        env.close()

    def project(points: np.ndarray) -> np.ndarray:
        p = (points - position) @ rotation  # camera frame: x right, y up, looking along -z
        return np.stack([focal * p[:, 0] / -p[:, 2], -focal * p[:, 1] / -p[:, 2]], -1) + resolution / 2

    return project


def bayes_optimal_success(task: str, samples: int, pixel: float, resolution: int, seed: int = 0) -> float:
    low, high, threshold = GOALS[task]
    goals = np.random.default_rng(seed).uniform(low, high, size=(samples, 3))
    cells = np.round(camera_projector(task, resolution)(goals) / pixel).astype(int)
    groups: dict[tuple[int, int], list[int]] = defaultdict(list)
    for i, cell in enumerate(map(tuple, cells)):
        groups[cell].append(i)
    covered = 0.0
    for members in groups.values():
        pts = goals[members[:400]]  # a subsample per pixel keeps the pairwise distances small
        within = np.linalg.norm(pts[:, None] - pts[None], axis=-1) < threshold
        covered += within.mean(1).max() * len(members)
    return covered / samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=100_000)
    parser.add_argument("--pixel", type=float, default=1.0, help="marker localisation precision in pixels")
    parser.add_argument("--resolution", type=int, default=64)
    args = parser.parse_args()
    for task in GOALS:
        bound = bayes_optimal_success(task, args.samples, args.pixel, args.resolution)
        print(f"{task}: best success from the marker's pixel alone ({args.pixel} px, {args.resolution} px image): {bound:.1%}")


if __name__ == "__main__":
    main()

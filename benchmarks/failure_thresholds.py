"""Check the failure-tag thresholds (src/wam/eval/failures.py) against real episodes.

For every task: the scripted expert's successful episodes must clear every stage (hand within
REACH_RADIUS, object moved / lifted), and an agent that does nothing must be tagged at the first
stage. Prints the margins per task, so a threshold that is too tight or too loose shows up.

    .venv/bin/python benchmarks/failure_thresholds.py --tasks mt10 --episodes 3
"""

from __future__ import annotations

import argparse

import numpy as np

from wam.envs.experts import ScriptedExpert
from wam.envs.metaworld import MetaWorldEnv, resolve_tasks
from wam.envs.seeds import episode_seeds
from wam.eval.failures import FailureTracker


def run(task: str, seed: int, policy: str, max_steps: int) -> tuple[FailureTracker, bool, int]:
    env = MetaWorldEnv(task, resolution=32, max_steps=max_steps)
    try:
        expert, rng = ScriptedExpert(task), np.random.default_rng(seed)
        _, info = env.reset(seed=seed)
        tracker = FailureTracker(task)
        success, steps = False, 0
        for steps in range(1, max_steps + 1):
            if policy == "expert":
                action = expert(info["privileged_state"])
            elif policy == "random":
                action = rng.uniform(-1, 1, 4)
            else:
                action = np.zeros(4)
            _, _, _, truncated, info = env.step(action)
            tracker.update(info["privileged_state"])
            if info["success"]:
                success = True
                break
            if truncated:
                break
        return tracker, success, steps
    finally:
        env.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", default="mt10")
    parser.add_argument("--episodes", type=int, default=3)
    parser.add_argument("--max-steps", type=int, default=200)
    args = parser.parse_args()
    print(f"{'task':26s} {'policy':7s} {'ok':>3s} {'closest':>8s} {'moved':>6s} {'lifted':>6s}  tags")
    for task in resolve_tasks(args.tasks):
        for policy in ("expert", "still", "random"):
            for seed in episode_seeds("train", args.episodes):
                tracker, success, steps = run(task, seed, policy, args.max_steps if policy != "expert" else 500)
                tags = tracker.tags(success, ran_to_limit=not success)
                print(f"{task:26s} {policy:7s} {int(success):3d} {tracker.closest_reach:8.3f} {tracker.max_move:6.3f} "
                      f"{int(tracker.lifted):6d}  {','.join(tags) or '-'}")


if __name__ == "__main__":
    main()

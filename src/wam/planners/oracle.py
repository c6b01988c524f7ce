"""The simulator as the world model: reset to the current state, replay each candidate.

Not a model anyone can deploy (it reads the simulator), but the reference every learned scorer
is compared against, and the test that the planners work independently of learning.
"""

from __future__ import annotations

import numpy as np
import torch


class SimulatorScorer:
    """score(candidates (N, H, A)) -> discounted return of each, replayed from the env's current
    state; the env is left exactly where it was. A success ends the replay with its reward kept
    for the rest of the horizon (Meta-World's success is absorbing for scoring purposes)."""

    def __init__(self, env, gamma: float = 0.95, success_bonus: float = 100.0):
        self.env, self.gamma, self.success_bonus = env, gamma, success_bonus

    def __call__(self, candidates: torch.Tensor) -> torch.Tensor:
        snap = self.env.snapshot()
        scores = []
        for chunk in candidates.numpy():
            total, discount = 0.0, 1.0
            for action in chunk:
                reward, success = self.env.step_physics(action)
                total += discount * reward
                if success:
                    total += discount * self.success_bonus
                    break
                discount *= self.gamma
            scores.append(total)
            self.env.restore(snap)
        return torch.tensor(np.asarray(scores), dtype=torch.float32)

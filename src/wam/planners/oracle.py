"""The simulator as the world model: reset to the current state, replay each candidate.

Not a model anyone can deploy (it reads the simulator), but the reference every learned scorer
is compared against, and the test that the planners work independently of learning.
"""

from __future__ import annotations

import numpy as np
import torch


class SimulatorScorer:
    """score(candidates (N, H, A)) -> discounted return of each, replayed from the env's current
    state; the env is left exactly where it was. A success is absorbing, as in the learned
    scorer's returns-to-go: the replay stops there and the success step's reward repeats for ever
    (gamma r / (1 - gamma) more). Replays stop at Meta-World's 500-step limit."""

    def __init__(self, env, gamma: float = 0.95):
        self.env, self.gamma = env, gamma

    def __call__(self, candidates: torch.Tensor) -> torch.Tensor:
        from wam.envs.metaworld import MAX_PATH_LENGTH

        snap = self.env.snapshot()
        scores = []
        for chunk in candidates.numpy():
            total, discount = 0.0, 1.0
            for action in chunk:
                if self.env.steps_taken >= MAX_PATH_LENGTH:
                    break
                reward, success = self.env.step_physics(action)
                total += discount * reward
                if success:
                    total += discount * self.gamma * reward / (1.0 - self.gamma)
                    break
                discount *= self.gamma
            scores.append(total)
            self.env.restore(snap)
        return torch.tensor(np.asarray(scores), dtype=torch.float32)

"""Scripted experts that ship with Meta-World. They read the full (privileged) state."""

from __future__ import annotations

import numpy as np
from metaworld.policies import ENV_POLICY_MAP

from wam.errors import unknown_choice


class ScriptedExpert:
    def __init__(self, task: str):
        if task not in ENV_POLICY_MAP:
            raise unknown_choice("task with a scripted expert", task, ENV_POLICY_MAP)
        self.policy = ENV_POLICY_MAP[task]()

    def __call__(self, privileged_state: np.ndarray) -> np.ndarray:
        action = self.policy.get_action(privileged_state)
        return np.clip(np.asarray(action, dtype=np.float32), -1.0, 1.0)

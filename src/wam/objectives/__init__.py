"""Objectives: stateless loss and sampler functions over tensors and callables, chosen by name.

All share one interface and one time convention (t in [0, 1], 0 = noise, 1 = data):
    objective.loss(fn, x1, weight=None, generator=None) -> per-sample loss (B,)
    objective.sample(fn, noise, steps)                  -> data-space sample
so a model swaps its objective with a config string.
"""

from __future__ import annotations

from wam.errors import unknown_choice
from wam.objectives.diffusion import Diffusion
from wam.objectives.flow_matching import FlowMatching

OBJECTIVES = {
    "flow": FlowMatching,
    "diffusion-eps": lambda: Diffusion("epsilon"),
    "diffusion-v": lambda: Diffusion("v_prediction"),
}


def make_objective(name: str) -> FlowMatching | Diffusion:
    if name not in OBJECTIVES:
        raise unknown_choice("objective", name, OBJECTIVES)
    return OBJECTIVES[name]()

"""Planners: stateless, batched searches over action chunks against any score function.

Every planner has one signature:

    plan(score, init, settings, generator, low, high, proposals=None) -> (best chunk (H, A), info)

`score` maps candidates (N, H, A) to scores (N,) (higher is better) in one batched call; it may be
a learned world model (wam.models.latent_rollout), or the simulator itself (wam.planners.oracle),
which validates the planning code independently of any learning. `init` is the initial sampling
distribution (mean, std), each (H, A). `proposals` (P, H, A), e.g. chunks sampled from a policy,
join the first population: that is the warm start. The planners keep no state between calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from wam.errors import require, unknown_choice

ScoreFn = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class PlannerSettings:
    samples: int = 64
    """candidates scored per iteration (N)"""
    iterations: int = 4
    """refinement rounds (select: always 1)"""
    elites: int = 8
    """CEM: candidates the next distribution is fitted to"""
    temperature: float = 0.5
    """MPPI: softmax temperature, in units of the population's score std"""
    min_std: float = 0.05
    """floor of the sampling std, so the search never collapses to a point early"""

    def __post_init__(self):
        require(self.samples >= 1, f"samples must be >= 1, got {self.samples}")
        require(self.iterations >= 1, f"iterations must be >= 1, got {self.iterations}")
        require(1 <= self.elites, f"elites must be >= 1, got {self.elites}")
        require(self.temperature > 0, f"temperature must be > 0, got {self.temperature}")
        require(self.min_std >= 0, f"min_std must be >= 0, got {self.min_std}")


def sample_population(
    mean: torch.Tensor, std: torch.Tensor, n: int, generator: torch.Generator | None, low, high
) -> torch.Tensor:
    """n Gaussian candidates (n, H, A) around mean, clipped to the action bounds."""
    noise = torch.randn((n,) + tuple(mean.shape), generator=generator, dtype=mean.dtype)
    return torch.maximum(torch.minimum(mean + std * noise, high), low)


def first_population(
    mean, std, settings: PlannerSettings, generator, low, high, proposals: torch.Tensor | None
) -> torch.Tensor:
    """The warm start: proposals fill the first population; Gaussian samples fill the rest."""
    population = sample_population(mean, std, settings.samples, generator, low, high)
    if proposals is not None:
        p = min(len(proposals), settings.samples)
        population[:p] = proposals[:p]
    return population


def select(score: ScoreFn, init, settings: PlannerSettings, generator, low, high, proposals=None):
    """Score the proposals once and keep the best (world-model selection; no refinement)."""
    require(proposals is not None and len(proposals) >= 1, "the 'select' planner needs proposals (--proposals <model>)")
    scores = score(proposals)
    best = int(torch.argmax(scores))
    return proposals[best], {"score": float(scores[best]), "evaluated": len(proposals)}


def _planners() -> dict:
    from wam.planners.cem import cem
    from wam.planners.mppi import mppi

    return {"select": select, "cem": cem, "mppi": mppi}


PLANNER_NAMES = ("select", "cem", "mppi")


def get_planner(name: str):
    planners = _planners()
    if name not in planners:
        raise unknown_choice("planner", name, planners)
    return planners[name]

"""Model predictive path integral control (Williams et al. 2017; TD-MPC2's planner).

Every candidate moves the distribution, weighted by exp(score / (temperature x std of the
population's scores)): a soft version of CEM's hard elite cut. Measuring the temperature in units
of the score spread makes it independent of the scorer's scale (returns of a learned world model
span hundreds; a quadratic cost, units). The plan is the weighted mean after the last iteration.
"""

from __future__ import annotations

import torch

from wam.planners import PlannerSettings, ScoreFn, first_population, sample_population


def mppi(score: ScoreFn, init, settings: PlannerSettings, generator, low, high, proposals=None):
    mean, std = init
    for i in range(settings.iterations):
        if i == 0:
            population = first_population(mean, std, settings, generator, low, high, proposals)
        else:
            population = sample_population(mean, std, settings.samples, generator, low, high)
        scores = score(population)
        spread = scores.std(unbiased=False).clamp_min(1e-6) if len(scores) > 1 else torch.ones(())
        weights = torch.softmax((scores - scores.max()) / (settings.temperature * spread), dim=0)  # (N,)
        w = weights.view(-1, *([1] * (population.dim() - 1)))
        mean = (w * population).sum(0)
        std = (w * (population - mean) ** 2).sum(0).sqrt().clamp_min(settings.min_std)
    final = float(score(mean[None])[0])
    return mean, {"score": final, "evaluated": settings.samples * settings.iterations + 1}

"""Cross-entropy method (Rubinstein 1999; the planner of PlaNet and DINO-WM).

Sample a population around a Gaussian, keep the `elites` best, refit the Gaussian to them,
repeat. Returns the best candidate ever scored, not the final mean: with a learned scorer the
mean of the elites can fall between modes that the model never evaluated.
"""

from __future__ import annotations

import torch

from wam.planners import PlannerSettings, ScoreFn, first_population, sample_population


def cem(score: ScoreFn, init, settings: PlannerSettings, generator, low, high, proposals=None):
    mean, std = init
    best, best_score = None, -float("inf")
    elites = min(settings.elites, settings.samples)
    for i in range(settings.iterations):
        if i == 0:
            population = first_population(mean, std, settings, generator, low, high, proposals)
        else:
            population = sample_population(mean, std, settings.samples, generator, low, high)
        scores = score(population)  # (N,)
        top = torch.topk(scores, elites).indices
        if float(scores[top[0]]) > best_score:
            best, best_score = population[top[0]].clone(), float(scores[top[0]])
        elite = population[top]
        mean = elite.mean(0)
        std = elite.std(0, unbiased=False).clamp_min(settings.min_std)
    return best, {"score": best_score, "evaluated": settings.samples * settings.iterations}

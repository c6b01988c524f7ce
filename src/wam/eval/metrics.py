"""Success intervals and latency summaries."""

from __future__ import annotations

import math

import numpy as np

from wam.errors import WamError, require


def wilson_interval(successes: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score 95% interval for a binomial proportion (well-behaved at 0% and 100%)."""
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def latency_summary(seconds: list[float]) -> dict[str, float]:
    if not seconds:
        return {"p50": float("nan"), "p95": float("nan"), "mean": float("nan"), "calls": 0}
    ms = np.asarray(seconds) * 1000.0
    return {
        "p50": round(float(np.percentile(ms, 50)), 3),
        "p95": round(float(np.percentile(ms, 95)), 3),
        "mean": round(float(ms.mean()), 3),
        "calls": int(len(ms)),
    }


def control_rate(latency_ms: dict[str, float], executed_steps: int, control_hz: float) -> dict:
    """The chunked regime's feasibility rule (survey §2, D): a call that plans K executed steps
    must finish within those K control periods, N_fwd(K) / K < 1 / f_ctrl, or the robot waits.
    Computed from measured latency (p50 and p95 per call) on the machine that ran the evaluation."""
    budget = 1000.0 / control_hz
    per_step = {k: latency_ms[k] / executed_steps for k in ("p50", "p95")}
    return {
        "control_hz": control_hz,
        "executed_steps_per_call": executed_steps,
        "budget_ms_per_step": round(budget, 3),
        "ms_per_executed_step_p50": round(per_step["p50"], 3),
        "ms_per_executed_step_p95": round(per_step["p95"], 3),
        "feasible_p50": bool(per_step["p50"] < budget),
        "feasible_p95": bool(per_step["p95"] < budget),
    }


def flops_per_call(model, n_obs_steps: int, image_shape: tuple[int, int, int], state_dim: int) -> int | None:
    """Floating-point operations of one `act` call (batch of one), counted by torch's
    FlopCounterMode: matrix multiplies and convolutions, the operations that dominate these
    networks (elementwise ops are not counted). A planner's FLOPs include every candidate it
    rolls out and its proposer's call. None if the count fails: never an estimate."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    observation = {
        "image": torch.zeros(1, n_obs_steps, *image_shape, dtype=torch.uint8),
        "state": torch.zeros(1, n_obs_steps, state_dim),
        "task_index": torch.zeros(1, dtype=torch.long),
    }
    try:
        model.reset()
        with FlopCounterMode(display=False) as counter:
            model.act(observation, generator=torch.Generator().manual_seed(0))
        return int(counter.get_total_flops())
    except Exception:  # noqa: BLE001 - a counting failure must not stop an evaluation
        return None
    finally:
        model.reset()


def paired_comparison(reference: list[dict], other: list[dict]) -> dict:
    """Two evaluations of the same initial conditions, compared episode by episode.

    Both lists hold episode records ({"task", "seed", "success", ...}) on the same (task, seed)
    pairs, as evaluations under one protocol do. Counts the discordant pairs (`wins`: `other`
    succeeds where `reference` fails; `losses`: the reverse) and tests them with the exact
    two-sided McNemar test: under "no difference" each discordant pair is a fair coin, so
    p = P(Binomial(wins + losses, 1/2) is at least as far from its mean as observed). Pairing
    removes the variance shared by the two models (an initial condition both solve, or both
    fail), so it can find a difference that two overlapping Wilson intervals hide."""

    def by_key(episodes: list[dict], which: str) -> dict:
        keyed = {(e["task"], e["seed"]): bool(e["success"]) for e in episodes}
        require(len(keyed) == len(episodes), f"the {which} evaluation repeats a (task, seed) pair: it cannot be paired")
        return keyed

    ref, oth = by_key(reference, "reference"), by_key(other, "compared")
    if ref.keys() != oth.keys():
        only = sorted(ref.keys() ^ oth.keys())
        raise WamError(f"cannot pair evaluations of different initial conditions: {len(only)} (task, seed) pairs "
                       f"are in one and not the other, e.g. {only[0]}")
    counts = {"both": 0, "wins": 0, "losses": 0, "neither": 0}
    for key, r in ref.items():
        o = oth[key]
        counts["both" if r and o else "wins" if o else "losses" if r else "neither"] += 1
    n, k = counts["wins"] + counts["losses"], min(counts["wins"], counts["losses"])
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n if n else 1.0
    return {**counts, "episodes": len(ref), "p_value": min(1.0, 2 * tail)}

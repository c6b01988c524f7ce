"""Causality, second half: success inside the model's own imagined rollout vs in the real loop.

A WAM that acts on its imagination can believe in futures the world does not produce. The probe
runs each held-out initial condition twice with the same sampling noise:

- **real**: the chunked regime in the simulator (exactly `wam eval`'s loop: plan, execute
  `action_steps`, re-plan), success from the simulator. After every step the model's own success
  judge also reads the real observation (`judged real`): how well the judge itself reads success.
- **imagined**: only the first observation is real. The model plans from its belief, the belief
  is stepped through the executed part of each plan by the model's dynamics, the next plan starts
  from the imagined belief, and the judge decides success on the imagined belief after every step.

Reported: the three success rates with Wilson 95% intervals, the **gap** imagined - real (what the
model believes it achieves minus what it achieves), split into the judge's own error (judged real
- real) and the **imagination gap** imagined - judged real (what imagining instead of looking adds),
and the per-episode agreement of imagined and real. Models that cannot act in their imagination
or judge success there get "not applicable" with the reason.
"""

from __future__ import annotations

from collections import deque

import numpy as np
import torch

from wam.eval.metrics import wilson_interval
from wam.runner.regimes import Chunked
from wam.runner.rollout import observation_batch

JUDGE_THRESHOLD = 0.5  # the judge's probability above which a state counts as solved


def _generator(sampling_seed: int, seed: int) -> torch.Generator:
    """The sampling noise of `wam eval`'s episode with this seed (wam.runner.rollout.run_episode)."""
    return torch.Generator().manual_seed(sampling_seed * 1_000_003 + seed)


def real_episode(model, env, seed: int, task_index: int, action_steps: int, max_steps: int, sampling_seed: int) -> dict:
    """The chunked closed loop in the simulator, with the model's judge reading every real observation."""
    generator = _generator(sampling_seed, seed)
    regime = Chunked(action_steps)
    model.reset()
    regime.reset()
    obs, _ = env.reset(seed=seed)
    history = deque([obs] * model.window.n_obs_steps, maxlen=model.window.n_obs_steps)
    success, judged_at, steps = False, None, 0
    for step in range(max_steps):
        if regime.needs_plan():
            regime.set_plan(regime.call(model, observation_batch(history, task_index), generator))
        obs, _, _, truncated, info = env.step(regime.next_action())
        history.append(obs)
        steps = step + 1
        if judged_at is None and model.judge_success(observation_batch(history, task_index)) > JUDGE_THRESHOLD:
            judged_at = steps
        if info["success"]:
            success = True
            break
        if truncated:
            break
    return {"success": success, "steps": steps, "judged_success": judged_at is not None, "judged_at": judged_at}


def imagined_episode(model, env, seed: int, task_index: int, action_steps: int, max_steps: int, sampling_seed: int) -> dict:
    """The same loop with the world replaced by the model's imagination after the first frame."""
    generator = _generator(sampling_seed, seed)
    model.reset()
    obs, _ = env.reset(seed=seed)
    history = deque([obs] * model.window.n_obs_steps, maxlen=model.window.n_obs_steps)
    belief = model.imagination_start(observation_batch(history, task_index))
    steps = 0
    while steps < max_steps:
        chunk = model.imagination_act(belief, generator)[0].numpy()[: min(action_steps, max_steps - steps)]
        belief, solved = model.imagination_step(belief, chunk)
        hits = np.flatnonzero(np.asarray(solved) > JUDGE_THRESHOLD)
        if len(hits):
            return {"success": True, "steps": steps + int(hits[0]) + 1}
        steps += len(chunk)
    return {"success": False, "steps": steps}


def imagination_pair(model, env, task: str, seed: int, task_index: int, action_steps: int, max_steps: int, sampling_seed: int) -> dict:
    real = real_episode(model, env, seed, task_index, action_steps, max_steps, sampling_seed)
    imagined = imagined_episode(model, env, seed, task_index, action_steps, max_steps, sampling_seed)
    return {"task": task, "seed": seed, "real": real, "imagined": imagined}


def _rate(flags: list[bool]) -> dict:
    lo, hi = wilson_interval(int(sum(flags)), len(flags))
    return {"success": float(np.mean(flags)), "ci95": [lo, hi]}


def summarize_imagination(records: list[dict]) -> dict:
    """Success rates, gaps and per-episode agreement over imagination_pair records."""
    real = [r["real"]["success"] for r in records]
    judged = [r["real"]["judged_success"] for r in records]
    imagined = [r["imagined"]["success"] for r in records]
    out = {
        "episodes": len(records),
        "judge_threshold": JUDGE_THRESHOLD,
        "real": _rate(real),
        "judged_real": _rate(judged),
        "imagined": _rate(imagined),
    }
    out["gap"] = out["imagined"]["success"] - out["real"]["success"]
    out["judge_gap"] = out["judged_real"]["success"] - out["real"]["success"]
    out["imagination_gap"] = out["imagined"]["success"] - out["judged_real"]["success"]
    out["agreement"] = {
        "both": sum(i and r for i, r in zip(imagined, real)),
        "imagined_only": sum(i and not r for i, r in zip(imagined, real)),
        "real_only": sum(r and not i for i, r in zip(imagined, real)),
        "neither": sum(not i and not r for i, r in zip(imagined, real)),
    }
    out["judge_agrees_with_simulator"] = float(np.mean([j == r for j, r in zip(judged, real)]))
    per_task: dict[str, dict] = {}
    for r in records:
        row = per_task.setdefault(r["task"], {"real": [], "judged_real": [], "imagined": []})
        row["real"].append(r["real"]["success"])
        row["judged_real"].append(r["real"]["judged_success"])
        row["imagined"].append(r["imagined"]["success"])
    out["per_task"] = {t: {k: float(np.mean(v)) for k, v in row.items()} for t, row in per_task.items()}
    return out


# -- parallel episodes: one model and one environment per worker process ---------------------------
_state: dict = {}


def _init_worker(checkpoint: str, options: dict[str, str], proposals: str) -> None:
    from wam.runner.evaluate import load_with_proposer
    from wam.utils import worker_init

    worker_init(1)
    _state["model"], _ = load_with_proposer(checkpoint, options, proposals)


def _pair_job(job: dict) -> dict:
    from wam.runner.evaluate import worker_env

    env = worker_env(_state, job)
    return imagination_pair(_state["model"], env, job["task"], job["seed"], job["task_index"], job["action_steps"],
                            job["max_steps"], job["sampling_seed"])


def run_pairs(jobs: list[dict], checkpoint: str, options: dict[str, str], proposals: str, workers: int, log_path, done: dict) -> None:
    """Run imagination pairs in `workers` processes, appending each finished one to `log_path`
    (a killed probe resumes from it) and to `done`, keyed by (task, seed)."""
    import json
    import multiprocessing as mp

    from tqdm import tqdm

    if not jobs:
        return
    ctx = mp.get_context("spawn")
    with ctx.Pool(min(workers, len(jobs)), initializer=_init_worker, initargs=(checkpoint, options, proposals)) as pool, \
            open(log_path, "a") as log, tqdm(total=len(jobs) + len(done), initial=len(done), desc="imagined vs real", unit="ep") as bar:
        for record in pool.imap_unordered(_pair_job, jobs):
            log.write(json.dumps(record) + "\n")
            log.flush()
            done[(record["task"], record["seed"])] = record
            bar.update(1)

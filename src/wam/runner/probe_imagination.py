"""Causality, second half: success inside the model's own imagined rollout vs in the real loop.

A WAM that acts on its imagination can believe in futures the world does not produce. The probe
runs each held-out initial condition twice with the same sampling noise:

- **real**: the chunked regime in the simulator (`wam eval`'s own episode runner and sampling
  noise), success from the simulator. Each executed action is also judged one imagined step from
  the real observation it is executed from (`judged real`): how well the judge reads success when
  its imagination is re-grounded at every step.
- **imagined**: only the first observation is real. The model plans from its belief, the belief
  is stepped through the executed part of each plan by the model's dynamics, the next plan starts
  from the imagined belief, and the judge decides success on the imagined belief after every step.

Reported: the three success rates with Wilson 95% intervals, the **gap** imagined - real (what the
model believes it achieves minus what it achieves), split into the judge's own error (judged real
- real) and the **imagination gap** imagined - judged real (what imagining a whole episode instead
of one step from each real observation adds), the per-episode agreement of imagined and real, and
two threshold-free numbers (the judge's highest probability per episode, and its AUROC on the
real loop). Models that cannot act in their imagination or judge success there get "not
applicable" with the reason.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from wam.eval.metrics import wilson_interval
from wam.runner.regimes import Chunked
from wam.runner.rollout import episode_generator, observation_batch, run_episode

JUDGE_THRESHOLD = 0.5  # the judge's probability above which a state counts as solved


def real_episode(model, env, seed: int, task_index: int, action_steps: int, max_steps: int, sampling_seed: int) -> dict:
    """`wam eval`'s chunked episode (the same runner and noise), with the model's judge reading each
    executed action one imagined step from the real observation it is executed from."""
    judged = {"step": 0, "at": None, "max": 0.0}  # steps executed, the first judged solved, the highest probability

    def judge(history, action):
        judged["step"] += 1
        p = model.judge_step(observation_batch(history, task_index), action)
        judged["max"] = max(judged["max"], p)
        if judged["at"] is None and p > JUDGE_THRESHOLD:
            judged["at"] = judged["step"]

    result = run_episode(model, env, seed, task_index, Chunked(action_steps), max_steps, sampling_seed=sampling_seed, before_step=judge)
    return {"success": result.success, "steps": result.steps, "judged_success": judged["at"] is not None,
            "judged_at": judged["at"], "judged_max_probability": judged["max"]}


def imagined_episode(model, env, seed: int, task_index: int, action_steps: int, max_steps: int, sampling_seed: int) -> dict:
    """The same loop with the world replaced by the model's imagination after the first frame."""
    generator = episode_generator(sampling_seed, seed)
    model.reset()
    obs, _ = env.reset(seed=seed)
    history = deque([obs] * model.window.n_obs_steps, maxlen=model.window.n_obs_steps)
    belief = model.imagination_start(observation_batch(history, task_index))
    steps, highest = 0, 0.0
    while steps < max_steps:
        chunk = model.imagination_act(belief, generator)[0].numpy()[: min(action_steps, max_steps - steps)]
        belief, solved = model.imagination_step(belief, chunk)
        solved = np.asarray(solved, dtype=np.float64)
        highest = max(highest, float(solved.max(initial=0.0)))
        hits = np.flatnonzero(solved > JUDGE_THRESHOLD)
        if len(hits):
            return {"success": True, "steps": steps + int(hits[0]) + 1, "max_probability": highest}
        steps += len(chunk)
    return {"success": False, "steps": steps, "max_probability": highest}


def imagination_pair(model, env, task: str, seed: int, task_index: int, action_steps: int, max_steps: int, sampling_seed: int) -> dict:
    real = real_episode(model, env, seed, task_index, action_steps, max_steps, sampling_seed)
    imagined = imagined_episode(model, env, seed, task_index, action_steps, max_steps, sampling_seed)
    return {"task": task, "seed": seed, "real": real, "imagined": imagined}


def _rate(flags: list[bool]) -> dict:
    lo, hi = wilson_interval(int(sum(flags)), len(flags))
    return {"success": float(np.mean(flags)), "ci95": [lo, hi]}


def auroc(scores: list[float], labels: list[bool]) -> float | None:
    """Area under the ROC curve: the chance that a random positive scores above a random negative
    (ties count half); None when one class is absent."""
    pos = np.asarray([s for s, y in zip(scores, labels) if y], dtype=np.float64)
    neg = np.asarray([s for s, y in zip(scores, labels) if not y], dtype=np.float64)
    if len(pos) == 0 or len(neg) == 0:
        return None
    wins = (pos[:, None] > neg[None]).sum() + 0.5 * (pos[:, None] == neg[None]).sum()
    return float(wins / (len(pos) * len(neg)))


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
    # threshold-free: how confident the judge ever got, and how well its confidence on the real
    # loop ranks the episodes that really succeeded above those that did not
    judged_max = [r["real"]["judged_max_probability"] for r in records]
    out["mean_max_probability"] = {"imagined": float(np.mean([r["imagined"]["max_probability"] for r in records])),
                                   "judged_real": float(np.mean(judged_max))}
    out["judge_auroc"] = auroc(judged_max, real)
    per_task: dict[str, dict] = {}
    for r in records:
        row = per_task.setdefault(r["task"], {"real": [], "judged_real": [], "imagined": []})
        row["real"].append(r["real"]["success"])
        row["judged_real"].append(r["real"]["judged_success"])
        row["imagined"].append(r["imagined"]["success"])
    out["per_task"] = {t: {k: float(np.mean(v)) for k, v in row.items()} for t, row in per_task.items()}
    return out


# -- parallel episodes: wam eval's rollout workers (one model and one environment each) -------------
def _pair_job(job: dict) -> dict:
    from wam.runner.evaluate import worker_env, worker_state

    env = worker_env(worker_state, job)
    return imagination_pair(worker_state["model"], env, job["task"], job["seed"], job["task_index"], job["action_steps"],
                            job["max_steps"], job["sampling_seed"])


def run_pairs(jobs: list[dict], checkpoint: str, options: dict[str, str], proposals: str, workers: int, log_path, done: dict,
              total: int) -> None:
    """Run imagination pairs in `workers` processes, appending each finished one to `log_path`
    (a killed probe resumes from it) and to `done`, keyed by (task, seed); `total`: pairs this
    probe wants, finished ones included (for the progress bar)."""
    import json
    import multiprocessing as mp

    from tqdm import tqdm

    from wam.runner.evaluate import init_worker

    if not jobs:
        return
    ctx = mp.get_context("spawn")
    with ctx.Pool(min(workers, len(jobs)), initializer=init_worker, initargs=(checkpoint, options, proposals)) as pool, \
            open(log_path, "a") as log, tqdm(total=total, initial=total - len(jobs), desc="imagined vs real", unit="ep") as bar:
        for record in pool.imap_unordered(_pair_job, jobs):
            log.write(json.dumps(record) + "\n")
            log.flush()
            done[(record["task"], record["seed"])] = record
            bar.update(1)

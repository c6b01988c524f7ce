"""Persistence and physical plausibility: long and executed imagined futures against the simulator.

Both probes start, like the others in `wam.runner.probe`, from a held-out initial condition
advanced by the scripted expert, and compare what the model imagines with what the simulator does
(definitions in docs/probes.md).

- **persistence**: the model imagines the expert's next `horizon` actions, chunk after chunk, two
  ways. *Open loop*: each chunk is imagined from the previous chunk's imagined observation (frame
  models feed their last predicted frame back as the image history, with proprio held at its last
  measured value since no model here predicts proprio; a latent dynamics model simply keeps
  stepping its latent). *Re-grounded*: each chunk is imagined from the real observation the
  simulator reached. Error against the real future per step ahead, and the compute time and peak
  memory of the open-loop rollout as it grows.
- **plausibility**: the model acts from the state; the simulator executes the chunk it decoded;
  the future the model predicted while choosing that chunk is compared with what the chunk really
  did: in the model's substrate (latent MSE), in pixels (PSNR), and in the hand and object
  positions of the simulator's state, read from the model's latents by a linear readout fitted on
  real frames of other states (its error on real frames is reported as the floor).
"""

from __future__ import annotations

import time
from collections import deque

import numpy as np
import torch

from wam.eval.failures import HAND, OBJECT
from wam.runner.regimes import image_history
from wam.runner.rollout import observation_batch
from wam.utils import peak_rss_mib


def _expert_future(env, snap, history: deque, task_index: int, steps: int):
    """The scripted expert's next `steps` actions from the snapshot and the real observation batch
    after each; the env is restored afterwards."""
    from wam.envs.experts import ScriptedExpert

    expert = ScriptedExpert(env.task)
    env.restore(snap)
    hist = deque(history, maxlen=history.maxlen)
    actions, batches = [], []
    for _ in range(steps):
        action = expert(env.privileged_state)
        obs, *_ = env.step(action)
        hist.append(obs)
        actions.append(action)
        batches.append(observation_batch(hist, task_index))
    env.restore(snap)
    return np.asarray(actions, np.float32), batches


def imagined_observation(observation: dict[str, torch.Tensor], imagined: dict, at: int) -> dict[str, torch.Tensor]:
    """The observation to imagine the next chunk from, made of this chunk's imagination: the frame
    predicted `at` steps ahead (the chunk's end) fills the image history (as the runner fills it at
    reset); proprio stays at its last measured value (no model here predicts proprio)."""
    frames = imagined["frames"][:, list(imagined["offsets"]).index(at)]
    return {**observation, "image": image_history(frames, observation["image"].shape[1])}


def imagine_chain(model, observation, actions: np.ndarray, real_batches: list, reground: bool, generator) -> dict | None:
    """Imagine `actions` (T, A) chunk by chunk. Returns {step ahead: (latent, frame or None)} and,
    per chunk boundary, the seconds spent so far and the peak RSS (MiB). None for an open loop the
    model cannot run: it decodes no frames to imagine the next chunk from, and its latent does not
    step over any number of actions, or it predicts no frame at the chunk's end to continue from."""
    k = model.window.chunk
    predictions, cost = {}, []
    if not reground and model.imagines_any_horizon:
        # one call per horizon (k, 2k, ...): the cost of imagining that far in one go
        for h in range(k, len(actions) + 1, k):
            start = time.perf_counter()
            imagined = model.imagine(observation, torch.from_numpy(actions[:h])[None], generator)
            cost.append((h, time.perf_counter() - start, peak_rss_mib()))
        for i, offset in enumerate(imagined["offsets"]):
            predictions[offset] = (imagined["latents"][0, i], None if imagined["frames"] is None else imagined["frames"][0, i])
        return {"predictions": predictions, "cost": cost}
    start = time.perf_counter()
    obs = observation
    for begin in range(0, len(actions) - k + 1, k):
        imagined = model.imagine(obs, torch.from_numpy(actions[begin : begin + k])[None], generator)
        for i, offset in enumerate(imagined["offsets"]):
            if offset <= k:
                frame = None if imagined["frames"] is None else imagined["frames"][0, i]
                predictions[begin + offset] = (imagined["latents"][0, i], frame)
        cost.append((begin + k, time.perf_counter() - start, peak_rss_mib()))
        if reground:
            obs = real_batches[begin + k - 1]
        elif imagined["frames"] is None or k not in imagined["offsets"]:
            return None
        else:
            obs = imagined_observation(obs, imagined, at=k)
    return {"predictions": predictions, "cost": cost}


def persistence_state(model, env, seed: int, task_index: int, warmup: int, horizon: int, rng, generator) -> dict:
    """Errors of the imagined future along `horizon` expert steps, open loop and re-grounded."""
    from wam.eval.fidelity import frame_metrics
    from wam.runner.probe import probe_state

    history, snap, _ = probe_state(model, env, seed, warmup, 1, rng)
    horizon -= horizon % model.window.chunk  # whole chunks
    actions, real_batches = _expert_future(env, snap, history, task_index, horizon)
    observation = observation_batch(history, task_index)
    noise = None if generator is None else generator.get_state()
    out = {}
    for mode in ("open_loop", "regrounded"):
        if noise is not None:  # the same sampling noise in both modes: their first chunks are identical
            generator.set_state(noise)
        chain = imagine_chain(model, observation, actions, real_batches, mode == "regrounded", generator)
        if chain is None:
            continue
        rows = {}
        for step, (latent, frame) in sorted(chain["predictions"].items()):
            real = real_batches[step - 1]
            real_latent = model.encode_observation(real)[0]
            row = {"latent_mse": float(((latent - real_latent) ** 2).mean())}
            if frame is not None:
                row["psnr_db"] = frame_metrics(frame[None], real["image"][:, -1].numpy())["psnr"]
            rows[step] = row
        out[mode] = {"per_step": rows, "cost": chain["cost"]}
    return out


def plausibility_state(model, env, seed: int, task_index: int, warmup: int, rng, generator) -> dict | None:
    """The model acts; the simulator executes its chunk; the future predicted with that chunk
    against the real one at each predicted offset the chunk reaches ({"offsets": {offset: row}}),
    and (real latent, true positions) after every executed step for the readout ("readout_pairs").
    None: the model predicted nothing this call (e.g. a dial setting that skips the future)."""
    from wam.eval.fidelity import frame_metrics
    from wam.runner.probe import probe_state

    history, snap, _ = probe_state(model, env, seed, warmup, 1, rng)
    model.reset()
    chunk = model.act(observation_batch(history, task_index), generator=generator)[0].cpu().numpy()
    prediction = model.last_prediction()
    if prediction is None:
        return None
    env.restore(snap)
    hist = deque(history, maxlen=history.maxlen)
    real, readout_pairs = {}, []
    reached = [o for o in prediction["offsets"] if o <= len(chunk)]
    for t in range(1, len(chunk) + 1):
        obs, *_ = env.step(chunk[t - 1])
        hist.append(obs)
        batch = observation_batch(hist, task_index)
        real_latent = model.encode_observation(batch)[0].flatten().float().cpu().numpy()
        # every executed step is a (real latent, true positions) pair for the position readout
        readout_pairs.append((real_latent, positions(env.privileged_state)))
        if t in reached:
            real[t] = (batch, real_latent, env.privileged_state.copy())
    env.restore(snap)
    rows = {}
    for i, offset in enumerate(prediction["offsets"]):
        if offset not in real:
            continue
        batch, real_latent, state = real[offset]
        if prediction.get("latents") is not None:
            predicted_latent = prediction["latents"][0, i]
        else:  # a model that predicts frames only: its frame in the same substrate as the real one
            imagined = image_history(prediction["frames"][:, i], batch["image"].shape[1])
            predicted_latent = model.encode_observation({**batch, "image": imagined})[0]
        row = {"predicted_latent": predicted_latent.flatten().float().cpu().numpy(), "real_latent": real_latent,
               "positions": positions(state)}
        row["latent_mse"] = float(np.mean((row["predicted_latent"] - row["real_latent"]) ** 2))
        if prediction.get("frames") is not None:
            row["psnr_db"] = frame_metrics(prediction["frames"][0, i][None], batch["image"][:, -1].numpy())["psnr"]
        rows[offset] = row
    return {"offsets": rows, "readout_pairs": readout_pairs}


def positions(state: np.ndarray) -> np.ndarray:
    """Hand and (first) object xyz from the simulator's 39-d state, in metres."""
    return np.concatenate([state[HAND], state[OBJECT]]).astype(np.float64)


def fit_position_readout(latents: np.ndarray, targets: np.ndarray, ridge: float = 1e-2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ridge regression from standardised latents (N, D) to positions (N, 6): (mean, std, weights
    with a bias row). Linear on purpose: it reads what the latent holds, it does not add a model."""
    mean, std = latents.mean(0), latents.std(0) + 1e-6
    x = np.c_[(latents - mean) / std, np.ones(len(latents))]
    weights = np.linalg.solve(x.T @ x + ridge * len(x) * np.eye(x.shape[1]), x.T @ targets)
    return mean, std, weights


def read_positions(readout, latents: np.ndarray) -> np.ndarray:
    mean, std, weights = readout
    return np.c_[(latents - mean) / std, np.ones(len(latents))] @ weights


# -- summaries over states ----------------------------------------------------------------------
def summarize_persistence(states: list[dict]) -> dict:
    """Mean error per step ahead for each mode, and the open-loop cost per horizon."""
    modes = {}
    for mode in ("open_loop", "regrounded"):
        runs = [s[mode] for s in states if mode in s]
        if not runs:
            continue
        steps = sorted({step for r in runs for step in r["per_step"]})
        per_step = {}
        for step in steps:
            rows = [r["per_step"][step] for r in runs if step in r["per_step"]]
            entry = {"n": len(rows), "latent_mse": float(np.mean([x["latent_mse"] for x in rows]))}
            if "psnr_db" in rows[0]:
                entry["psnr_db"] = float(np.mean([x["psnr_db"] for x in rows]))
            per_step[str(step)] = entry
        horizons = sorted({h for r in runs for h, _, _ in r["cost"]})
        cost = {
            str(h): {
                "seconds_mean": float(np.mean([sec for r in runs for hh, sec, _ in r["cost"] if hh == h])),
                "peak_rss_mib": float(max(rss for r in runs for hh, _, rss in r["cost"] if hh == h)),
            }
            for h in horizons
        }
        modes[mode] = {"states": len(runs), "per_step": per_step, "cost": cost}
    reason = None if "open_loop" in modes else "the model decodes no frames and its latent does not step over any number of actions"
    return {
        "actions": "the scripted expert's next `horizon` actions from each state",
        "open_loop_feedback": "frame models: the last predicted frame fills the image history, proprio held at its last measured value; "
                              "latent dynamics models: the latent keeps stepping",
        "modes": modes,
        "open_loop_not_applicable": reason,
    }


def summarize_plausibility(states: list[dict | None]) -> dict | None:
    """Per offset: latent MSE and PSNR of the prediction against the executed outcome, and hand /
    object position errors through a linear readout cross-fitted on two halves of the states (each
    state is read by the readout fitted on the other half; its error on real frames is the floor)."""
    states = [s for s in states if s is not None and s["offsets"]]
    if len(states) < 2:
        return None
    halves = [states[0::2], states[1::2]]
    readouts = []
    for half in halves:
        latents = np.stack([lat for s in half for lat, _ in s["readout_pairs"]])
        targets = np.stack([pos for s in half for _, pos in s["readout_pairs"]])
        readouts.append(fit_position_readout(latents, targets))
    per_offset: dict[int, dict[str, list]] = {}
    for i, state in enumerate(states):
        readout = readouts[1 - i % 2]  # fitted on the other half
        for offset, row in state["offsets"].items():
            acc = per_offset.setdefault(offset, {})
            acc.setdefault("latent_mse", []).append(row["latent_mse"])
            if "psnr_db" in row:
                acc.setdefault("psnr_db", []).append(row["psnr_db"])
            predicted, real = read_positions(readout, np.stack([row["predicted_latent"], row["real_latent"]]))
            for name, part in (("hand", slice(0, 3)), ("object", slice(3, 6))):
                acc.setdefault(f"{name}_error_cm", []).append(100 * float(np.linalg.norm(predicted[part] - row["positions"][part])))
                acc.setdefault(f"{name}_floor_cm", []).append(100 * float(np.linalg.norm(real[part] - row["positions"][part])))
    return {
        "actions": "the chunk the model itself decoded, executed in the simulator from the probed state",
        "readout": "ridge regression from the model's latent of a real observation to hand and object xyz, "
                   "fitted on the executed steps of the other half of the states",
        "per_offset": {str(o): {"n": len(acc["latent_mse"]), **{k: float(np.mean(v)) for k, v in acc.items()}}
                       for o, acc in sorted(per_offset.items())},
    }

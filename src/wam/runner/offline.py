"""`wam eval --offline <dataset>`: scores against recorded episodes, for robots no simulator runs.

On held-out episodes of any LeRobot v3 dataset (the user's own recordings, or a `wam collect`
run on other seeds), for a deterministic sample of frames:
  - action error: the model's action chunk against the recorded actions (MSE and MAE in the
    dataset's units, overall, per action dimension and per step of the chunk);
  - prediction error, for models that predict the future: each predicted frame against the
    recorded frame at that offset (PSNR, SSIM) and the latent MSE in the model's own substrate.
The dataset must not be the one the model trained on: its episodes would not be held out.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from wam.data.cache import TrainingCache
from wam.data.io import write_json
from wam.errors import WamError, require

OFFLINE_SCHEMA = "wam.offline/1"


def _task_remap(model_tasks: tuple[str, ...], dataset_tasks: tuple[str, ...]) -> np.ndarray:
    """dataset task_index -> the model's task_index (by instruction text)."""
    missing = [t for t in dataset_tasks if t not in model_tasks]
    if missing:
        raise WamError(f"the dataset has tasks the model was not trained on: {missing[:3]}")
    return np.array([model_tasks.index(t) for t in dataset_tasks], dtype=np.int64)


def evaluate_offline(model, meta: dict, dataset: Path, out: Path, frames: int = 512, batch_size: int = 32, seed: int = 0) -> dict:
    require(frames >= 1, f"frames must be >= 1, got {frames}")
    trained_on = (meta.get("train") or {}).get("dataset")
    if trained_on and Path(trained_on).resolve() == Path(dataset).resolve():
        raise WamError(f"{dataset} is the dataset the model trained on; offline evaluation needs held-out episodes")
    spec = model.spec
    cache = TrainingCache(dataset, image_key=spec.image_key if spec.image_key else None)
    data_spec = cache.spec()
    for what, mine, theirs in (
        ("images", tuple(spec.image_shape), tuple(data_spec.image_shape)),
        ("action dim", spec.action_dim, data_spec.action_dim),
        ("state dim", spec.state_dim, data_spec.state_dim),
    ):
        if mine != theirs:
            raise WamError(f"model expects {what} {mine}, the dataset has {theirs}")
    remap = _task_remap(tuple(spec.task_names), tuple(data_spec.task_names))
    window = model.window
    chunk = window.chunk
    # frames whose whole action chunk is recorded (no padding in the target)
    candidates = np.flatnonzero(cache.ep_end - np.arange(len(cache)) >= chunk)
    candidates = candidates[cache.episode_labelled[cache.episode_index[candidates]]]
    require(len(candidates) > 0, f"{dataset} has no labelled frame with {chunk} recorded actions after it")
    chosen = np.sort(np.random.default_rng(seed).choice(candidates, size=min(frames, len(candidates)), replace=False))

    generator = torch.Generator().manual_seed(seed)
    sq_err, abs_err = [], []
    predicted: dict[int, list] = {}
    for start in tqdm(range(0, len(chosen), batch_size), desc="offline", unit="batch"):
        idx = chosen[start : start + batch_size]
        batch = cache.batch(idx, window)
        obs = {"image": batch["image"], "state": batch["state"], "task_index": torch.from_numpy(remap[batch["task_index"].numpy()])}
        with torch.no_grad():
            actions = model.act(obs, generator=generator)[:, :chunk]
        target = batch["action"][:, : actions.shape[1]]
        sq_err.append(((actions - target) ** 2).numpy())
        abs_err.append((actions - target).abs().numpy())
        prediction = model.last_prediction()
        if prediction is None:
            continue
        for i, offset in enumerate(prediction["offsets"]):
            t = idx + offset
            inside = t < cache.ep_end[idx]  # the recorded episode reaches that far
            if not inside.any():
                continue
            real = np.asarray(cache.images[t[inside]])
            pred_frames = prediction["frames"][inside.nonzero()[0], i]
            mse = None
            if prediction.get("latents") is not None:
                real_latent = model.encode_substrate(torch.from_numpy(real))
                mse = ((prediction["latents"][torch.from_numpy(inside), i] - real_latent) ** 2).flatten(1).mean(1).tolist()
            predicted.setdefault(offset, []).append((pred_frames, real, mse))

    sq, ab = np.concatenate(sq_err), np.concatenate(abs_err)  # (N, K, A)
    result = {
        "schema": OFFLINE_SCHEMA,
        "model": meta["model"],
        "dataset": str(dataset),
        "frames_evaluated": int(len(chosen)),
        "episodes": int(len(np.unique(cache.episode_index[chosen]))),
        "sample_seed": seed,
        "chunk": chunk,
        "action_mse": float(sq.mean()),
        "action_mae": float(ab.mean()),
        "action_mse_per_dim": sq.mean(axis=(0, 1)).round(6).tolist(),
        "action_mse_per_step": sq.mean(axis=(0, 2)).round(6).tolist(),
        "prediction_error": _pool(predicted) or None,
    }
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "offline.json", result)
    return result


def _pool(predicted: dict[int, list]) -> dict[str, dict]:
    from wam.eval.fidelity import frame_metrics

    out = {}
    for offset, parts in sorted(predicted.items()):
        pred = np.concatenate([p for p, _, _ in parts])
        real = np.concatenate([r for _, r, _ in parts])
        m = frame_metrics(pred, real)
        mses = [x for _, _, ms in parts if ms is not None for x in ms]
        out[str(offset)] = {"n": int(len(pred)), "psnr_db": m["psnr"], "ssim": m["ssim"], "latent_mse": float(np.mean(mses)) if mses else None}
    return out


def offline_main(cfg) -> dict:
    from wam.runner.evaluate import load_with_proposer, parse_options, resolve_proposals

    proposals = str(resolve_proposals(cfg.proposals, cfg.checkpoint)) if cfg.proposals else ""
    model, meta = load_with_proposer(str(cfg.checkpoint), parse_options(cfg.option), proposals)
    if model.role != "agent":
        raise WamError(f"'{model.name}' is a {model.role} component, not a policy or WAM")
    out = cfg.out if str(cfg.out) not in ("", ".") else Path(cfg.checkpoint).parent / "offline"
    result = evaluate_offline(model, meta, Path(cfg.offline), Path(out), frames=cfg.offline_frames, seed=cfg.sampling_seed)
    print(
        f"{result['model']} on {result['frames_evaluated']} frames of {result['episodes']} episodes of {result['dataset']}: "
        f"action MSE {result['action_mse']:.4f}, MAE {result['action_mae']:.4f} (chunk of {result['chunk']})"
    )
    for offset, v in (result["prediction_error"] or {}).items():
        latent = f", latent MSE {v['latent_mse']:.4f}" if v["latent_mse"] is not None else ""
        print(f"predicted vs recorded frame {offset} steps ahead: PSNR {v['psnr_db']:.2f} dB, SSIM {v['ssim']:.3f}{latent} (n={v['n']})")
    print(f"wrote {Path(out) / 'offline.json'}")
    return result

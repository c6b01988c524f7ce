"""`wam probe`: the WAM properties measured against the simulator (docs/probes.md).

The simulator is the oracle: it can be put back into an exact state and any action chunk
replayed from there, so a model's predicted futures can be compared with the real ones under the
same actions, and under other actions.

Implemented so far:
- **interactability**: from one state, several different action chunks (the scripted expert's
  next chunk and uniformly random ones); do the model's predicted futures differ the way the real
  ones do? Models without forward dynamics get "not applicable".
- **causality**: the action chosen at t must not change when information from after t changes.
  From one state, the model acts on its history alone and on the history handed together with the
  real future of the next chunk, or with the future of another (random) chunk, in the keys a
  training batch uses for futures; the same sampling noise each time. Any change is a leak.
  Second half, for models that can act inside their own imagination and judge success there:
  success in the imagined rollout vs in the real loop (`wam.runner.probe_imagination`).
- **persistence** and **plausibility**: long open-loop imagination against the real future, and the
  real outcome of the actions decoded from a predicted future (`wam.runner.probe_futures`).
- **generalization** (the named visual shifts): closed-loop success on the held-out initial
  conditions under each named shift (`wam eval --shift`), beside the unshifted success on the
  same seeds, and the drop.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import numpy as np
import torch
import tyro
from tqdm import tqdm

from wam.data.io import write_json
from wam.envs.seeds import episode_seeds
from wam.errors import WamError, require, unknown_choice
from wam.runner.rollout import observation_batch

PROBE_SCHEMA = "wam.probe/1"
PROPERTIES = ("interactability", "causality", "persistence", "plausibility", "generalization")


@dataclass
class ProbeConfig:
    """Measure a WAM property against the simulator."""

    checkpoint: Path = Path("runs/mt10/joint-diffusion/model")
    """model folder written by `wam train`"""
    property: str = "interactability"
    """which property: interactability, causality, persistence, plausibility or generalization"""
    out: Path = Path("")
    """output folder (default: <checkpoint>/../probe)"""
    tasks: str = ""
    """tasks (default: every task the model was trained on)"""
    states: int = 5
    """probe states per task (held-out initial conditions, advanced by the scripted expert)"""
    candidates: int = 4
    """action chunks per state: the expert's next chunk and candidates-1 uniformly random ones (causality: futures)"""
    max_warmup: int = 40
    """the expert runs a random 0..max_warmup steps from reset before a state is probed"""
    horizon: int = 96
    """persistence: expert steps imagined from each state (whole chunks of the model's length)"""
    seed: int = 0
    """seed of warm-up lengths, random chunks and the model's sampling noise"""
    shifts: str = "none,camera-pose,lighting-dim,colour-tint"
    """generalization: named visual shifts to evaluate under ('none' is the reference)"""
    episodes: int = 10
    """generalization: held-out episodes per task per shift; causality: held-out episodes per task run both
    in the simulator and inside the model's imagination (models that can judge success there)"""
    workers: int = 2
    """generalization and causality's imagined rollouts: parallel rollout processes"""
    action_steps: int = 8
    """generalization and causality's imagined rollouts: steps executed from each chunk before re-planning"""
    max_steps: int = 500
    """generalization and causality's imagined rollouts: episode step limit"""
    option: Annotated[tuple[str, ...], tyro.conf.UseAppendAction] = ()
    """a runtime option of the model as name=value, repeatable, as in `wam eval` (e.g. --option planner=cem)"""
    proposals: str = ""
    """for a model that scores actions (latent-rollout): the model whose chunks it scores, as in `wam eval`"""
    unseen_tasks: str = ""
    """generalization: Meta-World tasks outside training, each learned from --shots demos by finetuning the checkpoint (and from scratch, for reference)"""
    shots: int = 5
    """generalization: demonstrations per unseen task (train-split seeds)"""
    finetune_steps: int = 500
    """generalization: training steps of each few-shot run (finetuned and from scratch alike)"""

    def __post_init__(self):
        self.checkpoint = Path(self.checkpoint)
        if str(self.out) in ("", "."):
            self.out = self.checkpoint.parent / "probe"
        self.out = Path(self.out)
        if self.property not in PROPERTIES:
            raise unknown_choice("property", self.property, PROPERTIES)
        require(self.states >= 1, f"states must be >= 1, got {self.states}")
        require(self.candidates >= 2, f"candidates must be >= 2 (the probe compares futures), got {self.candidates}")
        require(self.max_warmup >= 0, f"max_warmup must be >= 0, got {self.max_warmup}")
        from wam.envs.metaworld import MAX_PATH_LENGTH

        require(self.property != "persistence" or 1 <= self.horizon <= MAX_PATH_LENGTH - self.max_warmup,
                f"horizon must be in 1..{MAX_PATH_LENGTH - self.max_warmup} (Meta-World's {MAX_PATH_LENGTH}-step limit "
                f"minus max_warmup), got {self.horizon}")
        from wam.envs.shifts import SHIFTS

        self.shift_list = [x.strip() for x in self.shifts.split(",") if x.strip()]
        for name in self.shift_list:
            if name not in SHIFTS:
                raise unknown_choice("visual shift", name, SHIFTS)
        require("none" in self.shift_list, "--shifts must include 'none', the unshifted reference")
        require(self.episodes >= 1, f"episodes must be >= 1, got {self.episodes}")
        from wam.envs.metaworld import resolve_tasks

        self.unseen_list = resolve_tasks(self.unseen_tasks) if self.unseen_tasks.strip() else ()
        require(self.shots >= 1, f"shots must be >= 1, got {self.shots}")
        require(self.finetune_steps >= 1, f"finetune_steps must be >= 1, got {self.finetune_steps}")
        require(self.workers >= 1, f"workers must be >= 1, got {self.workers}")
        require(self.action_steps >= 1, f"action_steps must be >= 1, got {self.action_steps}")
        require(1 <= self.max_steps <= MAX_PATH_LENGTH, f"max_steps must be in 1..{MAX_PATH_LENGTH}, got {self.max_steps}")
        from wam.runner.evaluate import parse_options

        self.option = tuple(self.option)
        parse_options(self.option)


def _history_batch(history: deque, task_index: int, n: int) -> dict[str, torch.Tensor]:
    """The runner's observation batch, repeated for n candidate chunks."""
    return {k: v.repeat(n, *([1] * (v.dim() - 1))) for k, v in observation_batch(history, task_index).items()}


def probe_state(model, env, seed: int, warmup: int, candidates: int, rng):
    """A probed state: reset to held-out `seed`, the scripted expert runs `warmup` steps, then a
    snapshot. Returns (observation history, snapshot, candidate chunks (M, K, 4)): the expert's
    own next chunk first, then M-1 uniform random chunks."""
    from wam.envs.experts import ScriptedExpert

    window = model.window
    k = window.chunk
    expert = ScriptedExpert(env.task)
    obs, info = env.reset(seed=seed)
    history = deque([obs] * window.n_obs_steps, maxlen=window.n_obs_steps)
    for _ in range(warmup):
        obs, _, _, _, info = env.step(expert(info["privileged_state"]))
        history.append(obs)
    snap = env.snapshot()
    chunks = np.empty((candidates, k, 4), np.float32)
    expert_info = info
    for t in range(k):
        chunks[0, t] = expert(expert_info["privileged_state"])
        _, _, _, _, expert_info = env.step(chunks[0, t])
    env.restore(snap)
    chunks[1:] = rng.uniform(-1.0, 1.0, size=(candidates - 1, k, 4))
    return history, snap, chunks


def interactability_state(model, env, seed: int, task_index: int, warmup: int, candidates: int, rng, generator) -> dict:
    """Errors between predicted and real futures for one state: matched (same chunk) and
    mismatched (another chunk's real future), per offset, plus frame PSNR when the model decodes."""
    window = model.window
    history, snap, chunks = probe_state(model, env, seed, warmup, candidates, rng)

    imagined = model.imagine(_history_batch(history, task_index, candidates), torch.from_numpy(chunks), generator)
    offsets = imagined["offsets"]
    real_obs = {o: [] for o in offsets}
    for m in range(candidates):
        env.restore(snap)
        hist = deque(history, maxlen=window.n_obs_steps)
        for t in range(1, max(offsets) + 1):
            o, *_ = env.step(chunks[m, t - 1])
            hist.append(o)
            if t in real_obs:
                real_obs[t].append(_history_batch(hist, task_index, 1))
    env.restore(snap)
    out = {}
    for i, offset in enumerate(offsets):
        real = {key: torch.cat([b[key] for b in real_obs[offset]]) for key in ("image", "state", "task_index")}
        real_latent = model.encode_observation(real).flatten(1)  # (M, D)
        pred_latent = imagined["latents"][:, i].flatten(1)  # (M, D)
        dist = ((pred_latent[:, None] - real_latent[None]) ** 2).mean(-1)  # (pred m, real j)
        matched = dist.diagonal()
        mismatched = dist[~torch.eye(candidates, dtype=torch.bool)].view(candidates, candidates - 1).mean(1)
        entry = {
            "matched_latent_mse": matched.tolist(),
            "mismatched_latent_mse": mismatched.tolist(),
            "identified": (dist.argmin(1) == torch.arange(candidates)).tolist(),
        }
        if imagined["frames"] is not None:
            from wam.eval.fidelity import frame_metrics

            pred_frames = imagined["frames"][:, i]
            real_frames = real["image"][:, -1].numpy()
            entry["matched_psnr"] = frame_metrics(pred_frames, real_frames)["psnr"]
            shuffled = np.roll(real_frames, 1, axis=0)  # each prediction against another chunk's real frame
            entry["mismatched_psnr"] = frame_metrics(pred_frames, shuffled)["psnr"]
        out[offset] = entry
    return out


def _future_keys(model, env, snap, history: deque, chunk: np.ndarray, task_index: int) -> dict[str, torch.Tensor]:
    """What a training batch holds about the time after t, built from the real future of `chunk`
    replayed from the snapshot (batch of one): the chunk itself ("action", "action_is_pad",
    "labelled") and the frames and proprio at the model's future offsets (t+1..t+K for a model
    without offsets) with "future_is_pad", exactly as the training cache serves them."""
    k = len(chunk)
    offsets = tuple(model.window.future_offsets) or tuple(range(1, k + 1))
    env.restore(snap)
    hist = deque(history, maxlen=len(history))
    frames, states = [], []
    for action in chunk[: min(k, max(offsets))]:
        o, *_ = env.step(action)
        hist.append(o)
        batch = observation_batch(hist, task_index)
        frames.append(batch["image"][:, -1])
        states.append(batch["state"][:, -1])
    env.restore(snap)
    at = [min(o, len(frames)) - 1 for o in offsets]  # past the chunk: its last frame, padded (as the cache clamps)
    return {
        "future_image": torch.stack([frames[i] for i in at], 1),
        "future_state": torch.stack([states[i] for i in at], 1),
        "future_is_pad": torch.tensor([[o > len(frames) for o in offsets]]),
        "action": torch.from_numpy(chunk)[None],
        "action_is_pad": torch.zeros(1, k, dtype=torch.bool),
        "labelled": torch.ones(1, dtype=torch.bool),
    }


def causality_state(model, env, seed: int, task_index: int, warmup: int, candidates: int, rng, generator_seed: int) -> dict:
    """How much the action at t moves when the model is also handed what happens after t (the
    chunk about to run and its real future, as a training batch holds them): for the expert's next
    chunk and candidates-1 random chunks, against acting on the history alone. Same sampling noise
    for every call; a causal model moves by exactly 0."""
    history, snap, chunks = probe_state(model, env, seed, warmup, candidates, rng)
    past = observation_batch(history, task_index)

    def act(observation):
        model.reset()
        return model.act(observation, generator=torch.Generator().manual_seed(generator_seed))

    alone = act(past)
    changes = [float((act({**past, **_future_keys(model, env, snap, history, c, task_index)}) - alone).abs().max()) for c in chunks]
    return {"max_abs_action_change": changes, "changed": [c > 0.0 for c in changes]}


def _not_applicable(cfg: ProbeConfig, result: dict, reason: str) -> dict:
    result.update({"applicable": False, "reason": reason})
    cfg.out.mkdir(parents=True, exist_ok=True)
    write_json(cfg.out / f"{cfg.property}.json", result)
    return result


def generalization(cfg: ProbeConfig, result: dict, tasks: tuple[str, ...]) -> dict:
    """Success under each named shift on the same held-out seeds (one `wam eval` folder each)."""
    from wam.runner.evaluate import EvalConfig, evaluate

    rows = {}
    for shift in cfg.shift_list:
        r = evaluate(EvalConfig(checkpoint=cfg.checkpoint, out=cfg.out / "generalization" / shift, tasks=",".join(tasks),
                                episodes=cfg.episodes, shift=shift, workers=cfg.workers, videos=0, sampling_seed=cfg.seed,
                                action_steps=cfg.action_steps, max_steps=cfg.max_steps, option=cfg.option, proposals=cfg.proposals))
        rows[shift] = {"mean_success": r["mean_success"], "pooled_ci95": r["pooled_ci95"], "episodes": len(r["episodes"]),
                       "per_task": {t: v["success"] for t, v in r["per_task"].items()}}
    for row in rows.values():
        row["drop_vs_none"] = rows["none"]["mean_success"] - row["mean_success"]
    result.update({"applicable": True, "tasks": list(tasks), "episodes_per_task": cfg.episodes,
                   "seeds": episode_seeds("heldout", cfg.episodes), "per_shift": rows})
    if cfg.unseen_list:
        result["unseen_tasks"] = few_shot_unseen_tasks(cfg)
    write_json(cfg.out / f"{cfg.property}.json", result)
    return result


def few_shot_unseen_tasks(cfg: ProbeConfig) -> dict:
    """Success on tasks outside training after learning each from `shots` demos: the checkpoint
    finetuned (its weights; new task-embedding rows) against the same architecture trained from
    scratch on the same demos for the same steps. Every step is a resumable wam run folder under
    <out>/generalization/unseen/."""
    from wam.data.collect import CollectConfig, collect
    from wam.envs.metaworld import instruction_for
    from wam.runner.evaluate import EvalConfig, evaluate
    from wam.train.checkpoint import read_model_config
    from wam.train.trainer import TrainConfig, train

    meta = read_model_config(cfg.checkpoint)
    trained = set(meta["data_spec"]["task_names"])
    seen = [t for t in cfg.unseen_list if instruction_for(t) in trained]
    require(not seen, f"--unseen-tasks {', '.join(seen)}: the model was trained on {'it' if len(seen) == 1 else 'them'}")
    root = cfg.out / "generalization" / "unseen"
    data = root / f"data-{cfg.shots}-shot"
    collect(CollectConfig(out=data, tasks=",".join(cfg.unseen_list), episodes=cfg.shots, workers=cfg.workers))
    runs = {}
    for variant, weights in (("finetuned", True), ("scratch", False)):
        checkpoint = train(TrainConfig(dataset=data, out=root / variant, model=meta["model"], steps=cfg.finetune_steps,
                                       warmup_steps=max(1, cfg.finetune_steps // 10), init_from=cfg.checkpoint,
                                       init_weights=weights, seed=cfg.seed))
        r = evaluate(EvalConfig(checkpoint=checkpoint, out=root / variant / "eval", tasks=",".join(cfg.unseen_list),
                                episodes=cfg.episodes, workers=cfg.workers, videos=0, sampling_seed=cfg.seed,
                                action_steps=cfg.action_steps, max_steps=cfg.max_steps))
        runs[variant] = {"mean_success": r["mean_success"], "pooled_ci95": r["pooled_ci95"], "episodes": len(r["episodes"]),
                         "per_task": {t: v["success"] for t, v in r["per_task"].items()}}
    return {
        "tasks": list(cfg.unseen_list),
        "shots": cfg.shots,
        "demo_seeds": "train split (wam collect), disjoint from the held-out evaluation seeds",
        "finetune_steps": cfg.finetune_steps,
        "episodes_per_task": cfg.episodes,
        **runs,
        "gain_vs_scratch": runs["finetuned"]["mean_success"] - runs["scratch"]["mean_success"],
    }


def imagination_protocol(cfg: ProbeConfig, model, meta: dict, camera: str, proposals: str) -> dict:
    """What the imagined-vs-real pairs in <out> were run under, checked before anything runs: a
    folder holding pairs of another protocol (another checkpoint or training, options, limits,
    judge threshold) is refused. {"applicable": False, "reason": ...} for a model that cannot act
    in its imagination."""
    from wam.data.io import read_json
    from wam.runner.probe_imagination import JUDGE_THRESHOLD

    reason = model.imagination_unavailable()
    if reason is not None:
        return {"applicable": False, "reason": reason}
    require(cfg.action_steps <= model.window.chunk,
            f"action_steps ({cfg.action_steps}) must be at most the chunk of '{model.name}' ({model.window.chunk} steps)")
    train_info = meta.get("train") or {}
    protocol = {"checkpoint": str(cfg.checkpoint), "training_steps": train_info.get("steps"),
                "training_samples_seen": train_info.get("samples_seen"), "model_options": model.runtime_values(),
                "proposals": proposals or None,
                "action_steps": cfg.action_steps, "max_steps": cfg.max_steps, "sampling_seed": cfg.seed, "camera": camera,
                "judge_threshold": JUDGE_THRESHOLD, "regime": "chunked (real) / imagined after the first frame"}
    cfg.out.mkdir(parents=True, exist_ok=True)
    path = cfg.out / "causality-imagination-protocol.json"
    if path.exists():
        changed = [k for k, v in read_json(path, "imagination protocol").items() if protocol.get(k) != v]
        if changed:
            raise WamError(f"{cfg.out} holds imagined rollouts of another protocol (differs in {', '.join(changed)}); pass another --out")
    write_json(path, protocol)
    return {"applicable": True, **protocol}


def imagined_vs_real(cfg: ProbeConfig, model, tasks: tuple[str, ...], protocol: dict) -> dict:
    """Causality's second half (wam.runner.probe_imagination): `cfg.episodes` held-out episodes per
    task, each run in the simulator and inside the model's imagination with the same noise.
    Finished pairs are appended to <out>/causality-imagination.jsonl, so a killed probe resumes."""
    from wam.envs.metaworld import instruction_for
    from wam.runner.evaluate import parse_options, resume_log
    from wam.runner.probe_imagination import run_pairs, summarize_imagination

    if not protocol["applicable"]:
        return protocol
    seeds = episode_seeds("heldout", cfg.episodes)
    log_path = cfg.out / "causality-imagination.jsonl"
    done = resume_log(log_path)
    wanted = [(t, s) for t in tasks for s in seeds]
    jobs = [{"task": t, "seed": s, "task_index": model.spec.task_names.index(instruction_for(t)), "camera": protocol["camera"],
             "resolution": model.spec.image_shape[0], "shift": "none", "max_steps": cfg.max_steps,
             "action_steps": cfg.action_steps, "sampling_seed": cfg.seed}
            for t, s in wanted if (t, s) not in done]
    run_pairs(jobs, str(cfg.checkpoint), parse_options(cfg.option), protocol["proposals"] or "", cfg.workers, log_path, done,
              total=len(wanted))
    return {**protocol, "episodes_per_task": cfg.episodes, "seeds": seeds, **summarize_imagination([done[k] for k in wanted])}


def probe(cfg: ProbeConfig) -> dict:
    from wam.envs.metaworld import MetaWorldEnv, instruction_for, resolve_tasks
    from wam.runner.evaluate import load_with_proposer, parse_options, resolve_proposals

    proposals = str(resolve_proposals(cfg.proposals, cfg.checkpoint)) if cfg.proposals else ""
    model, meta = load_with_proposer(str(cfg.checkpoint), parse_options(cfg.option), proposals, check_ready=False)
    train_info = meta.get("train") or {}
    result = {"schema": PROBE_SCHEMA, "model": meta["model"], "property": cfg.property, "checkpoint": str(cfg.checkpoint),
              # which training of the checkpoint folder was probed (a folder can be trained again)
              "training_steps": train_info.get("steps"), "training_samples_seen": train_info.get("samples_seen"),
              **({"model_options": model.runtime_values()} if cfg.option else {}), **({"proposals": proposals} if proposals else {})}
    if cfg.property in ("interactability", "persistence") and "forward_dynamics" not in model.capabilities:
        return _not_applicable(cfg, result, f"'{model.name}' has no forward dynamics: it cannot predict the future under given actions")
    if cfg.property == "plausibility" and "predict" not in model.capabilities:
        return _not_applicable(cfg, result, f"'{model.name}' does not act from a predicted future it exposes: no decoded actions to execute against it")
    if model.role != "agent":
        return _not_applicable(cfg, result, f"'{model.name}' is a {model.role}: it does not act")
    if cfg.property in ("causality", "plausibility", "generalization"):  # these act; forward-dynamics probes never do
        model.check_ready()
    data_info = train_info.get("data_info") or {}
    tasks = resolve_tasks(cfg.tasks) if cfg.tasks else tuple(data_info.get("tasks") or ())
    require(len(tasks) > 0, "the checkpoint records no Meta-World tasks; pass --tasks")
    for task in tasks:
        if instruction_for(task) not in model.spec.task_names:
            raise WamError(f"model was not trained on task '{task}'")
    if cfg.property == "generalization":
        cfg.out.mkdir(parents=True, exist_ok=True)
        return generalization(cfg, result, tasks)
    rng = np.random.default_rng(cfg.seed)
    generator = torch.Generator().manual_seed(cfg.seed)
    seeds = episode_seeds("heldout", cfg.states)
    per_offset: dict[int, dict[str, list]] = {}
    states: list[dict] = []  # persistence and plausibility keep each state's result
    if cfg.property == "plausibility":
        require(len(tasks) * cfg.states >= 2, "plausibility needs at least 2 probe states (its position readout is cross-fitted on two halves)")
    if cfg.property == "persistence":
        require(cfg.horizon >= model.window.chunk,
                f"horizon ({cfg.horizon}) must be at least one chunk of '{model.name}' ({model.window.chunk} steps)")
    from wam.runner.probe_futures import persistence_state, plausibility_state

    camera = data_info.get("camera") or "corner2"
    # checked before the leak test runs, so a refused folder costs nothing
    imagination = imagination_protocol(cfg, model, meta, camera, proposals) if cfg.property == "causality" else None
    with tqdm(total=len(tasks) * len(seeds), desc=f"probe {cfg.property}", unit="state") as bar:
        for task in tasks:
            env = MetaWorldEnv(task, camera=camera, resolution=model.spec.image_shape[0])
            try:
                for seed in seeds:
                    warmup = int(rng.integers(0, cfg.max_warmup + 1))
                    task_index = model.spec.task_names.index(instruction_for(task))
                    if cfg.property in ("persistence", "plausibility"):
                        if cfg.property == "persistence":
                            states.append(persistence_state(model, env, seed, task_index, warmup, cfg.horizon, rng, generator))
                        else:
                            states.append(plausibility_state(model, env, seed, task_index, warmup, rng, generator))
                        bar.update(1)
                        continue
                    if cfg.property == "causality":
                        state = {"all": causality_state(model, env, seed, task_index, warmup, cfg.candidates, rng, cfg.seed + seed)}
                    else:
                        state = interactability_state(model, env, seed, task_index, warmup, cfg.candidates, rng, generator)
                    for offset, entry in state.items():
                        acc = per_offset.setdefault(offset, {})
                        for key, value in entry.items():
                            acc.setdefault(key, []).extend(value if isinstance(value, list) else [value])
                    bar.update(1)
            finally:
                env.close()
    common = {"applicable": True, "tasks": list(tasks), "states_per_task": cfg.states, "seeds": seeds, "candidates": cfg.candidates}
    if cfg.property in ("persistence", "plausibility"):
        from wam.runner.probe_futures import summarize_persistence, summarize_plausibility

        del common["candidates"]
        if cfg.property == "persistence":
            result.update({**common, "horizon": cfg.horizon, "chunk": model.window.chunk, **summarize_persistence(states)})
        else:
            summary = summarize_plausibility(states)
            if summary is None:
                return _not_applicable(cfg, result, f"'{model.name}' predicted no future while acting (check its runtime options)")
            result.update({**common, **summary})
        cfg.out.mkdir(parents=True, exist_ok=True)
        if cfg.property == "persistence":
            from wam.report.plots import persistence_plot

            persistence_plot(result, cfg.out / "persistence.png")
        write_json(cfg.out / f"{cfg.property}.json", result)
        return result
    if cfg.property == "causality":
        acc = per_offset["all"]
        result.update({
            **common,
            "futures": "the expert's next chunk and uniform random chunks, each with its real future, in a training batch's keys "
                       "(action, action_is_pad, labelled, future_image, future_state, future_is_pad)",
            "calls": len(acc["changed"]),
            "max_abs_action_change": float(np.max(acc["max_abs_action_change"])),
            "mean_abs_action_change": float(np.mean(acc["max_abs_action_change"])),
            "share_changed": float(np.mean(acc["changed"])),
            "causal": not any(acc["changed"]),
            "imagined_vs_real": imagined_vs_real(cfg, model, tasks, imagination),
        })
        cfg.out.mkdir(parents=True, exist_ok=True)
        write_json(cfg.out / f"{cfg.property}.json", result)
        return result
    summary = {}
    for offset, acc in sorted(per_offset.items()):
        matched, mismatched = np.mean(acc["matched_latent_mse"]), np.mean(acc["mismatched_latent_mse"])
        row = {
            "n": len(acc["matched_latent_mse"]),
            "counterfactual_latent_mse": float(matched),
            "mismatched_latent_mse": float(mismatched),
            # > 0: the prediction is closer to the real future of its own chunk than to other chunks'
            "action_sensitivity": float(mismatched - matched),
            "identification_accuracy": float(np.mean(acc["identified"])),
        }
        if "matched_psnr" in acc:
            row["psnr_db"] = float(np.mean(acc["matched_psnr"]))
            row["delta_psnr_db"] = float(np.mean(acc["matched_psnr"]) - np.mean(acc["mismatched_psnr"]))
        summary[str(offset)] = row
    result.update(
        {
            **common,
            "candidate_chunks": "the scripted expert's next chunk + uniform random chunks in [-1, 1]",
            "chance_identification": 1.0 / cfg.candidates,
            "per_offset": summary,
        }
    )
    cfg.out.mkdir(parents=True, exist_ok=True)
    write_json(cfg.out / f"{cfg.property}.json", result)
    return result


def probe_main(cfg: ProbeConfig) -> None:
    result = probe(cfg)
    if not result["applicable"]:
        print(f"{result['model']}: {cfg.property} not applicable ({result['reason']})")
    elif cfg.property == "generalization":
        print(f"{result['model']}: success per named shift ({result['episodes_per_task']} held-out episodes per task on {len(result['tasks'])} tasks)")
        for shift, row in result["per_shift"].items():
            lo, hi = row["pooled_ci95"]
            print(f"  {shift:14s} {row['mean_success']:6.1%} [{lo:.1%}, {hi:.1%}]  drop {100 * row['drop_vs_none']:+.1f} points")
        unseen = result.get("unseen_tasks")
        if unseen:
            print(f"unseen tasks {', '.join(unseen['tasks'])}, {unseen['shots']} demos each, {unseen['finetune_steps']} steps:")
            for variant in ("finetuned", "scratch"):
                lo, hi = unseen[variant]["pooled_ci95"]
                print(f"  {variant:14s} {unseen[variant]['mean_success']:6.1%} [{lo:.1%}, {hi:.1%}]")
    elif cfg.property == "persistence":
        print(f"{result['model']}: imagined vs real future along {result['horizon']} expert steps, "
              f"{len(result['tasks'])} tasks x {result['states_per_task']} states")
        if result["open_loop_not_applicable"]:
            print(f"  open loop not applicable: {result['open_loop_not_applicable']}")
        for mode, m in result["modes"].items():
            steps = list(m["per_step"])
            picks = sorted({steps[0], steps[len(steps) // 2], steps[-1]}, key=int)
            errors = ", ".join(f"+{s}: {m['per_step'][s]['latent_mse']:.4f}" for s in picks)
            last = m["cost"][max(m["cost"], key=int)]
            print(f"  {mode:10s} latent MSE {errors}; {last['seconds_mean'] * 1000:.0f} ms to imagine, peak RSS {last['peak_rss_mib']:.0f} MiB")
    elif cfg.property == "plausibility":
        print(f"{result['model']}: predicted future vs the real outcome of its own decoded chunk")
        for offset, row in result["per_offset"].items():
            psnr = f", PSNR {row['psnr_db']:.2f} dB" if "psnr_db" in row else ""
            print(f"  +{offset:>2s} steps: latent MSE {row['latent_mse']:.4f}{psnr}; hand {row['hand_error_cm']:.1f} cm "
                  f"(readout floor {row['hand_floor_cm']:.1f}), object {row['object_error_cm']:.1f} cm (floor {row['object_floor_cm']:.1f})")
    elif cfg.property == "causality":
        verdict = "causal" if result["causal"] else "LEAKS future information"
        print(
            f"{result['model']}: {verdict}: over {result['calls']} calls with futures handed in, the action moved by "
            f"max {result['max_abs_action_change']:.3g} (mean {result['mean_abs_action_change']:.3g}; {result['share_changed']:.0%} of calls changed)"
        )
        gap = result["imagined_vs_real"]
        if not gap["applicable"]:
            print(f"  imagined vs real success: not applicable ({gap['reason']})")
        else:
            def rate(key):
                lo, hi = gap[key]["ci95"]
                return f"{gap[key]['success']:.1%} [{lo:.1%}, {hi:.1%}]"
            print(f"  success over {gap['episodes']} held-out episodes: imagined {rate('imagined')}, real {rate('real')}, "
                  f"the judge one step from each real frame {rate('judged_real')}")
            print(f"  gap imagined - real {100 * gap['gap']:+.1f} points (judge's own error {100 * gap['judge_gap']:+.1f}, "
                  f"imagination {100 * gap['imagination_gap']:+.1f}); episodes imagined-only {gap['agreement']['imagined_only']}, "
                  f"real-only {gap['agreement']['real_only']}")
            auc = "n/a" if gap["judge_auroc"] is None else f"{gap['judge_auroc']:.2f}"
            print(f"  judge's highest probability per episode: imagined {gap['mean_max_probability']['imagined']:.2f}, "
                  f"real {gap['mean_max_probability']['judged_real']:.2f}; AUROC on the real loop {auc}")
    else:
        print(f"{result['model']}: {cfg.property} over {len(result['tasks'])} tasks x {result['states_per_task']} states x {result['candidates']} chunks")
        for offset, row in result["per_offset"].items():
            psnr = f", PSNR {row['psnr_db']:.2f} dB, dPSNR {row['delta_psnr_db']:+.2f} dB" if "psnr_db" in row else ""
            print(
                f"  +{offset:>2s} steps: latent MSE {row['counterfactual_latent_mse']:.4f} (own chunk) vs {row['mismatched_latent_mse']:.4f} "
                f"(other chunks), identified {row['identification_accuracy']:.0%} (chance {result['chance_identification']:.0%}){psnr}"
            )
    print(f"wrote {cfg.out / (cfg.property + '.json')}")

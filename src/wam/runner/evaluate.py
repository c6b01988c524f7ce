"""`wam eval`: closed-loop success on held-out initial conditions.

Episodes run in parallel worker processes (one env, one GL context and one model copy each).
Every finished episode is appended to `episodes.jsonl`, so a killed evaluation resumes without
repeating work; `eval.json` is written atomically at the end. The protocol (tasks, seeds, split,
camera, resolution, chunk length, executed steps, max steps, checkpoint, versions) is recorded in
full, because each of those changes the number.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import numpy as np
import tyro
from tqdm import tqdm

from wam.data.io import atomic_path, read_json, remove_owned_dir, write_json
from wam.envs.metaworld import CAMERAS, MAX_PATH_LENGTH, instruction_for, resolve_tasks
from wam.envs.seeds import SPLITS, episode_seeds
from wam.envs.shifts import SHIFTS
from wam.errors import WamError, parse_pairs, require, unknown_choice
from wam.eval.failures import count_tags, phase_success
from wam.eval.metrics import control_rate, flops_per_call, latency_summary, wilson_interval
from wam.runner.regimes import REGIMES, RUNNER_REGIMES
from wam.utils import machine_description, package_versions, peak_rss_mib, worker_init

EVAL_SCHEMA = "wam.eval/1"


@dataclass
class EvalConfig:
    """Evaluate a checkpoint closed-loop on held-out initial conditions."""

    checkpoint: Path = Path("runs/mt10/flow-policy/model")
    """model folder written by `wam train` (model.safetensors + config.json)"""
    out: Path = Path("")
    """output folder (default: <checkpoint>/../eval)"""
    tasks: str = ""
    """tasks to evaluate (default: every task the model was trained on)"""
    episodes: int = 50
    """episodes (initial conditions) per task"""
    split: str = "heldout"
    """seed split of the initial conditions: 'heldout' for reported results, 'validation' for choosing
    inference settings (--option, --action-steps), 'train' only for diagnosing overfitting"""
    first_seed: int = 0
    """index of the first seed within the split"""
    regime: str = "chunked"
    """deployment regime: 'chunked' (receding horizon; --action-steps 1 is single-step), 'async' (chunked, with
    each call's measured compute time charged in control steps while the previous chunk runs on), 'event-triggered'
    (replan early when the observed future leaves the predicted one), 're-grounding' (act on the model's own
    predicted images, measured ones every --reground-every calls), 'interactive' (a latent carried across calls,
    corrected by each observation with --observation-gain) or 'open-loop' (plan once)"""
    action_steps: int = 8
    """steps executed from each predicted chunk before re-planning (chunked)"""
    max_steps: int = MAX_PATH_LENGTH
    """step limit per episode"""
    workers: int = 2
    """parallel rollout processes"""
    videos: int = 1
    """rollout videos saved per task (the first seeds)"""
    camera: str = ""
    """camera (default: the one the training data used)"""
    shift: str = "none"
    """named visual shift (see wam.envs.shifts)"""
    sampling_seed: int = 0
    """seed of the policy's sampling noise"""
    overwrite: bool = False
    """discard finished episodes in the output folder and start over"""
    offline: str = ""
    """score against the recorded episodes of this LeRobot v3 dataset instead of running the
    simulator (action error, and prediction error for models that predict); held-out data only"""
    offline_frames: int = 512
    """offline: frames sampled (deterministically, --sampling-seed) from the dataset"""
    trigger_threshold: float = 0.2
    """event-triggered regime: replan when the latent MSE between predicted and real frame exceeds this"""
    reground_every: int = 2
    """re-grounding regime: every how many calls the model sees the measured image instead of its own predicted one"""
    observation_gain: float = 0.5
    """interactive regime: how far each observation corrects the carried latent (1: replaces it, the chunked
    regime; 0: only the first observation is seen, later plans start from the imagined latent)"""
    option: Annotated[tuple[str, ...], tyro.conf.UseAppendAction] = ()
    """a runtime option of the model as name=value, repeatable (e.g. --option planner=cem --option samples=16; see `wam models --json`)"""
    proposals: str = ""
    """for a model that scores actions (latent-rollout): the policy or WAM whose chunks it scores,
    as a registered model name (its run folder beside the checkpoint's: runs/mt10/<name>/model) or
    a checkpoint folder"""

    def __post_init__(self):
        self.checkpoint = Path(self.checkpoint)
        if str(self.out) in ("", "."):
            self.out = self.checkpoint.parent / ("offline" if self.offline else "eval")
        self.out = Path(self.out)
        require(self.episodes >= 1, f"episodes must be >= 1, got {self.episodes}")
        require(self.workers >= 1, f"workers must be >= 1, got {self.workers}")
        require(self.videos >= 0, f"videos must be >= 0, got {self.videos}")
        require(self.action_steps >= 1, f"action_steps must be >= 1, got {self.action_steps}")
        require(1 <= self.max_steps <= MAX_PATH_LENGTH, f"max_steps must be in 1..{MAX_PATH_LENGTH}, got {self.max_steps}")
        if self.split not in SPLITS:
            raise unknown_choice("seed split", self.split, SPLITS)
        if self.camera and self.camera not in CAMERAS:
            raise unknown_choice("camera", self.camera, CAMERAS)
        if self.shift not in SHIFTS:
            raise unknown_choice("visual shift", self.shift, SHIFTS)
        self.option = tuple(self.option)
        parse_options(self.option)
        if self.regime not in REGIMES:
            raise unknown_choice("regime", self.regime, REGIMES)
        require(self.reground_every >= 1, f"reground_every must be >= 1, got {self.reground_every}")
        require(0.0 <= self.observation_gain <= 1.0, f"observation_gain must be in [0, 1], got {self.observation_gain}")


def parse_options(options: tuple[str, ...]) -> dict[str, str]:
    return dict(parse_pairs(options, "runtime option must look like name=value, got {item!r}"))


def apply_options(model, options: dict[str, str]) -> None:
    for name, value in options.items():
        model.set_runtime_option(name, value)


def resolve_proposals(name: str, checkpoint: Path) -> Path:
    """A proposal model by registered name (its run beside the world model's) or by folder."""
    from wam.models.base import MODELS, model_class

    path = Path(name)
    if (path / "config.json").exists():
        return path
    if path.is_dir():
        hint = f"; did you mean {path / 'model'}?" if (path / "model" / "config.json").exists() else ""
        raise WamError(f"--proposals {name} is a folder without a checkpoint (config.json){hint}")
    if name not in MODELS:
        model_class(name)  # raises the one-line unknown-model error (or loads the registry)
    folder = Path(checkpoint).parent.parent / name / "model"
    if not (folder / "config.json").exists():
        raise WamError(f"no trained '{name}' at {folder}: train it there or pass its checkpoint folder to --proposals")
    return folder


def load_with_proposer(checkpoint: str, options: dict[str, str], proposals: str, check_ready: bool = True):
    """The evaluated model with its runtime options and, if given, its proposal model attached.
    check_ready=False: the caller decides whether the model must be ready to act (the probes:
    forward-dynamics properties never call `act`)."""
    from wam.train.checkpoint import load_model

    model, meta = load_model(checkpoint)
    apply_options(model, options)
    if proposals:
        if "score" not in model.capabilities:
            raise WamError(f"model '{model.name}' does not score proposals; --proposals is for action-scoring models (e.g. latent-rollout)")
        proposer, _ = load_model(proposals)
        if proposer.role != "agent":
            raise WamError(f"'{proposer.name}' is a {proposer.role} component and cannot propose actions")
        model.attach_proposer(proposer)
    if check_ready:
        model.check_ready()  # e.g. a planner that needs proposals but has none: fail before any episode runs
    return model, meta


# ------------------------------------------------------------------------------------------
# Worker side
# ------------------------------------------------------------------------------------------
worker_state: dict = {}  # a rollout worker's model and environment (wam eval's and the probes' pools)


def init_worker(checkpoint: str, options: dict[str, str], proposals: str) -> None:
    """Pool initializer: one thread, and the model with its options and proposer, per worker."""
    worker_init(1)
    worker_state["model"], _ = load_with_proposer(checkpoint, options, proposals)


def worker_env(state: dict, job: dict):
    """The worker's environment for a job's task, camera, resolution and shift: kept across the
    worker's jobs, and the old one closed before a new one is made (its GL context must go first)."""
    from wam.envs.metaworld import MetaWorldEnv

    key = (job["task"], job["camera"], job["resolution"], job["shift"])
    if state.get("env") is None or state.get("env_key") != key:
        if state.get("env") is not None:
            state["env"].close()
        state["env"] = MetaWorldEnv(job["task"], camera=job["camera"], resolution=job["resolution"], max_steps=job["max_steps"], shift=job["shift"])
        state["env_key"] = key
    return state["env"]


def _episode_job(job: dict) -> dict:
    from wam.runner.rollout import run_episode

    env = worker_env(worker_state, job)
    result = run_episode(
        worker_state["model"],
        env,
        job["seed"],
        job["task_index"],
        make_regime(job),
        job["max_steps"],
        record_video=job["video"],
        sampling_seed=job["sampling_seed"],
    )
    record = result.record()
    record["latencies"] = result.latencies
    record["worker_peak_rss_mib"] = round(peak_rss_mib(), 1)
    record["prediction"] = _prediction_sums(result.predictions)
    if job["video"]:
        from wam.report.media import save_rollout_media

        name = f"{job['task']}_seed{job['seed']}"
        record["video"] = save_rollout_media(result.frames, Path(job["video_dir"]), name, 80)
        if result.predictions:  # predicted | real, one pair per scored prediction, slowed down
            pairs = [np.concatenate([pred, real], axis=1) for _, pred, real, _ in result.predictions]
            record["video_prediction"] = save_rollout_media(pairs, Path(job["video_dir"]), f"{name}_predicted-vs-real", 4)
    return record


def make_regime(job: dict):
    from wam.runner.regimes import Async, Chunked, EventTriggered, Interactive, OpenLoop, Regrounding

    if job["regime"] == "open-loop":
        return OpenLoop(job["max_steps"])
    if job["regime"] == "async":
        return Async(job["action_steps"], control_hz=job["control_hz"])
    if job["regime"] == "event-triggered":
        return EventTriggered(job["action_steps"], threshold=job["trigger_threshold"])
    if job["regime"] == "re-grounding":
        return Regrounding(job["action_steps"], reground_every=job["reground_every"])
    if job["regime"] == "interactive":
        return Interactive(job["action_steps"], observation_gain=job["observation_gain"])
    return Chunked(job["action_steps"])


def _prediction_sums(predictions: list[tuple]) -> dict[str, dict]:
    """Per offset: sums of PSNR, SSIM and latent MSE over this episode's scored predictions."""
    from wam.eval.fidelity import frame_metrics

    by_offset: dict[int, list] = {}
    for offset, pred, real, mse in predictions:
        by_offset.setdefault(offset, []).append((pred, real, mse))
    sums = {}
    for offset, items in by_offset.items():
        m = frame_metrics(np.stack([p for p, _, _ in items]), np.stack([r for _, r, _ in items]))
        mses = [x for _, _, x in items if x is not None]
        sums[str(offset)] = {
            "n": len(items),
            "psnr_sum": m["psnr"] * len(items),
            "ssim_sum": m["ssim"] * len(items),
            "latent_mse_sum": sum(mses) if mses else None,
        }
    return sums


def pool_prediction_error(records: list[dict]) -> dict[str, dict] | None:
    """Means over every scored prediction of every episode, per offset (frames ahead)."""
    pooled: dict[str, dict] = {}
    for r in records:
        for offset, v in (r.get("prediction") or {}).items():
            acc = pooled.setdefault(offset, {"n": 0, "psnr": 0.0, "ssim": 0.0, "latent_mse": 0.0, "has_latent": True})
            acc["n"] += v["n"]
            acc["psnr"] += v["psnr_sum"]
            acc["ssim"] += v["ssim_sum"]
            if v["latent_mse_sum"] is None:
                acc["has_latent"] = False
            else:
                acc["latent_mse"] += v["latent_mse_sum"]
    if not pooled:
        return None
    out = {}
    for offset, acc in sorted(pooled.items(), key=lambda kv: int(kv[0])):
        n = acc["n"]
        out[offset] = {
            "n": n,
            "psnr_db": acc["psnr"] / n,
            "ssim": acc["ssim"] / n,
            "latent_mse": acc["latent_mse"] / n if acc["has_latent"] else None,
        }
    return out


# ------------------------------------------------------------------------------------------
# Driver
# ------------------------------------------------------------------------------------------
def _read_done(path: Path) -> list[dict]:
    """Finished episodes; a line cut by a kill is ignored (that episode simply runs again)."""
    done = []
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                done.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return done


def resume_log(path: Path) -> dict[tuple[str, int], dict]:
    """The finished episodes of a jsonl log, by (task, seed); the file is rewritten without a line
    a kill cut short, so that the next append starts on a line of its own."""
    done = {(r["task"], r["seed"]): r for r in _read_done(path)}
    if path.exists():
        with atomic_path(path) as tmp:
            tmp.write_text("".join(json.dumps(r) + "\n" for r in done.values()))
    return done


def evaluate(cfg: EvalConfig) -> dict:
    from wam.train.trainer import SAMPLING_BEFORE_THE_FIELD

    options = parse_options(cfg.option)
    proposals = str(resolve_proposals(cfg.proposals, cfg.checkpoint)) if cfg.proposals else ""
    # unknown option names or values and mismatched proposal models fail here, before any worker starts
    model, meta = load_with_proposer(str(cfg.checkpoint), options, proposals)
    if model.role != "agent":
        raise WamError(f"'{model.name}' is a {model.role} component, not a policy or WAM: it cannot be evaluated closed-loop")
    effective_options = model.runtime_values()  # every knob's value, given or default
    spec = model.spec
    train_info = meta.get("train", {})
    data_info = train_info.get("data_info", {})
    train_config = train_info.get("train_config", {})
    trained_tasks = data_info.get("tasks") or [t for t in _tasks_from_instructions(spec.task_names)]
    tasks = resolve_tasks(cfg.tasks) if cfg.tasks else tuple(trained_tasks)
    require(len(tasks) > 0, "the checkpoint records no Meta-World tasks; pass --tasks")
    task_index = {}
    for task in tasks:
        text = instruction_for(task)
        if text not in spec.task_names:
            raise WamError(f"model was not trained on task '{task}'; its tasks: {', '.join(trained_tasks) or spec.task_names}")
        task_index[task] = spec.task_names.index(text)
    camera = cfg.camera or data_info.get("camera") or "corner2"
    resolution = spec.image_shape[0]
    require(spec.image_shape[0] == spec.image_shape[1] and spec.image_shape[2] == 3, f"model expects {spec.image_shape} images; Meta-World renders square RGB")
    require(spec.action_dim == 4, f"model outputs {spec.action_dim}-d actions; Meta-World takes 4-d actions")
    require(spec.state_dim == 4, f"model reads {spec.state_dim}-d proprio; the Meta-World wrapper gives 4-d")
    supported = {r.value for r in model.anatomy.regimes}
    supported |= {name for name, needs in RUNNER_REGIMES.items() if needs in supported}
    if "predict" not in model.capabilities:  # nothing to compare the observed future with, or to act on
        supported.discard("event-triggered")
        supported.discard("re-grounding")
    if cfg.regime not in supported:
        raise WamError(f"model '{model.name}' does not support regime '{cfg.regime}'; it supports: {', '.join(sorted(supported))}")
    require(cfg.regime == "open-loop" or cfg.action_steps <= model.window.chunk, f"action_steps {cfg.action_steps} exceeds the model's chunk length {model.window.chunk}")
    if cfg.regime == "re-grounding" and cfg.reground_every > 1:
        require(cfg.action_steps in model.window.future_offsets,
                f"re-grounding needs the frame {cfg.action_steps} steps ahead (--action-steps) among the model's predictions; "
                f"'{model.name}' predicts offsets {list(model.window.future_offsets)}")
    seeds = episode_seeds(cfg.split, cfg.episodes, start=cfg.first_seed)
    protocol = {
        "env": "metaworld-v3",
        "tasks": list(tasks),
        "episodes_per_task": cfg.episodes,
        "seed_split": cfg.split,
        "seeds": seeds,
        "camera": camera,
        "resolution": resolution,
        "shift": cfg.shift,
        "chunk_length": model.window.chunk,
        "executed_steps": cfg.max_steps if cfg.regime == "open-loop" else cfg.action_steps,
        "temporal_ensembling": False,
        "regime": cfg.regime,
        **({"trigger_threshold": cfg.trigger_threshold} if cfg.regime == "event-triggered" else {}),
        **({"reground_every": cfg.reground_every} if cfg.regime == "re-grounding" else {}),
        **({"observation_gain": cfg.observation_gain} if cfg.regime == "interactive" else {}),
        "model_options": effective_options,
        "proposals": proposals or None,
        "max_steps": cfg.max_steps,
        "success": "info['success'] at any step (episode ends there)",
        "sampling_seed": cfg.sampling_seed,
        "checkpoint": str(cfg.checkpoint),
        "training_samples_seen": train_info.get("samples_seen"),
        "training_steps": train_info.get("steps"),
        "training_seconds": train_info.get("train_seconds"),
        "training_threads": train_info.get("threads"),
        "training_device": train_info.get("device"),
        "training_processes": train_info.get("world_size"),
        "labelled_episodes": train_info.get("labelled_episodes"),
        "training_sampling": train_config.get("sampling", SAMPLING_BEFORE_THE_FIELD),
        "training_machine": train_info.get("machine"),
        # only when set, so a protocol written before the field existed still resumes
        **({"training_task_weights": list(tw)} if (tw := train_config.get("task_weights")) else {}),
        "versions": package_versions(),
        "machine": machine_description(),
    }
    if cfg.overwrite:  # same guard as `wam train --overwrite`: never wipe a folder wam did not write
        remove_owned_dir(cfg.out, ("protocol.json", "episodes.jsonl", "eval.json"), "evaluation folder")
    cfg.out.mkdir(parents=True, exist_ok=True)
    protocol_path = cfg.out / "protocol.json"
    if protocol_path.exists():
        previous = read_json(protocol_path, "evaluation protocol")
        # a key an older wam did not write is not a change (it records a fact that did not change)
        changed = [k for k in protocol if k not in ("versions", "machine") and k in previous and previous[k] != protocol[k]]
        if changed:
            raise WamError(f"{cfg.out} holds episodes of another protocol (differs in {', '.join(changed)}); pass --overwrite or another --out")
    write_json(protocol_path, protocol)
    episodes_path = cfg.out / "episodes.jsonl"
    done = resume_log(episodes_path)
    jobs = [
        {
            "task": task,
            "seed": seed,
            "task_index": task_index[task],
            "camera": camera,
            "resolution": resolution,
            "shift": cfg.shift,
            "max_steps": cfg.max_steps,
            "action_steps": cfg.action_steps,
            "regime": cfg.regime,
            "control_hz": float(spec.fps),
            "trigger_threshold": cfg.trigger_threshold,
            "reground_every": cfg.reground_every,
            "observation_gain": cfg.observation_gain,
            "sampling_seed": cfg.sampling_seed,
            "video": i < cfg.videos,
            "video_dir": str(cfg.out / "videos"),
        }
        for task in tasks
        for i, seed in enumerate(seeds)
        if (task, seed) not in done
    ]
    t0, invocation = time.perf_counter(), time.time_ns()
    if jobs:
        ctx = mp.get_context("spawn")
        with ctx.Pool(min(cfg.workers, len(jobs)), initializer=init_worker, initargs=(str(cfg.checkpoint), options, proposals)) as pool, open(
            episodes_path, "a"
        ) as log, tqdm(total=len(tasks) * len(seeds), initial=len(done), desc="eval", unit="ep") as bar:
            for record in pool.imap_unordered(_episode_job, jobs):
                # wall time of this invocation so far: a killed and resumed evaluation adds up its runs
                record["invocation"], record["elapsed_s"] = invocation, round(time.perf_counter() - t0, 2)
                log.write(json.dumps(record) + "\n")
                log.flush()
                done[(record["task"], record["seed"])] = record
                bar.update(1)
                wins = sum(r["success"] for r in done.values())
                bar.set_postfix(success=f"{wins / len(done):.0%}")
    result = summarize(model, meta, protocol, [done[(t, s)] for t in tasks for s in seeds])
    result["eval_seconds"] = evaluation_seconds(list(done.values()), cfg.out / "eval.json", time.perf_counter() - t0)
    write_json(cfg.out / "eval.json", result)
    return result


def evaluation_seconds(records: list[dict], previous: Path, this_run: float) -> float:
    """Wall time of the evaluation over every invocation that ran its episodes: per invocation,
    the time its last episode finished. Records from before this bookkeeping carry no times; then
    the earlier eval.json's figure stands if there is one (a rerun that only re-summarises must
    not report its own few seconds), else this run's time."""
    per_run: dict[int, float] = {}
    for r in records:
        if "invocation" in r:
            per_run[r["invocation"]] = max(per_run.get(r["invocation"], 0.0), float(r["elapsed_s"]))
    if len(per_run) and all("invocation" in r for r in records):
        return round(sum(per_run.values()), 1)
    if previous.exists():
        earlier = read_json(previous, "eval result").get("eval_seconds")
        if earlier:
            return float(earlier)
    return round(this_run, 1)


def _tasks_from_instructions(instructions) -> list[str]:
    from wam.envs.metaworld import all_tasks

    lookup = {instruction_for(t): t for t in all_tasks()}
    return [lookup[i] for i in instructions if i in lookup]


def summarize(model, meta: dict, protocol: dict, records: list[dict]) -> dict:
    per_task = {}
    for task in protocol["tasks"]:
        rs = [r for r in records if r["task"] == task]
        wins = sum(r["success"] for r in rs)
        lo, hi = wilson_interval(wins, len(rs))
        per_task[task] = {"success": round(wins / len(rs), 4), "n": len(rs), "ci95": [round(lo, 4), round(hi, 4)]}
    wins = sum(r["success"] for r in records)
    lo, hi = wilson_interval(wins, len(records))
    latencies = [x for r in records for x in r.get("latencies", [])]
    latency = latency_summary(latencies)
    return {
        "schema": EVAL_SCHEMA,
        "model": meta["model"],
        "anatomy": model.anatomy.to_json(),
        "protocol": protocol,
        "per_task": per_task,
        "mean_success": round(float(np.mean([v["success"] for v in per_task.values()])), 4),
        "pooled_ci95": [round(lo, 4), round(hi, 4)],
        "latency_ms": latency,
        "flops_per_call": flops_per_call(model, model.window.n_obs_steps, tuple(model.spec.image_shape), model.spec.state_dim),
        # the largest resident memory of a rollout worker (model, simulator and renderer together)
        "worker_peak_rss_mib": max((r["worker_peak_rss_mib"] for r in records if r.get("worker_peak_rss_mib")), default=None),
        "control_rate": control_rate(latency, protocol["executed_steps"], model.spec.fps) if latencies else None,
        "params": model.num_parameters(),
        # a model that scores another's proposals pays for both at every decision
        "proposer": None if getattr(model, "proposer", None) is None else {"model": model.proposer.name, "params": model.proposer.num_parameters()},
        "videos": sorted((r["video"] for r in records if r.get("video")), key=lambda v: v["mp4"]),
        "prediction_videos": sorted(
            (r["video_prediction"] for r in records if r.get("video_prediction")), key=lambda v: v["mp4"]
        ),
        # Predicted vs real future frames at each offset the executed actions reached (None: the
        # model predicts no future, or did not at this setting, e.g. future_steps=0).
        "prediction_error": pool_prediction_error(records),
        "successes_at_reset": sum(bool(r.get("success_at_reset")) for r in records),
        # why episodes failed, from the simulator's state (None for episodes run before tags existed)
        "failure_tags": count_tags(records),
        # per task, the share of episodes through each phase (reached, grasped/moved, ..., success)
        "phase_success": phase_success(records),
        "episodes": [
            {k: r.get(k) for k in ("task", "seed", "success", "steps", "calls", "success_at_reset", "triggers", "imagined_calls", "failure_tags")}
            for r in records
        ],
    }


def evaluate_main(cfg: EvalConfig) -> None:
    if cfg.offline:
        from wam.runner.offline import offline_main

        offline_main(cfg)
        return
    result = evaluate(cfg)
    lo, hi = result["pooled_ci95"]
    print(f"mean success {result['mean_success']:.1%} (95% CI {lo:.1%}-{hi:.1%}) over {len(result['episodes'])} episodes")
    for task, v in result["per_task"].items():
        print(f"  {task:28s} {v['success']:6.1%}  [{v['ci95'][0]:.0%}, {v['ci95'][1]:.0%}]  n={v['n']}")
    print(f"latency per call p50 {result['latency_ms']['p50']:.1f} ms, p95 {result['latency_ms']['p95']:.1f} ms; {result['params'] / 1e6:.2f}M params")
    if result.get("flops_per_call") or result.get("worker_peak_rss_mib"):
        flops = f"{result['flops_per_call'] / 1e9:.3f} GFLOP per call" if result.get("flops_per_call") else "FLOPs not counted"
        rss = f"rollout worker peak RSS {result['worker_peak_rss_mib']:.0f} MiB" if result.get("worker_peak_rss_mib") else ""
        print(f"{flops}; {rss}".rstrip("; "))
    rate = result.get("control_rate")
    if rate:
        verdict = "feasible" if rate["feasible_p95"] else ("feasible at p50 only" if rate["feasible_p50"] else "NOT feasible")
        print(
            f"control rate: {rate['ms_per_executed_step_p95']:.1f} ms per executed step at p95 vs the "
            f"{rate['budget_ms_per_step']:.1f} ms budget at {rate['control_hz']:g} Hz ({rate['executed_steps_per_call']} steps per call): {verdict}"
        )
    for offset, v in (result.get("prediction_error") or {}).items():
        latent = f", latent MSE {v['latent_mse']:.4f}" if v["latent_mse"] is not None else ""
        print(f"predicted vs real frame {offset} steps ahead: PSNR {v['psnr_db']:.2f} dB, SSIM {v['ssim']:.3f}{latent} (n={v['n']})")
    print(f"wrote {cfg.out / 'eval.json'}")

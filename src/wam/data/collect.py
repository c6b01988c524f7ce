"""`wam collect`: scripted-expert demonstrations as a LeRobot v3.0 dataset.

Episodes run in parallel worker processes, one env (and so one GL context) per worker, created
inside the worker. Each finished episode is staged as its own file beside the output
(`<out>.partial/<task>/<seed>.npz`), so a killed collection resumes where it stopped; the
dataset itself is written atomically once every task has its episodes. Only successful episodes
are kept; every attempt's seed and outcome is recorded in meta/info.json["wam"].

Perturbed-expert mode (`--perturb-noise`, `--perturb-segment-prob`; DINO-WM style) adds Gaussian
noise to the expert's actions and replaces random stretches with uniform random actions, so a
world model and its scorer see off-expert states. Every perturbed episode is kept, failed or not,
with its per-step reward and success; a share of episodes (`--clean-fraction`) stays unperturbed
so the dataset also covers the expert's own states. Such a dataset is a separate, named dataset
(e.g. data/mt10-perturbed): the expert dataset is never mixed with it.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from tqdm import tqdm

from wam.data.io import atomic_path, read_json, remove_owned_dir, write_json
from wam.data.lerobot_v3 import Episode, LeRobotDataset, image_feature, vector_feature, write_dataset
from wam.envs.metaworld import CAMERAS, CONTROL_HZ, MAX_PATH_LENGTH, instruction_for, resolve_tasks
from wam.envs.seeds import episode_seeds
from wam.envs.shifts import SHIFTS
from wam.errors import WamError, require, unknown_choice
from wam.utils import package_versions, worker_init

IMAGE_KEY = "observation.image"
STATE_KEY = "observation.state"
ACTION_KEY = "action"


@dataclass
class CollectConfig:
    """Collect scripted-expert demonstrations for Meta-World v3 tasks."""

    out: Path = Path("data/mt10")
    """output dataset folder (LeRobot v3.0 layout)"""
    tasks: str = "mt10"
    """'mt10' or a comma-separated list of Meta-World v3 task names"""
    episodes: int = 50
    """successful episodes kept per task"""
    camera: str = "corner2"
    """Meta-World camera (corner2 is moved closer, as in LeRobot)"""
    resolution: int = 64
    """square image size in pixels"""
    image_format: Literal["png", "video"] = "png"
    """store frames as lossless PNG bytes in parquet, or as H.264 mp4"""
    workers: int = 2
    """parallel worker processes (one env and GL context each)"""
    max_steps: int = MAX_PATH_LENGTH
    """step limit per expert episode; longer episodes are rejected"""
    max_attempts: float = 2.0
    """give up on a task after episodes x this many attempts"""
    first_seed: int = 0
    """index of the first initial-condition seed in the 'train' split"""
    shift: str = "none"
    """named visual shift applied while rendering (see `wam.envs.shifts`)"""
    perturb_noise: float = 0.0
    """std of Gaussian noise added to the expert's actions (> 0: perturbed-expert mode)"""
    perturb_segment_prob: float = 0.0
    """per-step probability of starting a stretch of uniform random actions (> 0: perturbed mode)"""
    perturb_segment_len: int = 10
    """length of each random-action stretch in steps"""
    clean_fraction: float = 0.25
    """perturbed mode: share of episodes left unperturbed (chosen per seed, reproducibly)"""
    overwrite: bool = False
    """replace an existing dataset (and any staged partial collection)"""

    @property
    def perturbed(self) -> bool:
        return self.perturb_noise > 0 or self.perturb_segment_prob > 0

    def __post_init__(self):
        self.out = Path(self.out)
        self.task_list = resolve_tasks(self.tasks)
        require(self.episodes >= 1, f"episodes must be >= 1, got {self.episodes}")
        require(self.workers >= 1, f"workers must be >= 1, got {self.workers}")
        require(self.max_attempts >= 1.0, f"max_attempts must be >= 1, got {self.max_attempts}")
        require(self.first_seed >= 0, f"first_seed must be >= 0, got {self.first_seed}")
        require(
            1 <= self.max_steps <= MAX_PATH_LENGTH, f"max_steps must be in 1..{MAX_PATH_LENGTH}, got {self.max_steps}"
        )
        require(8 <= self.resolution <= 1024, f"resolution must be in 8..1024, got {self.resolution}")
        if self.camera not in CAMERAS:
            raise unknown_choice("camera", self.camera, CAMERAS)
        if self.shift not in SHIFTS:
            raise unknown_choice("visual shift", self.shift, SHIFTS)
        if self.image_format == "video":
            require(self.resolution % 2 == 0, "video frames need an even resolution")
        require(self.perturb_noise >= 0, f"perturb_noise must be >= 0, got {self.perturb_noise}")
        require(0 <= self.perturb_segment_prob <= 1, f"perturb_segment_prob must be in [0, 1], got {self.perturb_segment_prob}")
        require(self.perturb_segment_len >= 1, f"perturb_segment_len must be >= 1, got {self.perturb_segment_len}")
        require(0 <= self.clean_fraction < 1, f"clean_fraction must be in [0, 1), got {self.clean_fraction}")

    def fingerprint(self) -> dict:
        """The settings that determine the episodes (resuming with other settings is refused)."""
        keys = ("camera", "resolution", "max_steps", "shift", "first_seed")
        keys += ("perturb_noise", "perturb_segment_prob", "perturb_segment_len", "clean_fraction") if self.perturbed else ()
        return {k: getattr(self, k) for k in keys}


# ------------------------------------------------------------------------------------------
# Worker side: one env per process, made inside the process
# ------------------------------------------------------------------------------------------
_worker_env = None


def _get_env(task: str, cfg: dict):
    global _worker_env
    from wam.envs.metaworld import MetaWorldEnv

    if _worker_env is not None and _worker_env.task != task:
        _worker_env.close()  # close (and collect) before a new GL context exists
        _worker_env = None
    if _worker_env is None:
        _worker_env = MetaWorldEnv(
            task, camera=cfg["camera"], resolution=cfg["resolution"], max_steps=cfg["max_steps"], shift=cfg["shift"]
        )
    return _worker_env


class ActionPerturbation:
    """Expert action -> perturbed action: Gaussian noise plus stretches of uniform random actions.

    Deterministic per seed: the same seed perturbs the same way on any machine or worker order
    (and, by design of this first version, in every task: the seed alone picks the stream).
    """

    def __init__(self, seed: int, noise: float, segment_prob: float, segment_len: int, clean_fraction: float):
        self.rng = np.random.default_rng([seed, 0x5EED])
        self.clean = bool(self.rng.random() < clean_fraction)
        self.noise, self.segment_prob, self.segment_len = noise, segment_prob, segment_len
        self.segment_left, self.segments = 0, 0

    def __call__(self, action: np.ndarray) -> np.ndarray:
        if self.clean:
            return action
        if self.segment_left == 0 and self.rng.random() < self.segment_prob:
            self.segment_left, self.segments = self.segment_len, self.segments + 1
        if self.segment_left > 0:
            self.segment_left -= 1
            return self.rng.uniform(-1.0, 1.0, size=action.shape).astype(np.float32)
        return np.clip(action + self.noise * self.rng.standard_normal(action.shape), -1.0, 1.0).astype(np.float32)


def run_expert_episode(task: str, seed: int, cfg: dict) -> dict:
    """Roll the scripted expert (perturbed, if configured) from initial condition `seed` until
    success or the step limit."""
    from wam.envs.experts import ScriptedExpert

    env = _get_env(task, cfg)
    expert = ScriptedExpert(task)
    perturb = None
    if cfg.get("perturb_noise", 0) > 0 or cfg.get("perturb_segment_prob", 0) > 0:
        perturb = ActionPerturbation(
            seed, cfg["perturb_noise"], cfg["perturb_segment_prob"], cfg["perturb_segment_len"], cfg["clean_fraction"]
        )
    obs, info = env.reset(seed=seed)
    images, states, actions, rewards, successes = [], [], [], [], []
    success = False
    for _ in range(cfg["max_steps"]):
        action = expert(info["privileged_state"])
        if perturb is not None:
            action = perturb(action)
        images.append(obs["image"])
        states.append(obs["proprio"])
        actions.append(action)
        obs, reward, _, truncated, info = env.step(action)
        rewards.append(reward)
        successes.append(info["success"])
        if info["success"]:
            success = True
            break
        if truncated:
            break
    return {
        "images": np.stack(images),
        "states": np.stack(states).astype(np.float32),
        "actions": np.stack(actions).astype(np.float32),
        "rewards": np.asarray(rewards, np.float32),
        "successes": np.asarray(successes, bool),
        "success": success,
        # Observable definition: the task reported success after the very first step.
        "success_at_reset": success and len(actions) == 1,
        "perturbed": perturb is not None and not perturb.clean,
        "random_segments": 0 if perturb is None else perturb.segments,
    }


def _collect_job(job: tuple[str, int, dict, str]) -> dict:
    task, seed, cfg, staging_dir = job
    result = run_expert_episode(task, seed, cfg)
    summary = {
        "task": task,
        "seed": seed,
        "success": result["success"],
        "steps": int(len(result["actions"])),
        "success_at_reset": result["success_at_reset"],
        "perturbed": result["perturbed"],
        "random_segments": result["random_segments"],
    }
    keep = result["success"] or "perturb_noise" in cfg  # perturbed mode keeps failures too
    suffix = "npz" if keep else "json"
    with atomic_path(Path(staging_dir) / task / f"{seed:08d}.{suffix}") as tmp:
        if keep:
            with open(tmp, "wb") as f:  # file object: np.savez would otherwise append ".npz"
                np.savez(
                    f,
                    images=result["images"],
                    states=result["states"],
                    actions=result["actions"],
                    rewards=result["rewards"],
                    successes=result["successes"],
                    summary=np.frombuffer(json.dumps(summary).encode(), dtype=np.uint8),
                )
        else:  # a rejected attempt leaves only its summary, so a resume does not retry it
            tmp.write_text(json.dumps(summary))
    return summary


# ------------------------------------------------------------------------------------------
# Driver
# ------------------------------------------------------------------------------------------
class Staging:
    """`<out>.partial/`: one file per attempted (task, seed); rejected attempts are JSON."""

    def __init__(self, cfg: CollectConfig):
        self.dir = cfg.out.with_name(cfg.out.name + ".partial")
        self.cfg = cfg

    def prepare(self) -> None:
        settings = self.dir / "settings.json"
        if self.dir.exists() and settings.exists():
            previous = read_json(settings, "staged collection settings")
            if previous != self.cfg.fingerprint():
                raise WamError(
                    f"a partial collection in {self.dir} used other settings ({previous}); "
                    "rerun with the same settings to resume, or pass --overwrite"
                )
        self.dir.mkdir(parents=True, exist_ok=True)
        write_json(settings, self.cfg.fingerprint())

    def path(self, task: str, seed: int, success: bool | None = None) -> Path:
        return self.dir / task / f"{seed:08d}.{'npz' if success else 'json'}"

    def results(self, task: str) -> dict[int, bool]:
        """seed -> kept for every finished attempt of a task (kept = successful, or any episode in
        perturbed mode)."""
        out = {}
        folder = self.dir / task
        if folder.is_dir():
            for p in folder.iterdir():
                if p.suffix in (".npz", ".json") and p.stem.isdigit():
                    out[int(p.stem)] = p.suffix == ".npz"
        return out

    def summary(self, task: str, seed: int) -> dict:
        path = self.path(task, seed, success=False)
        if path.exists():
            return json.loads(path.read_text())
        with np.load(self.path(task, seed, success=True), allow_pickle=False) as z:
            return json.loads(z["summary"].tobytes().decode())


def collect(cfg: CollectConfig) -> Path:
    """Collect (or resume collecting) a dataset; returns its path."""
    if cfg.out.exists():
        if not (cfg.out / "meta" / "info.json").exists():
            raise WamError(f"output folder {cfg.out} exists and is not a dataset; choose another --out")
        if not cfg.overwrite:
            LeRobotDataset(cfg.out)  # validates
            print(f"dataset already complete at {cfg.out} (pass --overwrite to collect again)")
            return cfg.out
        # With --overwrite the old dataset stays until the new one replaces it atomically.
    staging = Staging(cfg)
    if cfg.overwrite:
        remove_owned_dir(staging.dir, ("settings.json",), "partial collection")
    staging.prepare()
    env_cfg = cfg.fingerprint()
    attempt_limit = int(np.ceil(cfg.episodes * cfg.max_attempts))
    t0, frames = time.perf_counter(), 0
    ctx = mp.get_context("spawn")  # fresh interpreters: each worker owns its GL context
    with ctx.Pool(cfg.workers, initializer=worker_init) as pool, tqdm(
        total=cfg.episodes * len(cfg.task_list), desc="collect", unit="ep"
    ) as bar:
        bar.update(sum(min(sum(staging.results(t).values()), cfg.episodes) for t in cfg.task_list))
        while True:
            jobs = []
            for task in cfg.task_list:
                done = staging.results(task)
                missing = cfg.episodes - sum(done.values())
                if missing <= 0:
                    continue
                if len(done) >= attempt_limit:
                    raise WamError(
                        f"the scripted expert for {task} succeeded in only {sum(done.values())} of "
                        f"{len(done)} attempts; lower --episodes or raise --max-attempts"
                    )
                count = min(missing, attempt_limit - len(done))
                # The lowest untried seeds: a kill can leave gaps, which are filled first.
                window = episode_seeds("train", attempt_limit, start=cfg.first_seed)
                for seed in [s for s in window if s not in done][:count]:
                    jobs.append((task, seed, env_cfg, str(staging.dir)))
            if not jobs:
                break
            for summary in pool.imap_unordered(_collect_job, jobs):
                if summary["success"] or cfg.perturbed:  # perturbed mode keeps every episode
                    bar.update(1)
                frames += summary["steps"]
                bar.set_postfix(fps=f"{frames / (time.perf_counter() - t0):.0f}")
    elapsed = time.perf_counter() - t0
    return _finalize(cfg, staging, elapsed, frames)


def _episode_stream(cfg: CollectConfig, staging: Staging, kept: dict[str, list[int]]):
    for task in cfg.task_list:
        for seed in kept[task]:
            with np.load(staging.path(task, seed, success=True), allow_pickle=False) as z:
                summary = json.loads(z["summary"].tobytes().decode())
                n = len(z["actions"])
                yield Episode(
                    frames={
                        IMAGE_KEY: z["images"],
                        STATE_KEY: z["states"],
                        ACTION_KEY: z["actions"],
                        "next.reward": z["rewards"],
                        "next.success": z["successes"],
                    },
                    task=instruction_for(task),
                    meta={
                        "task_name": task,
                        "seed": seed,
                        "success_at_reset": summary["success_at_reset"],
                        "action_free": False,
                        "source": "perturbed_expert" if cfg.perturbed else "scripted_expert",
                        "perturbed": bool(summary.get("perturbed", False)),
                        "random_segments": int(summary.get("random_segments", 0)),
                        "success": bool(summary["success"]),
                        "num_frames": n,
                    },
                )


def _finalize(cfg: CollectConfig, staging: Staging, elapsed: float, frames: int) -> Path:
    kept, per_task = {}, {}
    for task in cfg.task_list:
        results = staging.results(task)
        successes = sorted(s for s, ok in results.items() if ok)
        kept[task] = successes[: cfg.episodes]  # the lowest seeds: same dataset whatever the worker order
        rejected = sorted(s for s, ok in results.items() if not ok)
        summaries = {s: staging.summary(task, s) for s in results}
        at_reset = [s for s in kept[task] if summaries[s]["success_at_reset"]]
        wins = sum(bool(v["success"]) for v in summaries.values())
        per_task[task] = {
            "attempts": len(results),
            "kept": len(kept[task]),
            # perturbed mode: the success rate of the perturbed expert (failures are kept)
            "expert_success_rate": round(wins / max(len(results), 1), 4),
            "rejected_seeds": rejected,
            "success_at_reset_seeds": at_reset,
        }
    res = cfg.resolution
    features = {
        IMAGE_KEY: image_feature(res, res, video=cfg.image_format == "video"),
        STATE_KEY: vector_feature(4, ["hand_x", "hand_y", "hand_z", "gripper"]),
        ACTION_KEY: vector_feature(4, ["dx", "dy", "dz", "gripper"]),
        "next.reward": vector_feature(1, None),
        "next.success": vector_feature(1, None, dtype="bool"),
    }
    if cfg.perturbed:
        for task in cfg.task_list:
            per_task[task]["perturbed_episodes"] = sum(bool(staging.summary(task, s).get("perturbed")) for s in kept[task])
    extra = {
        "source": "metaworld " + ("perturbed " if cfg.perturbed else "") + "scripted experts (wam collect)",
        "env": "metaworld-v3",
        "tasks": list(cfg.task_list),
        "seed_split": "train",
        "collection": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(cfg).items()},
        "per_task": per_task,
        "collection_seconds": round(elapsed, 1),
        "collection_frames_per_second": round(frames / max(elapsed, 1e-9), 1),
        "versions": package_versions(),
    }
    extra["collection"].pop("overwrite", None)
    print(f"writing LeRobot v3.0 dataset to {cfg.out} ...")
    write_dataset(cfg.out, _episode_stream(cfg, staging, kept), features, CONTROL_HZ, "sawyer", extra)
    shutil.rmtree(staging.dir)
    total = sum(len(v) for v in kept.values())
    rates = ", ".join(f"{t}: {v['expert_success_rate']:.0%}" for t, v in per_task.items())
    print(f"collected {total} episodes ({frames} frames simulated in {elapsed:.0f} s); expert success {rates}")
    return cfg.out

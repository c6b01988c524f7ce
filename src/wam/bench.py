"""`wam bench`: throughput and latency figures, printed and saved as JSON.

Speed targets are checked here, never by timed assertions in tests (these machines are noisy).
  collection   frames/s of `wam collect`'s own worker function beside the raw step+render rate
               of the same envs in the same worker pool, measured in the same run
  training     iterations/s and samples/s of the real trainer
  data loader  windows/s served by the training cache
  inference    latency per `act` call (pre-processing included), p50/p95
"""

from __future__ import annotations

import json
import multiprocessing as mp
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from wam.data.io import write_json
from wam.envs.metaworld import resolve_tasks
from wam.errors import require
from wam.utils import machine_description, package_versions, worker_init


@dataclass
class BenchConfig:
    """Measure collection, training, data-loading and inference speed on this machine."""

    dataset: Path = Path("data/mt10")
    """dataset for the training / loader / inference figures (made small if missing)"""
    tasks: str = "reach-v3,push-v3"
    """tasks for the collection figure"""
    workers: int = 2
    """collection worker processes"""
    episodes: int = 10
    """expert episodes per task timed in the collection figure"""
    train_steps: int = 30
    """timed training steps (after 5 warm-up steps)"""
    model: str = "flow-policy"
    """model for the training and inference figures"""
    out: Path = Path("runs/bench.json")
    """where to save the figures"""
    skip: str = ""
    """comma list of sections to skip: collection, training, loader, inference"""

    def __post_init__(self):
        require(self.workers >= 1 and self.episodes >= 1 and self.train_steps >= 1, "workers, episodes and train_steps must be >= 1")
        self.task_list = resolve_tasks(self.tasks)


_env = {}


def _raw_job(job: tuple[str, int, int]) -> int:
    """Step + render a task's env with random actions: the simulator's own rate."""
    from wam.data.collect import _get_env

    task, seed, steps = job
    env = _get_env(task, {"camera": "corner2", "resolution": 64, "max_steps": 500, "shift": "none"})
    env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        env.step(rng.uniform(-1, 1, 4))
    return steps


def _collect_frames(job: tuple[str, int, dict, str]) -> int:
    from wam.data.collect import _collect_job

    return _collect_job(job)["steps"]


def bench_collection(cfg: BenchConfig) -> dict:
    env_cfg = {"camera": "corner2", "resolution": 64, "max_steps": 500, "shift": "none"}
    staging = Path(tempfile.mkdtemp(prefix="wam-bench-"))
    try:
        ctx = mp.get_context("spawn")
        with ctx.Pool(cfg.workers, initializer=worker_init) as pool:
            # Warm up: every worker imports and builds its env before any clock starts.
            pool.map(_raw_job, [(cfg.task_list[0], i, 5) for i in range(cfg.workers)], chunksize=1)
            jobs = [(t, 10_000 + i, env_cfg, str(staging)) for t in cfg.task_list for i in range(cfg.episodes)]
            t0 = time.perf_counter()
            frames = sum(pool.map(_collect_frames, jobs, chunksize=1))
            collect_fps = frames / (time.perf_counter() - t0)
            steps_per_job = max(1, frames // len(jobs))
            raw_jobs = [(t, 20_000 + i, steps_per_job) for t in cfg.task_list for i in range(cfg.episodes)]
            t0 = time.perf_counter()
            raw = sum(pool.map(_raw_job, raw_jobs, chunksize=1))
            raw_fps = raw / (time.perf_counter() - t0)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return {
        "workers": cfg.workers,
        "collect_frames_per_s": round(collect_fps, 1),
        "raw_step_render_per_s": round(raw_fps, 1),
        "ratio": round(collect_fps / raw_fps, 3),
        "frames_timed": frames,
    }


def _ensure_dataset(cfg: BenchConfig) -> Path:
    if (cfg.dataset / "meta" / "info.json").exists():
        return cfg.dataset
    from wam.data.collect import CollectConfig, collect

    small = Path(tempfile.gettempdir()) / "wam-bench-dataset"
    if not (small / "meta" / "info.json").exists():
        print(f"{cfg.dataset} not found; collecting a small dataset at {small}")
        collect(CollectConfig(out=small, tasks=",".join(cfg.task_list), episodes=4, workers=cfg.workers))
    return small


def bench_training(cfg: BenchConfig, dataset: Path) -> tuple[dict, object]:
    from wam.train.trainer import TrainConfig, Trainer

    out = Path(tempfile.mkdtemp(prefix="wam-bench-train-"))
    try:
        trainer = Trainer(TrainConfig(dataset=dataset, out=out, model=cfg.model, steps=cfg.train_steps + 5))
        trainer.model.train()
        for _ in range(5):
            trainer.train_step()
        t0 = time.perf_counter()
        for _ in range(cfg.train_steps):
            trainer.train_step()
        dt = time.perf_counter() - t0
        it_s = cfg.train_steps / dt
        return {
            "model": cfg.model,
            "params": trainer.model.num_parameters(),
            "batch_size": trainer.cfg.batch_size,
            "iterations_per_s": round(it_s, 2),
            "samples_per_s": round(it_s * trainer.global_batch, 1),
            "threads": __import__("torch").get_num_threads(),
        }, trainer
    finally:
        shutil.rmtree(out, ignore_errors=True)


def bench_loader(trainer, n: int = 200) -> dict:
    cache, window = trainer.cache, trainer.model.window
    rng = np.random.default_rng(0)
    b = trainer.cfg.batch_size
    t0 = time.perf_counter()
    for _ in range(n):
        cache.batch(rng.integers(0, len(cache), b), window, trainer.labelled)
    dt = time.perf_counter() - t0
    return {"batches_per_s": round(n / dt, 1), "windows_per_s": round(n * b / dt, 1), "batch_size": b}


def bench_inference(trainer, calls: int = 100) -> dict:
    import torch

    from wam.eval.metrics import latency_summary

    model = trainer.model.eval()
    batch = trainer.cache.batch(np.arange(1), model.window)
    out = {}
    for threads in (1, torch.get_num_threads()):
        torch.set_num_threads(threads)
        obs = {k: batch[k] for k in ("image", "state", "task_index")}
        for _ in range(5):
            model.act(obs)
        times = []
        for _ in range(calls):
            t0 = time.perf_counter()
            obs = {k: batch[k].clone() for k in ("image", "state", "task_index")}  # stand-in for pre-processing
            model.act(obs)
            times.append(time.perf_counter() - t0)
        out[f"threads_{threads}"] = latency_summary(times)
    return out


def bench_main(cfg: BenchConfig) -> None:
    from rich.console import Console
    from rich.table import Table

    skip = set(filter(None, cfg.skip.split(",")))
    results: dict = {"machine": machine_description(), "versions": package_versions()}
    if "collection" not in skip:
        results["collection"] = bench_collection(cfg)
    if {"training", "loader", "inference"} - skip:
        dataset = _ensure_dataset(cfg)
        results["dataset"] = str(dataset)
        results["training"], trainer = bench_training(cfg, dataset)
        if "loader" not in skip:
            results["loader"] = bench_loader(trainer)
        if "inference" not in skip:
            results["inference_ms"] = bench_inference(trainer)
    table = Table(title=f"wam bench ({results['machine']})")
    table.add_column("section")
    table.add_column("figures")
    for key, value in results.items():
        if isinstance(value, dict) and key != "versions":
            table.add_row(key, json.dumps(value))
    Console().print(table)
    write_json(cfg.out, results)
    print(f"wrote {cfg.out}")

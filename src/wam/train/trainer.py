"""`wam train`: one loop for every registered model.

AdamW with linear warm-up and cosine decay, an EMA of the weights (used for evaluation), a budget
in steps or wall-clock minutes, tqdm progress, CSV + TensorBoard logs, periodic checkpoints and
exact resume: model, EMA, optimiser, schedule position, RNG states and data position are saved,
so a run killed and resumed takes the same steps as one never interrupted (step budgets).

Data-parallel training is a launch command, not a rewrite: under `torchrun --nproc_per_node N`
or `accelerate launch` (both set WORLD_SIZE/RANK), each rank reads its own shard of every epoch's
permutation, gradients are averaged over the gloo (CPU) or nccl (GPU) backend, and the logs state
the global batch.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
import shutil
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from tqdm import tqdm

from wam.data.cache import TrainingCache, label_mask
from wam.data.io import atomic_path, read_json, remove_owned_dir, write_json
from wam.errors import WamError, parse_pairs, require
from wam.models.base import WamModel, model_class
from wam.train.checkpoint import (
    _config_to_json,
    config_from_json,
    load_state_strict,
    load_tensors,
    save_model,
    save_tensors,
)
from wam.utils import machine_description, package_versions


SAMPLING_MODES = ("frames", "tasks")
# what a run, or a label-efficiency curve, saved before the `sampling` field existed sampled
SAMPLING_BEFORE_THE_FIELD = "frames"


def require_sampling(sampling: str) -> None:
    """One-line error for a batch sampling mode that does not exist (shared by every config that takes one)."""
    require(sampling in SAMPLING_MODES, f"unknown sampling '{sampling}'; valid: {', '.join(SAMPLING_MODES)}")


@dataclass
class TrainConfig:
    """Train a registered model on a LeRobot v3 dataset."""

    dataset: Path = Path("data/mt10")
    """LeRobot v3 dataset folder"""
    out: Path = Path("runs/flow-policy")
    """run folder: checkpoints, logs and the final model (out/model)"""
    model: str = "flow-policy"
    """registered model name (see `wam models`)"""
    steps: int = 0
    """step budget (0: no step limit; then --minutes must be set)"""
    minutes: float = 0.0
    """wall-clock training budget in minutes (0: no time limit)"""
    batch_size: int = 64
    """batch size per process"""
    lr: float = 3e-4
    """peak learning rate (AdamW)"""
    weight_decay: float = 1e-4
    """AdamW weight decay"""
    warmup_steps: int = 500
    """linear learning-rate warm-up"""
    min_lr_ratio: float = 0.1
    """cosine decay ends at lr x this"""
    grad_clip: float = 1.0
    """gradient-norm clip (0 disables)"""
    ema_decay: float = 0.999
    """EMA decay of the weights used for evaluation (0 disables EMA)"""
    seed: int = 0
    """seed for initialisation, data order and augmentation"""
    label_seed: int = 0
    """seed of which episodes keep their labels (separate from --seed, so seed sweeps keep the split)"""
    label_fraction: float = 1.0
    """share of each task's episodes that keep action labels; the rest are action-free"""
    labelled_per_task: int = 0
    """if > 0: keep labels on exactly this many episodes per task (overrides label_fraction)"""
    sampling: str = "tasks"
    """batch sampling: 'tasks' (each task fills an equal share of every epoch, its frames cycled, so short-episode tasks such as reach are not outweighed) or 'frames' (every usable frame once per epoch; the default before 2026-12-03)"""
    task_weights: tuple[str, ...] = ()
    """with --sampling tasks: relative epoch shares as task=weight (a task's env name, instruction or index; unnamed tasks weigh 1), e.g. --task-weights reach-v3=2.5 pick-place-v3=2"""
    image_key: str = ""
    """camera feature to train on (default: the dataset's first image/video feature)"""
    log_every: int = 50
    """steps between log lines"""
    checkpoint_every: int = 500
    """steps between resumable checkpoints"""
    threads: int = 0
    """torch CPU threads per process (0: all cores / processes)"""
    device: str = "cpu"
    """torch device (cuda needs a GPU; there is no silent fallback)"""
    overwrite: bool = False
    """start over even if the run folder holds a checkpoint"""
    model_overrides: tuple[str, ...] = ()
    """model config overrides as key=value, e.g. --model-overrides chunk=8 n_obs_steps=1"""
    init_from: Path = Path("")
    """finetune: start from this trained model folder (same --model; new tasks get new task-embedding rows)"""
    init_weights: bool = True
    """with --init-from: copy its trained weights (false: its config with fresh weights, the from-scratch reference)"""

    def __post_init__(self):
        self.dataset, self.out = Path(self.dataset), Path(self.out)
        self.init_from = Path(self.init_from) if str(self.init_from) not in ("", ".") else None
        require(self.init_from is None or not self.model_overrides,
                "--init-from builds the trained model's own config; --model-overrides cannot change it")
        require(self.steps >= 0, f"steps must be >= 0, got {self.steps}")
        require(self.minutes >= 0, f"minutes must be >= 0, got {self.minutes}")
        require(self.steps > 0 or self.minutes > 0, "set a budget: --steps N and/or --minutes M")
        require(self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}")
        require(self.lr > 0 and math.isfinite(self.lr), f"lr must be a positive number, got {self.lr}")
        require(0 <= self.ema_decay < 1, f"ema_decay must be in [0, 1), got {self.ema_decay}")
        require(0 < self.label_fraction <= 1, f"label fraction must be in (0, 1], got {self.label_fraction}")
        require(self.labelled_per_task >= 0, f"labelled_per_task must be >= 0, got {self.labelled_per_task}")
        require(self.log_every >= 1 and self.checkpoint_every >= 1, "log_every and checkpoint_every must be >= 1")
        require(self.warmup_steps >= 0, f"warmup_steps must be >= 0, got {self.warmup_steps}")
        require(0 <= self.min_lr_ratio <= 1, f"min_lr_ratio must be in [0, 1], got {self.min_lr_ratio}")
        require(self.weight_decay >= 0, f"weight_decay must be >= 0, got {self.weight_decay}")
        require(self.grad_clip >= 0, f"grad_clip must be >= 0, got {self.grad_clip}")
        require_sampling(self.sampling)
        require(not self.task_weights or self.sampling == "tasks",
                "--task-weights sets the task shares of --sampling tasks; it has no meaning with --sampling frames")
        require(self.threads >= 0, f"threads must be >= 0, got {self.threads}")
        require(
            self.device == "cpu" or self.device.startswith("cuda"),
            f"unknown device '{self.device}'; valid: cpu, cuda, cuda:N",
        )
        model_class(self.model)  # unknown model names fail here, listing the valid ones
        if self.device.startswith("cuda") and not torch.cuda.is_available():
            raise WamError(f"device '{self.device}' requested but no CUDA GPU is available")


def build_model_config(name: str, overrides: tuple[str, ...]):
    """The model's default config with `key=value` overrides applied (types from the defaults)."""
    cls = model_class(name)
    pairs = dict(parse_pairs(overrides, "model override '{item}' is not key=value"))
    fields = {f.name: f for f in dataclasses.fields(cls.config_class)}
    default = cls.config_class()
    values = {}
    for key, raw in pairs.items():
        if key not in fields:
            raise WamError(f"model '{name}' has no config field '{key}'; fields: {', '.join(fields)}")
        current = getattr(default, key)
        try:
            if isinstance(current, bool):
                if raw.lower() not in ("1", "true", "yes", "0", "false", "no"):
                    raise ValueError(raw)
                values[key] = raw.lower() in ("1", "true", "yes")
            elif isinstance(current, tuple):
                values[key] = tuple(type(current[0])(v) for v in raw.split(","))
            else:
                values[key] = type(current)(raw)
        except ValueError:
            raise WamError(f"model config {key}={raw!r} is not a valid {type(current).__name__}") from None
    return dataclasses.replace(default, **values)


def resolve_task_weights(pairs: tuple[str, ...], instructions: tuple[str, ...], env_names=()) -> np.ndarray:
    """`task=weight` pairs -> one weight per task index (unnamed tasks weigh 1).

    A task is named by its env name (a wam dataset's info.json lists them in task-index order),
    its instruction (meta/tasks), or its index, so the option also works on foreign datasets."""
    weights = np.ones(len(instructions))
    lookup = {name: i for i, name in enumerate(instructions)}
    if len(env_names) == len(instructions):
        lookup.update({name: i for i, name in enumerate(env_names)})
    lookup.update({str(i): i for i in range(len(instructions))})
    seen = set()
    for pair, (name, raw) in zip(pairs, parse_pairs(pairs, "task weight {item!r} is not task=weight", last=True)):
        require(name in lookup, f"unknown task '{name}' in --task-weights; valid: {', '.join(env_names or instructions)}")
        require(lookup[name] not in seen, f"task '{name}' is weighted twice in --task-weights")
        try:
            w = float(raw)
        except ValueError:
            raise WamError(f"task weight {pair!r}: {raw!r} is not a number") from None
        require(math.isfinite(w) and w > 0, f"task weight {pair!r} must be a positive number")
        weights[lookup[name]] = w
        seen.add(lookup[name])
    return weights


class EpochSampler:
    """Deterministic shuffled batches; its state is (epoch, cursor), so it resumes exactly.

    With `groups` (one task index per usable frame), every epoch is task-balanced: each task
    contributes as many draws as the largest task has frames, its own frames permuted and cycled
    to fill them (a frame is drawn at most once more than any other frame of its task). Uniform
    frame sampling weights a task by its frame count, and on MT10 x 50 the tasks' frame counts
    differ 2.4-fold (reach episodes are short), so the shortest tasks get the least signal.
    `weights` (one per group, in sorted group order) scale those shares: a task of weight 2 fills
    twice the draws of a task of weight 1.
    """

    def __init__(self, indices: np.ndarray, batch_size: int, seed: int, rank: int = 0, world: int = 1,
                 groups: np.ndarray | None = None, weights: np.ndarray | None = None):
        if len(indices) < batch_size * world:
            raise WamError(f"dataset has {len(indices)} usable frames, fewer than one global batch ({batch_size * world})")
        if groups is not None and len(groups) != len(indices):
            raise WamError(f"sampler got {len(groups)} group labels for {len(indices)} frames")
        self.indices, self.batch_size, self.seed, self.rank, self.world = indices, batch_size, seed, rank, world
        # each task's frames, grouped once (the epochs only permute and cycle them)
        self._members = None if groups is None else [indices[groups == g] for g in np.unique(groups)]
        if weights is not None and (groups is None or len(weights) != len(self._members)):
            raise WamError(f"sampler got {len(weights)} task weights for {0 if groups is None else len(self._members)} tasks")
        self._weights = None if weights is None else np.asarray(weights, dtype=float)
        self.epoch, self.cursor = 0, 0
        self._perm = self._permutation()

    def _epoch_draws(self, rng: np.random.Generator) -> np.ndarray:
        if self._members is None:
            return self.indices
        base = max(len(m) for m in self._members)
        shares = [base] * len(self._members) if self._weights is None else [
            max(1, round(base * w)) for w in self._weights]
        filled = []
        for m, share in zip(self._members, shares):
            cycles = -(-share // len(m))  # ceil: enough whole permutations to fill the share
            filled.append(np.concatenate([rng.permutation(m) for _ in range(cycles)])[:share])
        return np.concatenate(filled)

    def _permutation(self) -> np.ndarray:
        rng = np.random.default_rng([self.seed, self.epoch])
        perm = rng.permutation(self._epoch_draws(rng))
        return perm[self.rank :: self.world]

    def next(self) -> np.ndarray:
        if self.cursor + self.batch_size > len(self._perm):
            self.epoch, self.cursor = self.epoch + 1, 0
            self._perm = self._permutation()
        batch = self._perm[self.cursor : self.cursor + self.batch_size]
        self.cursor += self.batch_size
        return batch

    def state(self) -> dict:
        return {"epoch": self.epoch, "cursor": self.cursor}

    def load(self, state: dict) -> None:
        self.epoch, self.cursor = state["epoch"], state["cursor"]
        self._perm = self._permutation()


def lr_factor(progress: float, step: int, warmup: int, min_ratio: float) -> float:
    warm = min(1.0, (step + 1) / max(warmup, 1))
    cosine = min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))
    return warm * cosine


class Trainer:
    def __init__(self, cfg: TrainConfig):
        self.cfg = cfg
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        if self.world > 1 and not dist.is_initialized():
            dist.init_process_group("nccl" if cfg.device.startswith("cuda") else "gloo")
        self.threads = cfg.threads or max(1, (os.cpu_count() or 1) // self.world)
        torch.set_num_threads(self.threads)
        torch.manual_seed(cfg.seed)  # same initial weights on every rank
        device = cfg.device
        if device == "cuda" and self.world > 1:
            device = f"cuda:{os.environ.get('LOCAL_RANK', '0')}"
        self.device = torch.device(device)
        if self.rank == 0:  # one process decodes the cache; the others wait, then map it
            self.cache = TrainingCache(cfg.dataset, image_key=cfg.image_key or None)
        if self.world > 1:
            dist.barrier()
        if self.rank != 0:
            self.cache = TrainingCache(cfg.dataset, image_key=cfg.image_key or None)
        cls = model_class(cfg.model)
        if cfg.init_from is not None:
            from wam.train.finetune import checkpoint_config

            model_cfg, _ = checkpoint_config(cfg.init_from, cfg.model)
        else:
            model_cfg = build_model_config(cfg.model, cfg.model_overrides)
        self.model: WamModel = cls(model_cfg, self.cache.spec()).to(self.device)
        # Frames whose action labels the model may read: the dataset's own action-free flags and
        # the label-fraction study both withhold labels.
        self.labelled = label_mask(
            self.cache, cfg.label_fraction, cfg.labelled_per_task or None, seed=cfg.label_seed
        ) & self.cache.episode_labelled[self.cache.episode_index]
        if cls.role == "agent" and not self.labelled.any():
            # Even WAMs that learn from action-free video need some labels to ground their actions.
            raise WamError(f"model '{cfg.model}' needs action-labelled episodes, but none in {cfg.dataset} has labels")
        usable = np.flatnonzero(self.labelled) if cls.needs_action_labels else np.arange(len(self.cache))
        self.model.set_normalization(self.cache.stats(labelled_only=self.labelled))
        self.model.prepare_training()
        if getattr(model_cfg, "instruction_embedding", False):
            from wam.data.language import embed_instructions

            self.model.set_instruction_embeddings(torch.from_numpy(embed_instructions(self.cache.spec().task_names)))
        self.finetune = None
        if cfg.init_from is not None and cfg.init_weights:  # after the normalisation and embeddings it overrides or keeps
            from wam.train.finetune import init_from_checkpoint

            self.finetune = init_from_checkpoint(self.model, cfg.init_from)
        self.ddp_model = (
            torch.nn.parallel.DistributedDataParallel(
                # a model that may skip a branch on some batches (e.g. the skip-future path)
                self.model, find_unused_parameters=getattr(self.model, "may_skip_parameters", False)
            )
            if self.world > 1
            else self.model
        )
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.ema = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        # Each rank draws its own noise and augmentation (the same seed would correlate them).
        torch.manual_seed(cfg.seed + 1000 * self.rank)
        groups = self.cache.task_index[usable] if cfg.sampling == "tasks" else None
        self.task_weights = resolve_task_weights(
            cfg.task_weights, self.cache.spec().task_names, self.cache.dataset.extra_info.get("tasks") or ()
        )
        weights = None if groups is None else self.task_weights[np.unique(groups)]
        self.sampler = EpochSampler(usable, cfg.batch_size, cfg.seed, self.rank, self.world, groups=groups,
                                    weights=weights)
        self.step, self.elapsed = 0, 0.0
        self.ckpt_dir = cfg.out / "checkpoints"
        self.global_batch = cfg.batch_size * self.world

    # -- checkpoints ---------------------------------------------------------------------------
    def _train_info(self) -> dict:
        return {
            "dataset": str(self.cfg.dataset),
            "steps": self.step,
            "samples_seen": self.step * self.global_batch,
            "train_seconds": round(self.elapsed, 1),
            "global_batch": self.global_batch,
            "world_size": self.world,
            "threads": self.threads,
            "device": str(self.device),
            "labelled_episodes": int(len(np.unique(self.cache.episode_index[self.labelled]))),
            "total_episodes": int(self.cache.num_episodes),
            "train_config": json.loads(json.dumps(dataclasses.asdict(self.cfg), default=str)),
            "init_from": self.finetune,
            "data_info": {
                "tasks": self.cache.dataset.extra_info.get("tasks"),
                "camera": self.cache.dataset.extra_info.get("collection", {}).get("camera"),
                "fps": self.cache.dataset.fps,
            },
            "machine": machine_description(),
            "versions": package_versions(),
        }

    def save_checkpoint(self) -> None:
        if self.rank != 0:
            return
        folder = self.ckpt_dir / f"step-{self.step:08d}"
        if folder.exists():  # this step is saved already (periodic save, then the final one)
            return
        tmp = folder.with_name(folder.name + ".tmp")
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True)
        save_tensors(tmp / "model.safetensors", self.model.state_dict())
        save_tensors(tmp / "ema.safetensors", self.ema)
        opt = self.optimizer.state_dict()
        opt_tensors = {f"{i}.{k}": v for i, s in opt["state"].items() for k, v in s.items()}
        opt_tensors["torch_rng"] = torch.get_rng_state()
        save_tensors(tmp / "optimizer.safetensors", opt_tensors)
        write_json(
            tmp / "state.json",
            {
                "step": self.step,
                "elapsed": self.elapsed,
                "sampler": self.sampler.state(),
                "world_size": self.world,
                "param_groups": opt["param_groups"],
                "model": self.cfg.model,
                "model_config": _config_to_json(self.model.config),
                "train_config": json.loads(json.dumps(dataclasses.asdict(self.cfg), default=str)),
            },
        )
        os.replace(tmp, folder)
        write_json(self.ckpt_dir / "latest.json", {"folder": folder.name, "step": self.step})
        for old in self.ckpt_dir.glob("step-*"):  # keep the newest two
            if old.name < f"step-{self.step - 2 * self.cfg.checkpoint_every:08d}" and old != folder:
                shutil.rmtree(old, ignore_errors=True)

    def try_resume(self) -> bool:
        latest = self.ckpt_dir / "latest.json"
        if not latest.exists():
            return False
        folder = self.ckpt_dir / read_json(latest, "checkpoint pointer")["folder"]
        state = read_json(folder / "state.json", "training state")
        if state["model"] != self.cfg.model:
            raise WamError(f"{self.cfg.out} holds a '{state['model']}' run, not '{self.cfg.model}'; use --overwrite or another --out")
        saved_cfg = config_from_json(self.model.config_class, state["model_config"])
        if saved_cfg != self.model.config:
            raise WamError(f"{self.cfg.out} was trained with another model config; use --overwrite or another --out")
        saved_train = state.get("train_config", {})
        now = json.loads(json.dumps(dataclasses.asdict(self.cfg), default=str))
        # what runs saved before these fields existed did
        defaults = {"init_from": None, "init_weights": True, "sampling": SAMPLING_BEFORE_THE_FIELD, "task_weights": []}
        for key in ("dataset", "batch_size", "seed", "label_seed", "label_fraction", "labelled_per_task", "image_key",
                    "init_from", "init_weights", "sampling", "task_weights"):
            if saved_train.get(key, defaults.get(key)) != now.get(key):
                raise WamError(
                    f"{self.cfg.out} was trained with {key}={saved_train.get(key)!r}, not {now.get(key)!r}; "
                    "resume with the same settings, or use --overwrite or another --out"
                )
        if state.get("world_size", 1) != self.world:
            raise WamError(f"{self.cfg.out} was trained with {state.get('world_size', 1)} process(es), not {self.world}")
        load_state_strict(self.model, load_tensors(folder / "model.safetensors"), f"checkpoint {folder}")
        self.ema = {k: v.to(self.device) for k, v in load_tensors(folder / "ema.safetensors").items()}
        tensors = load_tensors(folder / "optimizer.safetensors")
        torch.set_rng_state(tensors.pop("torch_rng"))
        opt_state: dict = {}
        for key, value in tensors.items():
            idx, name = key.split(".", 1)
            opt_state.setdefault(int(idx), {})[name] = value
        try:
            self.optimizer.load_state_dict({"state": opt_state, "param_groups": state["param_groups"]})
        except (KeyError, ValueError) as e:
            raise WamError(f"optimizer state in {folder} does not match the model: {e}") from None
        self.step, self.elapsed = state["step"], state["elapsed"]
        self.sampler.load(state["sampler"])
        return True

    # -- loop ----------------------------------------------------------------------------------
    def progress(self) -> float:
        parts = []
        if self.cfg.steps:
            parts.append(self.step / self.cfg.steps)
        if self.cfg.minutes:
            parts.append(self.elapsed / (60 * self.cfg.minutes))
        return max(parts)

    @torch.no_grad()
    def _update_ema(self) -> None:
        if self.cfg.ema_decay == 0:
            return
        decay = min(self.cfg.ema_decay, (1 + self.step) / (10 + self.step))
        copied = self.model.ema_copy_prefixes
        for k, v in self.model.state_dict().items():
            if v.is_floating_point() and not k.startswith(copied):
                self.ema[k].lerp_(v, 1 - decay)
            else:
                self.ema[k].copy_(v)

    def train_step(self) -> dict[str, float]:
        idx = self.sampler.next()
        batch = {k: v.to(self.device) for k, v in self.cache.batch(idx, self.model.window, self.labelled).items()}
        factor = lr_factor(self.progress(), self.step, self.cfg.warmup_steps, self.cfg.min_lr_ratio)
        for group in self.optimizer.param_groups:
            group["lr"] = self.cfg.lr * factor
        loss, info = self.ddp_model(batch)
        if not torch.isfinite(loss):
            raise WamError(f"loss became {float(loss)} at step {self.step}; lower --lr or check the data for outliers")
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = (
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.grad_clip)
            if self.cfg.grad_clip > 0
            else torch.tensor(0.0)
        )
        self.optimizer.step()
        self.step += 1
        self.model.after_optimizer_step(self.step)
        self._update_ema()
        return {"loss": float(loss.detach()), "lr": self.cfg.lr * factor, "grad_norm": float(grad_norm), **info}

    def run(self) -> Path:
        cfg = self.cfg
        final = cfg.out / "model"
        if cfg.overwrite and self.rank == 0:
            remove_owned_dir(cfg.out, ("checkpoints", "metrics.csv", "model/config.json"), "training run")
        if self.world > 1:
            dist.barrier()
        resumed = self.try_resume()
        if self.progress() >= 1.0 and (final / "config.json").exists():
            print(f"run already finished: {final} (pass --overwrite to train again)")
            return final
        cfg.out.mkdir(parents=True, exist_ok=True)
        logger = RunLogger(cfg.out, enabled=self.rank == 0, resume_step=self.step)
        if self.rank == 0:
            logger.text(
                f"{'resumed at step ' + str(self.step) if resumed else 'training'} {cfg.model}: "
                f"{self.model.num_parameters() / 1e6:.2f}M params, global batch {self.global_batch} "
                f"({self.world} process(es) x {cfg.batch_size}), {len(self.sampler.indices)} usable frames "
                f"({'task-balanced' if cfg.sampling == 'tasks' else 'uniform over frames'}"
                f"{', weights ' + ' '.join(cfg.task_weights) if cfg.task_weights else ''}), "
                f"budget {cfg.steps or '-'} steps / {cfg.minutes or '-'} min"
            )
        # Ctrl-C and SIGTERM set a flag: the current step finishes, so the checkpoint is consistent.
        stop = {"now": False}
        handlers = {sig: signal.signal(sig, lambda *_: stop.update(now=True)) for sig in (signal.SIGINT, signal.SIGTERM)}
        bar = tqdm(total=cfg.steps or None, initial=self.step, desc="train", unit="step", disable=self.rank != 0)
        self.model.train()
        window_t, window_steps = time.perf_counter(), 0
        try:
            while self.progress() < 1.0 and not stop["now"]:
                t0 = time.perf_counter()
                metrics = self.train_step()
                self.elapsed += time.perf_counter() - t0
                window_steps += 1
                bar.update(1)
                if self.step % cfg.log_every == 0 or self.progress() >= 1.0:
                    dt = time.perf_counter() - window_t
                    metrics.update(
                        it_per_s=window_steps / dt,
                        samples_per_s=window_steps * self.global_batch / dt,
                        elapsed_s=self.elapsed,
                        epoch=self.sampler.epoch,
                    )
                    logger.log(self.step, metrics)
                    bar.set_postfix(loss=f"{metrics['loss']:.4f}", lr=f"{metrics['lr']:.1e}")
                    window_t, window_steps = time.perf_counter(), 0
                if self.step % cfg.checkpoint_every == 0:
                    self.save_checkpoint()
        except KeyboardInterrupt:
            stop["now"] = True
        finally:
            bar.close()
            for sig, handler in handlers.items():
                signal.signal(sig, handler)
        self.save_checkpoint()
        if stop["now"]:
            logger.text(f"interrupted at step {self.step}; rerun the same command to resume")
            logger.close()
            raise SystemExit(130)
        if self.rank == 0:
            weights = self.ema if cfg.ema_decay > 0 else self.model.state_dict()
            save_model(self.model, final, self._train_info(), state_dict=weights)
            logger.text(f"finished {self.step} steps in {self.elapsed / 60:.1f} min; model saved to {final}")
        logger.close()
        if self.world > 1:
            dist.barrier()
        return final


class RunLogger:
    """CSV (metrics.csv) and TensorBoard (tb/) logs, written by rank 0 only."""

    def __init__(self, out: Path, enabled: bool = True, resume_step: int = 0):
        self.enabled = enabled
        self.csv_path = out / "metrics.csv"
        self.writer = None
        self.fields: list[str] | None = None
        if enabled:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(out / "tb"))
            if self.csv_path.exists():
                # Rows logged after the checkpoint we resume from (and a half-written last row)
                # would be logged again: keep only complete rows up to the resumed step.
                with open(self.csv_path, newline="") as f:
                    rows = list(csv.reader(f))
                self.fields = rows[0] if rows else None
                keep = [r for r in rows[1:] if self.fields and len(r) == len(self.fields) and r[0].isdigit() and int(r[0]) <= resume_step]
                with atomic_path(self.csv_path) as tmp, open(tmp, "w", newline="") as f:
                    writer = csv.writer(f)
                    if self.fields:
                        writer.writerow(self.fields)
                    writer.writerows(keep)

    def log(self, step: int, metrics: dict[str, float]) -> None:
        if not self.enabled:
            return
        row = {"step": step, **metrics}
        if self.fields is None:
            self.fields = list(row)
            with open(self.csv_path, "w", newline="") as f:
                csv.writer(f).writerow(self.fields)
        with open(self.csv_path, "a", newline="") as f:
            csv.writer(f).writerow([row.get(k, "") for k in self.fields])
        for k, v in metrics.items():
            self.writer.add_scalar(k, v, step)

    def text(self, message: str) -> None:
        if self.enabled:
            tqdm.write(message)
            with open(self.csv_path.with_name("train.log"), "a") as f:
                f.write(message + "\n")

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def train(cfg: TrainConfig) -> Path:
    return Trainer(cfg).run()

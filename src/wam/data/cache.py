"""The training cache: a LeRobot v3 dataset decoded once into memory-mapped uint8/float32 arrays.

Decoding PNG or mp4 at every step would cost more than the model on 2 CPU cores; the cache
decodes each frame once, stores it as a `.npy` memmap and serves windows:

    observation history  frames t-To+1 .. t       (clamped at the episode start, `obs_is_pad`)
    action chunk         actions t .. t+K-1       (padded past the episode end, `action_is_pad`)
    future frames        frames (and states) t + offsets   (clamped at the episode end, `future_is_pad`)
    rewards (optional)   rewards t .. t+K-1 and discounted returns-to-go at t .. t+K (WindowSpec.gamma)
    success (optional)   the task's success flag after actions t .. t+K-1, served with rewards
                         (clamped at the episode end: a success that ends an episode stays a success)

Any LeRobot v3 dataset works: feature names, shapes and fps come from meta/info.json.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from wam.data.io import read_json, replace_dir, write_json
from wam.data.lerobot_v3 import VISUAL_DTYPES, LeRobotDataset
from wam.errors import WamError, require

CACHE_VERSION = 1


@dataclass(frozen=True)
class DataSpec:
    """What a model needs to know about its data; saved in every checkpoint."""

    image_key: str
    image_shape: tuple[int, int, int]  # (H, W, 3)
    state_key: str | None
    state_dim: int
    action_key: str
    action_dim: int
    fps: int
    task_names: tuple[str, ...]  # index = task_index; the instruction strings

    def to_json(self) -> dict:
        return {**self.__dict__, "image_shape": list(self.image_shape), "task_names": list(self.task_names)}

    @classmethod
    def from_json(cls, d: dict) -> DataSpec:
        return cls(**{**d, "image_shape": tuple(d["image_shape"]), "task_names": tuple(d["task_names"])})


@dataclass(frozen=True)
class WindowSpec:
    """Which frames around t a model reads (LeRobot's delta_timestamps, in frames)."""

    n_obs_steps: int = 2
    chunk: int = 16
    future_offsets: tuple[int, ...] = ()
    gamma: float | None = None  # set: also serve rewards and returns-to-go with this discount

    def __post_init__(self):
        require(self.n_obs_steps >= 1, f"n_obs_steps must be >= 1, got {self.n_obs_steps}")
        require(self.gamma is None or 0 <= self.gamma < 1, f"gamma must be in [0, 1), got {self.gamma}")
        require(self.chunk >= 1, f"chunk must be >= 1, got {self.chunk}")
        require(all(o >= 1 for o in self.future_offsets), "future offsets must be >= 1 frame")


def default_cache_dir() -> Path:
    return Path(os.environ.get("WAM_CACHE_DIR", Path.home() / ".cache" / "wam")) / "datasets"


def _fingerprint(ds: LeRobotDataset, keys: list[str]) -> str:
    h = hashlib.sha1()
    h.update(str(ds.root.resolve()).encode())
    h.update(json.dumps(ds.info, sort_keys=True).encode())
    for p in sorted(ds.root.glob("data/*/*.parquet")) + sorted(ds.root.glob("videos/**/*.mp4")):
        st = p.stat()
        h.update(f"{p.name}{st.st_size}{st.st_mtime_ns}".encode())
    h.update(json.dumps([keys, CACHE_VERSION]).encode())
    return h.hexdigest()[:16]


class TrainingCache:
    """Memory-mapped arrays of one dataset, built on first use and reused afterwards."""

    def __init__(
        self,
        root: str | Path,
        image_key: str | None = None,
        state_key: str | None = "auto",
        action_key: str = "action",
        cache_dir: str | Path | None = None,
    ):
        self.dataset = ds = LeRobotDataset(root)
        visual = ds.visual_keys
        if not visual:
            raise WamError(f"dataset {ds.root} has no image or video feature; wam models need one")
        if image_key is None:
            image_key = visual[0]
        if image_key not in visual:
            raise WamError(f"dataset has no image feature '{image_key}'; its image features: {visual}")
        if state_key == "auto":
            state_key = "observation.state" if "observation.state" in ds.features else None
        if state_key is not None and state_key not in ds.features:
            raise WamError(f"dataset has no feature '{state_key}'; it has {sorted(ds.features)}")
        if action_key not in ds.features:
            raise WamError(f"dataset has no action feature '{action_key}'; it has {sorted(ds.features)}")
        self.image_key, self.state_key, self.action_key = image_key, state_key, action_key
        self.reward_key = "next.reward" if "next.reward" in ds.features else None
        self.success_key = "next.success" if "next.success" in ds.features else None
        optional = [k for k in (state_key, self.reward_key, self.success_key) if k]
        keys = [image_key, action_key] + optional
        self.dir = Path(cache_dir or default_cache_dir()) / _fingerprint(ds, keys)
        if not (self.dir / "done.json").exists():
            self._build_once()
        self._load()

    def _build_once(self) -> None:
        """Build under an exclusive lock: runs started side by side on one dataset (a matched pair
        of trainings) would otherwise write the same temporary folder; the second one waits and
        then reuses the first one's cache."""
        import fcntl

        self.dir.parent.mkdir(parents=True, exist_ok=True)
        with open(self.dir.with_name(self.dir.name + ".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                if not (self.dir / "done.json").exists():
                    self._build()
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    # -- build -------------------------------------------------------------------------------
    def _build(self) -> None:
        ds = self.dataset
        tmp = self.dir.with_name(self.dir.name + ".tmp")
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True)
        cols = ["index", "episode_index", "frame_index", "task_index", self.action_key]
        cols += [k for k in (self.state_key, self.reward_key, self.success_key) if k]
        table = ds.read_columns(cols)
        n = table.num_rows
        # Rows must be in global index order with episodes numbered 0..E-1 and contiguous, or
        # images (placed by dataset_from_index) would silently misalign with actions.
        if not np.array_equal(table.column("index").to_numpy(), np.arange(n)):
            raise WamError(f"dataset {ds.root}: rows are not in 'index' order 0..{n - 1}; rewrite it with LeRobot first")
        ep_col = table.column("episode_index").to_numpy()
        starts_here = np.flatnonzero(np.r_[True, ep_col[1:] != ep_col[:-1]])
        if not np.array_equal(ep_col[starts_here], np.arange(len(starts_here))):
            raise WamError(f"dataset {ds.root}: episodes must be numbered 0..E-1 in file order (filtered datasets are not supported)")
        meta_from = np.asarray(ds.episode_column("dataset_from_index"), dtype=np.int64)
        if not np.array_equal(meta_from, starts_here):
            raise WamError(f"dataset {ds.root} is corrupt: meta/episodes dataset_from_index disagrees with the data files")
        action = np.asarray(table.column(self.action_key).to_pylist(), dtype=np.float32).reshape(n, -1)
        arrays = {
            "episode_index": table.column("episode_index").to_numpy().astype(np.int64),
            "frame_index": table.column("frame_index").to_numpy().astype(np.int64),
            "task_index": table.column("task_index").to_numpy().astype(np.int64),
            "action": action,
        }
        if self.state_key:
            arrays["state"] = np.asarray(table.column(self.state_key).to_pylist(), np.float32).reshape(n, -1)
        if self.reward_key:
            arrays["reward"] = np.asarray(table.column(self.reward_key).to_pylist(), np.float32).reshape(n)
        if self.success_key:
            arrays["success"] = np.asarray(table.column(self.success_key).to_pylist(), bool).reshape(n)
        for name, value in arrays.items():
            if value.dtype.kind == "f" and not np.all(np.isfinite(value)):
                bad = int(np.flatnonzero(~np.isfinite(value).all(axis=-1))[0])
                raise WamError(f"dataset {ds.root} has NaN or inf in '{name}' (first at frame {bad})")
            np.save(tmp / f"{name}.npy", value)
        h, w, c = ds.features[self.image_key]["shape"]
        images = np.lib.format.open_memmap(tmp / "images.npy", mode="w+", dtype=np.uint8, shape=(n, h, w, c))
        for ep, frames in tqdm(ds.iter_images(self.image_key), total=ds.info["total_episodes"], desc="cache", unit="ep"):
            if frames.shape[1:] != (h, w, c):
                raise WamError(f"episode {ep}: images are {frames.shape[1:]}, meta/info.json says {(h, w, c)}")
            start = starts_here[ep]  # validated above against meta/episodes
            images[start : start + len(frames)] = frames
        images.flush()
        del images
        write_json(tmp / "done.json", {"version": CACHE_VERSION, "frames": n, "dataset": str(ds.root)})
        replace_dir(tmp, self.dir)

    def _load(self) -> None:
        d = self.dir
        self.images = np.load(d / "images.npy", mmap_mode="r")
        self.action = np.load(d / "action.npy")
        self.state = np.load(d / "state.npy") if (d / "state.npy").exists() else np.zeros((len(self.action), 0), np.float32)
        self.episode_index = np.load(d / "episode_index.npy")
        self.frame_index = np.load(d / "frame_index.npy")
        self.task_index = np.load(d / "task_index.npy")
        self.reward = np.load(d / "reward.npy") if (d / "reward.npy").exists() else None
        self.success = np.load(d / "success.npy") if (d / "success.npy").exists() else None
        self._returns: dict[float, np.ndarray] = {}
        # Episode bounds per frame (global indices, end exclusive).
        starts = np.flatnonzero(np.r_[True, self.episode_index[1:] != self.episode_index[:-1]])
        ends = np.r_[starts[1:], len(self.episode_index)]
        lengths = ends - starts
        self.ep_start = np.repeat(starts, lengths)
        self.ep_end = np.repeat(ends, lengths)
        self.num_episodes = len(starts)
        action_free = np.asarray(self.dataset.episode_column("wam/action_free", False), dtype=bool)
        self.episode_labelled = ~action_free  # by episode_index
        read_json(d / "done.json", "training cache")

    # -- spec and stats ------------------------------------------------------------------------
    def spec(self) -> DataSpec:
        ds = self.dataset
        return DataSpec(
            image_key=self.image_key,
            image_shape=tuple(self.images.shape[1:]),
            state_key=self.state_key,
            state_dim=self.state.shape[1],
            action_key=self.action_key,
            action_dim=self.action.shape[1],
            fps=ds.fps,
            task_names=tuple(ds.tasks),
        )

    def stats(self, labelled_only: np.ndarray | None = None) -> dict[str, dict[str, np.ndarray]]:
        """Normalisation statistics of state and action (actions from labelled frames only)."""
        mask = np.ones(len(self.action), bool) if labelled_only is None else labelled_only
        out = {}
        for name, x in (("state", self.state), ("action", self.action[mask])):
            if x.shape[1] == 0 or len(x) == 0:
                continue
            out[name] = {"mean": x.mean(0), "std": x.std(0), "min": x.min(0), "max": x.max(0)}
        if self.reward is not None:
            r = self.reward[:, None]
            out["reward"] = {"mean": r.mean(0), "std": r.std(0), "min": r.min(0), "max": r.max(0)}
        if self.success is not None:  # a model that judges success learns it only if the data has it
            out["success"] = {"mean": self.success[:, None].mean(0, dtype=np.float64)}
        return out

    def returns_to_go(self, gamma: float) -> np.ndarray:
        """Discounted return from each frame to the end of its episode, the end treated as
        absorbing (its last reward repeats forever): a success that ends an episode keeps its
        value, and a truncated failure is valued as staying where it stopped."""
        if gamma not in self._returns:
            if self.reward is None:
                raise WamError(f"dataset {self.dataset.root} has no 'next.reward' feature; this model needs rewards")
            out = np.empty_like(self.reward, dtype=np.float64)
            starts = np.unique(self.ep_start)
            for s, e in zip(starts, self.ep_end[starts]):
                g = self.reward[e - 1] / (1.0 - gamma)
                for t in range(e - 1, s - 1, -1):
                    g = self.reward[t] + gamma * g if t < e - 1 else g
                    out[t] = g
            self._returns[gamma] = out.astype(np.float32)
        return self._returns[gamma]

    def __len__(self) -> int:
        return len(self.action)

    # -- windows -------------------------------------------------------------------------------
    def batch(self, indices: np.ndarray, window: WindowSpec, labelled: np.ndarray | None = None) -> dict[str, torch.Tensor]:
        """Windows around frames `indices` (global frame indices). Shapes in the module docstring."""
        idx = np.asarray(indices, dtype=np.int64)
        start, end = self.ep_start[idx], self.ep_end[idx]
        obs_t = idx[:, None] + np.arange(-window.n_obs_steps + 1, 1)[None]  # (B, To)
        obs_is_pad = obs_t < start[:, None]
        obs_t = np.maximum(obs_t, start[:, None])
        act_t = idx[:, None] + np.arange(window.chunk)[None]  # (B, K)
        action_is_pad = act_t >= end[:, None]
        act_t = np.minimum(act_t, end[:, None] - 1)
        flat = obs_t.reshape(-1)
        order = np.argsort(flat, kind="stable")  # sorted reads are far faster on a memmap
        images = np.empty((len(flat),) + self.images.shape[1:], np.uint8)
        images[order] = self.images[flat[order]]
        frame_labelled = self.episode_labelled[self.episode_index[idx]]
        if labelled is not None:
            frame_labelled = frame_labelled & labelled[idx]
        action = self.action[act_t]
        action[~frame_labelled] = 0.0  # withheld labels are never served, so no model can read them
        batch = {
            "image": torch.from_numpy(images.reshape(obs_t.shape + self.images.shape[1:])),
            "state": torch.from_numpy(self.state[obs_t]),
            "obs_is_pad": torch.from_numpy(obs_is_pad),
            "action": torch.from_numpy(action),
            "action_is_pad": torch.from_numpy(action_is_pad),
            "labelled": torch.from_numpy(frame_labelled),
            "task_index": torch.from_numpy(self.task_index[idx]),
        }
        if window.future_offsets:
            fut_t = idx[:, None] + np.asarray(window.future_offsets)[None]
            batch["future_is_pad"] = torch.from_numpy(fut_t >= end[:, None])
            fut_t = np.minimum(fut_t, end[:, None] - 1)
            batch["future_image"] = torch.from_numpy(np.stack([self.images[t] for t in fut_t]))
            batch["future_state"] = torch.from_numpy(self.state[fut_t])
        if window.gamma is not None:
            if self.reward is None:
                raise WamError(f"dataset {self.dataset.root} has no 'next.reward' feature; this model needs rewards")
            batch["reward"] = torch.from_numpy(self.reward[act_t])  # (B, K), clamped like actions
            ret_t = np.minimum(idx[:, None] + np.arange(window.chunk + 1)[None], end[:, None] - 1)
            batch["return_to_go"] = torch.from_numpy(self.returns_to_go(window.gamma)[ret_t])  # (B, K+1)
            if self.success is not None:
                batch["success"] = torch.from_numpy(self.success[act_t])  # (B, K) bool, clamped like rewards
        return batch


def label_mask(cache: TrainingCache, fraction: float = 1.0, per_task: int | None = None, seed: int = 0) -> np.ndarray:
    """Per-frame mask of episodes that keep their action labels, chosen per task, deterministically.

    `fraction` in (0, 1] keeps that share of each task's episodes (at least one); `per_task` keeps
    a fixed number. The rest are treated as action-free video.
    """
    require(0.0 < fraction <= 1.0, f"label fraction must be in (0, 1], got {fraction}")
    require(per_task is None or per_task >= 1, f"labelled episodes per task must be >= 1, got {per_task}")
    ep_task = np.zeros(cache.num_episodes, np.int64)
    ep_task[cache.episode_index] = cache.task_index
    keep = np.zeros(cache.num_episodes, bool)
    rng = np.random.default_rng(seed)
    for task in np.unique(ep_task):
        eps = np.flatnonzero(ep_task == task)
        n = per_task if per_task is not None else max(1, int(round(fraction * len(eps))))
        keep[rng.permutation(eps)[: min(n, len(eps))]] = True
    return keep[cache.episode_index]

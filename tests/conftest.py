"""Shared fixtures: one tiny collected dataset and tiny model settings, built once per session."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest

os.environ.setdefault("MUJOCO_GL", "egl")
warnings.filterwarnings("ignore", message="Constant\\(s\\) may be too high")

# A model small enough to train a few steps in a second or two on CPU.
TINY = {
    "encoder_channels": "8,16",
    "image_features": "32",
    "cond_dim": "32",
    "task_embedding_dim": "8",
    "width": "64",
    "depth": "1",
    "chunk": "4",
    "noise_samples": "2",
    "sampling_steps": "2",
}
TASKS = "reach-v3,drawer-close-v3"


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("WAM_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory) -> Path:
    from wam.data.collect import CollectConfig, collect

    out = tmp_path_factory.mktemp("data") / "tiny"
    collect(CollectConfig(out=out, tasks=TASKS, episodes=3, workers=2))
    return out


def train_config(dataset: Path, out: Path, steps: int = 4, **kw):
    from wam.train.trainer import TrainConfig

    base = dict(
        dataset=dataset,
        out=out,
        steps=steps,
        batch_size=8,
        log_every=1,
        checkpoint_every=1000,
        warmup_steps=2,
        threads=1,
        model_overrides=tuple(f"{k}={v}" for k, v in TINY.items()),
    )
    base.update(kw)
    return TrainConfig(**base)


@pytest.fixture(scope="session")
def tiny_checkpoint(tiny_dataset, tmp_path_factory) -> Path:
    from wam.train.trainer import train

    os.environ.setdefault("WAM_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))
    return train(train_config(tiny_dataset, tmp_path_factory.mktemp("run") / "tiny", steps=5))

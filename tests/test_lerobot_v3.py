"""The LeRobot v3.0 layout: round trips (PNG and video), the format's rules, foreign datasets."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from wam.data.cache import TrainingCache, WindowSpec
from wam.data.lerobot_v3 import (
    DATA_PATH,
    Episode,
    LeRobotDataset,
    image_feature,
    vector_feature,
    write_dataset,
)
from wam.errors import WamError

from conftest import TINY, train_config


def make_episodes(n: int, length: int, image_key: str, action_dim: int, state_dim: int, seed: int = 0):
    """Each frame is a flat grey whose level encodes (episode, frame), so misaligned decoding shows."""
    rng = np.random.default_rng(seed)
    for i in range(n):
        levels = (40 * i + 9 * np.arange(length + i)) % 250
        yield Episode(
            frames={
                image_key: np.broadcast_to(levels[:, None, None, None], (length + i, 32, 32, 3)).astype(np.uint8),
                "observation.state": rng.normal(size=(length + i, state_dim)).astype(np.float32),
                "action": rng.uniform(-1, 1, (length + i, action_dim)).astype(np.float32),
            },
            task=f"task number {i % 2}",
            meta={"seed": i},
        )


def write_synthetic(root: Path, video: bool, image_key="observation.images.wrist", action_dim=7, state_dim=8, fps=30, n=4):
    features = {
        image_key: image_feature(32, 32, video=video),
        "observation.state": vector_feature(state_dim),
        "action": vector_feature(action_dim),
    }
    write_dataset(root, make_episodes(n, 12, image_key, action_dim, state_dim), features, fps, "my_robot")
    return root


@pytest.mark.parametrize("video", [False, True])
def test_round_trip(tmp_path, video):
    root = write_synthetic(tmp_path / "ds", video)
    ds = LeRobotDataset(root)
    expected = list(make_episodes(4, 12, "observation.images.wrist", 7, 8))
    table = ds.read_columns(["action", "observation.state", "episode_index", "frame_index", "index"])
    actions = np.asarray(table.column("action").to_pylist(), np.float32)
    np.testing.assert_array_equal(actions, np.concatenate([e.frames["action"] for e in expected]))
    assert table.column("index").to_pylist() == list(range(len(actions)))
    for ep, frames in ds.iter_images("observation.images.wrist"):
        original = expected[ep].frames["observation.images.wrist"]
        assert frames.shape == original.shape
        if video:  # lossy, but every frame must be the right one
            np.testing.assert_allclose(frames.mean(axis=(1, 2, 3)), original.mean(axis=(1, 2, 3)), atol=3)
        else:
            np.testing.assert_array_equal(frames, original)  # PNG is lossless
    assert ds.tasks == ["task number 0", "task number 1"]
    assert not root.with_name("ds.tmp").exists()


def test_layout_follows_the_v3_rules(tmp_path):
    root = write_synthetic(tmp_path / "ds", video=True)
    info = json.loads((root / "meta/info.json").read_text())
    assert info["codebase_version"] == "v3.0"
    for key in ("fps", "features", "total_episodes", "total_frames", "total_tasks", "data_path", "video_path", "chunks_size", "splits"):
        assert key in info
    for key in ("timestamp", "frame_index", "episode_index", "index", "task_index"):
        assert info["features"][key]["dtype"] in ("int64", "float32")
    assert info["fps"] == 30 and info["total_episodes"] == 4
    assert (root / DATA_PATH.format(chunk_index=0, file_index=0)).is_file()
    assert (root / "videos/observation.images.wrist/chunk-000/file-000.mp4").is_file()
    episodes = pq.read_table(root / "meta/episodes/chunk-000/file-000.parquet").to_pylist()
    total = 0
    for row in episodes:
        assert row["dataset_from_index"] == total
        total += row["length"]
        assert row["dataset_to_index"] == total
        assert row["tasks"] and isinstance(row["tasks"][0], str)
        span = row["videos/observation.images.wrist/to_timestamp"] - row["videos/observation.images.wrist/from_timestamp"]
        assert span == pytest.approx(row["length"] / 30)
    assert total == info["total_frames"]
    data = pq.read_table(root / DATA_PATH.format(chunk_index=0, file_index=0))
    ts = np.asarray(data.column("timestamp").to_pylist())
    fi = np.asarray(data.column("frame_index").to_pylist())
    np.testing.assert_allclose(ts, fi / 30, atol=1e-6)
    stats = json.loads((root / "meta/stats.json").read_text())
    assert np.asarray(stats["observation.images.wrist"]["mean"]).shape == (3, 1, 1)
    assert len(stats["action"]["mean"]) == 7
    import pandas as pd

    tasks = pd.read_parquet(root / "meta/tasks.parquet")
    assert list(tasks.index) == ["task number 0", "task number 1"]
    assert list(tasks["task_index"]) == [0, 1]


def test_collected_dataset_metadata(tiny_dataset):
    ds = LeRobotDataset(tiny_dataset)
    extra = ds.extra_info
    assert set(extra["per_task"]) == {"reach-v3", "drawer-close-v3"}
    for task, v in extra["per_task"].items():
        assert v["kept"] == 3 and 0 < v["expert_success_rate"] <= 1
        assert "rejected_seeds" in v and "success_at_reset_seeds" in v
    flags, lengths = ds.episode_column("wam/success_at_reset"), ds.episode_column("length")
    assert flags == [n == 1 for n in lengths]  # observable: success after the first step
    seeds = ds.episode_column("wam/seed")
    assert all(s < 1_000_000 for s in seeds)  # the 'train' split only
    assert ds.features["observation.image"]["shape"] == [64, 64, 3]
    for _, frames in ds.iter_images("observation.image"):
        assert frames.max() > 0


def test_foreign_dataset_trains(tmp_path):
    """Any LeRobot v3 dataset: another camera key, 7-d actions, 8-d state, 30 fps, video."""
    from wam.train.trainer import train

    root = write_synthetic(tmp_path / "foreign", video=True)
    cache = TrainingCache(root)
    spec = cache.spec()
    assert spec.image_key == "observation.images.wrist" and spec.action_dim == 7 and spec.state_dim == 8 and spec.fps == 30
    final = train(train_config(root, tmp_path / "run", steps=3))
    meta = json.loads((final / "config.json").read_text())
    assert meta["data_spec"]["action_dim"] == 7


def test_cache_windows(tiny_dataset):
    cache = TrainingCache(tiny_dataset)
    start = int(cache.ep_start[0])
    end = int(cache.ep_end[0])
    b = cache.batch(np.array([start, end - 1]), WindowSpec(n_obs_steps=2, chunk=4, future_offsets=(1, 3)))
    assert b["image"].shape == (2, 2, 64, 64, 3)
    assert b["obs_is_pad"][0].tolist() == [True, False]  # first frame: history clamped
    assert b["action_is_pad"][1].tolist() == [False, True, True, True]  # last frame: chunk padded
    assert b["future_is_pad"][1].tolist() == [True, True]
    np.testing.assert_array_equal(b["image"][0, 0].numpy(), b["image"][0, 1].numpy())
    # Served values are the dataset's rows; padding repeats the episode's last action.
    table = cache.dataset.read_columns(["action"])
    actions = np.asarray(table.column("action").to_pylist(), np.float32)
    np.testing.assert_array_equal(b["action"][0].numpy(), actions[start : start + 4])
    np.testing.assert_array_equal(b["action"][1].numpy(), np.repeat(actions[end - 1 : end], 4, axis=0))
    frames = next(cache.dataset.iter_images("observation.image"))[1]
    np.testing.assert_array_equal(b["image"][1, 1].numpy(), frames[end - 1 - start])


def test_corrupt_and_missing_datasets(tmp_path):
    with pytest.raises(WamError, match="dataset not found"):
        LeRobotDataset(tmp_path / "nope")
    root = write_synthetic(tmp_path / "ds", video=False)
    (root / "meta/info.json").write_text("{not json")
    with pytest.raises(WamError, match="corrupt"):
        LeRobotDataset(root)
    root = write_synthetic(tmp_path / "ds2", video=False)
    (root / DATA_PATH.format(chunk_index=0, file_index=0)).write_bytes(b"garbage")
    with pytest.raises(WamError, match="corrupt"):
        LeRobotDataset(root).read_columns(["action"])
    info = json.loads((root / "meta/info.json").read_text())
    info["codebase_version"] = "v2.1"
    (root / "meta/info.json").write_text(json.dumps(info))
    with pytest.raises(WamError, match="v2.1"):
        LeRobotDataset(root)


def test_nan_is_refused(tmp_path):
    features = {"observation.image": image_feature(8, 8, False), "action": vector_feature(2)}
    ep = Episode({"observation.image": np.ones((3, 8, 8, 3), np.uint8), "action": np.array([[0, 1], [np.nan, 0], [0, 0]], np.float32)}, "t")
    with pytest.raises(WamError, match="NaN"):
        write_dataset(tmp_path / "bad", [ep], features, 10)
    assert not (tmp_path / "bad").exists() and not (tmp_path / "bad.tmp").exists()


def test_runs_started_side_by_side_build_the_cache_once(tiny_dataset, tmp_path):
    """Two trainings started together on one dataset (a matched pair) must not write the same
    temporary cache folder: the second waits on the build lock, then reuses the first's cache."""
    import fcntl
    import threading

    first = TrainingCache(tiny_dataset, cache_dir=tmp_path / "a")  # where the lock for this dataset lives
    lock_path = first.dir.parent / (first.dir.name + ".lock")
    second_dir = tmp_path / "b"
    second_dir.mkdir()
    built: list[TrainingCache] = []
    with open(second_dir / lock_path.name, "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # another run is building this cache
        waiter = threading.Thread(target=lambda: built.append(TrainingCache(tiny_dataset, cache_dir=second_dir)))
        waiter.start()
        waiter.join(timeout=2.0)
        assert waiter.is_alive() and not (second_dir / first.dir.name).exists()  # waits; writes nothing
        fcntl.flock(held, fcntl.LOCK_UN)
    waiter.join()
    assert len(built) == 1 and len(built[0]) == len(first)
    np.testing.assert_array_equal(built[0].action, first.action)

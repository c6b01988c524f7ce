"""The LeRobot v3.0 dataset layout, written and read with pyarrow (and PyAV for video).

    root/
      meta/info.json                 features, fps, codebase_version "v3.0", path templates
      meta/stats.json                per-feature min/max/mean/std/count (+ quantiles)
      meta/tasks.parquet             task string (index) -> task_index
      meta/episodes/chunk-000/file-000.parquet   one row per episode: length, file indices,
                                                 dataset_from_index/to_index, video timestamps
      data/chunk-000/file-000.parquet            one row per frame, many episodes per file
      videos/<key>/chunk-000/file-000.mp4        (video features) many episodes per file

The `lerobot` package cannot be installed beside our pinned CPU torch, so this module follows the
format's rules directly; `tests/test_lerobot_v3.py` checks them. Images are stored as PNG bytes in
the parquet file (dtype "image", the HF `datasets.Image` struct {bytes, path}) or as mp4 video
(dtype "video"). Extra, wam-specific episode columns live under the `wam/` prefix.
"""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

from wam.data.io import read_json, replace_dir, write_json
from wam.data.video import Mp4Writer, iter_mp4
from wam.errors import WamError

CODEBASE_VERSION = "v3.0"
CHUNKS_SIZE = 1000  # files per chunk folder
DATA_FILE_SIZE_MB = 100
VIDEO_FILE_SIZE_MB = 500
VIDEO_FILE_MAX_FRAMES = 20_000  # roll data+video files together; bounds decode work per file
DATA_PATH = "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
VIDEO_PATH = "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
EPISODES_PATH = "meta/episodes/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
DEFAULT_FEATURES = {
    "timestamp": {"dtype": "float32", "shape": [1], "names": None},
    "frame_index": {"dtype": "int64", "shape": [1], "names": None},
    "episode_index": {"dtype": "int64", "shape": [1], "names": None},
    "index": {"dtype": "int64", "shape": [1], "names": None},
    "task_index": {"dtype": "int64", "shape": [1], "names": None},
}
VISUAL_DTYPES = ("image", "video")
QUANTILES = (0.01, 0.10, 0.50, 0.90, 0.99)


@dataclass
class Episode:
    """One episode to write: per-frame arrays keyed by feature name, all of length T."""

    frames: dict[str, np.ndarray]
    task: str  # the natural-language task string (LeRobot's `task`)
    meta: dict[str, Any] = field(default_factory=dict)  # episode-level extras, stored as wam/<key>

    @property
    def length(self) -> int:
        return len(next(iter(self.frames.values())))


def image_feature(height: int, width: int, video: bool) -> dict:
    return {
        "dtype": "video" if video else "image",
        "shape": [height, width, 3],
        "names": ["height", "width", "channels"],
    }


def vector_feature(dim: int, names: list[str] | None = None, dtype: str = "float32") -> dict:
    return {"dtype": dtype, "shape": [dim], "names": names}


# ------------------------------------------------------------------------------------------
# Writing
# ------------------------------------------------------------------------------------------
def _png_bytes(image: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def _arrow_column(values: np.ndarray, feature: dict) -> pa.Array:
    dtype = feature["dtype"]
    if dtype == "image":
        structs = [{"bytes": _png_bytes(v), "path": None} for v in values]
        return pa.array(structs, type=pa.struct([("bytes", pa.binary()), ("path", pa.string())]))
    arrow_type = {"float32": pa.float32(), "float64": pa.float64(), "int64": pa.int64(), "bool": pa.bool_()}[
        dtype
    ]
    values = np.asarray(values)
    if list(feature["shape"]) == [1]:
        return pa.array(values.reshape(-1), type=arrow_type)
    flat = pa.array(values.reshape(-1), type=arrow_type)
    return pa.FixedSizeListArray.from_arrays(flat, int(np.prod(feature["shape"])))


class _StatsAccumulator:
    """Streaming per-feature statistics, with a bounded sample for quantiles and image stats."""

    def __init__(self, features: dict, max_sample: int = 20_000, seed: int = 0):
        self.features = features
        self.samples: dict[str, list[np.ndarray]] = {k: [] for k in features}
        self.max_sample = max_sample
        self.rng = np.random.default_rng(seed)
        self.count = 0

    def add(self, frames: dict[str, np.ndarray]) -> None:
        n = len(next(iter(frames.values())))
        self.count += n
        for key, feature in self.features.items():
            values = np.asarray(frames[key])
            if feature["dtype"] in VISUAL_DTYPES:  # keep a few frames per episode, per-channel in [0, 1]
                pick = self.rng.choice(n, size=min(n, 8), replace=False)
                values = values[pick].reshape(-1, 3).astype(np.float32) / 255.0
            self.samples[key].append(values.reshape(len(values), -1).astype(np.float64))

    def result(self) -> dict[str, dict[str, list]]:
        stats = {}
        for key, feature in self.features.items():
            x = np.concatenate(self.samples[key])
            entry = {
                "min": x.min(0),
                "max": x.max(0),
                "mean": x.mean(0),
                "std": x.std(0),
                "count": np.array([self.count]),
            }
            for q in QUANTILES:
                entry[f"q{int(round(q * 100)):02d}"] = np.quantile(x, q, axis=0)
            if feature["dtype"] in VISUAL_DTYPES:  # LeRobot stores image stats as (C, 1, 1)
                entry = {k: (v.reshape(3, 1, 1) if k != "count" else v) for k, v in entry.items()}
            stats[key] = {k: np.asarray(v).tolist() for k, v in entry.items()}
        return stats


def write_dataset(root: str | Path, *args, **kwargs) -> Path:
    """Write episodes as a LeRobot v3.0 dataset at `root`, atomically.

    Everything is written into `root.tmp` and renamed onto `root` at the end, so an interrupted
    or failed write never leaves a half dataset behind (the temporary folder is removed on error).
    See `_write_dataset` for the arguments.
    """
    tmp = Path(root).with_name(Path(root).name + ".tmp")
    try:
        return _write_dataset(root, *args, **kwargs)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _write_dataset(
    root: str | Path,
    episodes: Iterable[Episode],
    features: dict[str, dict],
    fps: int,
    robot_type: str = "unknown",
    extra_info: dict | None = None,
    data_file_size_mb: float = DATA_FILE_SIZE_MB,
) -> Path:
    """`features` maps each per-frame key of the episodes
    to its LeRobot feature spec; the default features (index, timestamp, ...) are added here.
    """
    root = Path(root)
    tmp = root.with_name(root.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    (tmp / "meta").mkdir(parents=True)
    all_features = {**features, **DEFAULT_FEATURES}
    video_keys = [k for k, f in features.items() if f["dtype"] == "video"]
    stats = _StatsAccumulator(features)
    tasks: dict[str, int] = {}
    episode_rows: list[dict] = []
    file_state = {"chunk": 0, "file": 0, "tables": [], "bytes": 0}
    video_writers: dict[str, Mp4Writer] = {}

    def open_videos() -> None:
        for key in video_keys:
            path = tmp / VIDEO_PATH.format(video_key=key, chunk_index=file_state["chunk"], file_index=file_state["file"])
            path.parent.mkdir(parents=True, exist_ok=True)
            h, w = features[key]["shape"][:2]
            video_writers[key] = Mp4Writer(path, fps, w, h)

    def flush_file() -> None:
        if not file_state["tables"]:
            return
        path = tmp / DATA_PATH.format(chunk_index=file_state["chunk"], file_index=file_state["file"])
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.concat_tables(file_state["tables"]), path)
        for writer in video_writers.values():
            writer.close()
        video_writers.clear()
        file_state["tables"], file_state["bytes"] = [], 0
        file_state["file"] += 1
        if file_state["file"] == CHUNKS_SIZE:
            file_state["chunk"], file_state["file"] = file_state["chunk"] + 1, 0

    total_frames = 0
    for ep_index, ep in enumerate(episodes):
        missing = set(features) - set(ep.frames)
        if missing:
            raise WamError(f"episode {ep_index} lacks features {sorted(missing)}")
        length = ep.length
        for key, values in ep.frames.items():
            if key in features and len(values) != length:
                raise WamError(f"episode {ep_index}: feature '{key}' has {len(values)} frames, expected {length}")
            if key in features and features[key]["dtype"] not in VISUAL_DTYPES:
                if not np.all(np.isfinite(np.asarray(values, dtype=np.float64))):
                    raise WamError(f"episode {ep_index}: feature '{key}' contains NaN or inf")
        task_index = tasks.setdefault(ep.task, len(tasks))
        if not video_writers and video_keys:
            open_videos()
        video_from = {k: video_writers[k].frames_written / fps for k in video_keys}
        columns = {}
        for key, feature in features.items():
            if feature["dtype"] == "video":
                for frame in ep.frames[key]:
                    video_writers[key].write(frame)
            else:
                columns[key] = _arrow_column(ep.frames[key], feature)
        frame_index = np.arange(length)
        columns["timestamp"] = pa.array((frame_index / fps).astype(np.float32))
        columns["frame_index"] = pa.array(frame_index.astype(np.int64))
        columns["episode_index"] = pa.array(np.full(length, ep_index, dtype=np.int64))
        columns["index"] = pa.array(np.arange(total_frames, total_frames + length, dtype=np.int64))
        columns["task_index"] = pa.array(np.full(length, task_index, dtype=np.int64))
        table = pa.table(columns)
        row = {
            "episode_index": ep_index,
            "tasks": [ep.task],
            "length": length,
            "data/chunk_index": file_state["chunk"],
            "data/file_index": file_state["file"],
            "dataset_from_index": total_frames,
            "dataset_to_index": total_frames + length,
            "meta/episodes/chunk_index": 0,
            "meta/episodes/file_index": 0,
        }
        for key in video_keys:
            row[f"videos/{key}/chunk_index"] = file_state["chunk"]
            row[f"videos/{key}/file_index"] = file_state["file"]
            row[f"videos/{key}/from_timestamp"] = video_from[key]
            row[f"videos/{key}/to_timestamp"] = video_from[key] + length / fps
        for key, value in ep.meta.items():
            row[f"wam/{key}"] = value
        episode_rows.append(row)
        stats.add(ep.frames)
        file_state["tables"].append(table)
        file_state["bytes"] += table.nbytes
        total_frames += length
        video_frames = max((w.frames_written for w in video_writers.values()), default=0)
        if file_state["bytes"] > data_file_size_mb * 2**20 or video_frames >= VIDEO_FILE_MAX_FRAMES:
            flush_file()
    flush_file()
    if not episode_rows:
        raise WamError("no episodes to write")

    episodes_path = tmp / EPISODES_PATH.format(chunk_index=0, file_index=0)
    episodes_path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(episode_rows), episodes_path)
    tasks_table = pa.table(
        {"task_index": pa.array(list(tasks.values()), pa.int64()), "__index_level_0__": list(tasks)}
    )
    # pandas-style index column, so `pd.read_parquet` gives the task strings as the index (LeRobot's shape)
    tasks_table = tasks_table.replace_schema_metadata(
        {
            b"pandas": (
                b'{"index_columns": ["__index_level_0__"], "column_indexes": [], "columns": ['
                b'{"name": "task_index", "field_name": "task_index", "pandas_type": "int64", "numpy_type": "int64", "metadata": null},'
                b'{"name": null, "field_name": "__index_level_0__", "pandas_type": "unicode", "numpy_type": "object", "metadata": null}'
                b'], "pandas_version": "2.2.0"}'
            )
        }
    )
    pq.write_table(tasks_table, tmp / "meta" / "tasks.parquet")
    info = {
        "codebase_version": CODEBASE_VERSION,
        "robot_type": robot_type,
        "total_episodes": len(episode_rows),
        "total_frames": total_frames,
        "total_tasks": len(tasks),
        "chunks_size": CHUNKS_SIZE,
        "data_files_size_in_mb": DATA_FILE_SIZE_MB,
        "video_files_size_in_mb": VIDEO_FILE_SIZE_MB,
        "fps": fps,
        "splits": {"train": f"0:{len(episode_rows)}"},
        "data_path": DATA_PATH,
        "video_path": VIDEO_PATH if video_keys else None,
        "features": all_features,
    }
    if extra_info:
        info["wam"] = extra_info
    write_json(tmp / "meta" / "info.json", info)
    write_json(tmp / "meta" / "stats.json", stats.result())
    replace_dir(tmp, root)
    return root


# ------------------------------------------------------------------------------------------
# Reading
# ------------------------------------------------------------------------------------------
class LeRobotDataset:
    """Read-only view of any LeRobot v3.x dataset on disk (ours or a user's own)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        if not self.root.is_dir():
            raise WamError(f"dataset not found: {self.root}")
        info_path = self.root / "meta" / "info.json"
        if not info_path.is_file():
            raise WamError(f"not a LeRobot dataset (missing meta/info.json): {self.root}")
        self.info = read_json(info_path, "dataset info")
        version = str(self.info.get("codebase_version", "?"))
        if not version.startswith("v3."):
            raise WamError(
                f"dataset {self.root} has codebase_version {version}; wam reads LeRobot v3.x "
                "(convert v2.1 datasets with LeRobot's convert_dataset_v21_to_v30 first)"
            )
        for key in ("features", "fps", "total_episodes", "total_frames"):
            if key not in self.info:
                raise WamError(f"dataset info is corrupt: meta/info.json lacks '{key}' ({self.root})")
        self.features: dict[str, dict] = self.info["features"]
        self.fps = int(self.info["fps"])
        self.episodes = self._read_parquet_dir(self.root / "meta" / "episodes", "episode metadata")
        if self.episodes.num_rows != self.info["total_episodes"]:
            raise WamError(
                f"dataset is corrupt: meta/info.json says {self.info['total_episodes']} episodes, "
                f"meta/episodes holds {self.episodes.num_rows} ({self.root})"
            )
        self.tasks = self._read_tasks()

    # -- metadata ----------------------------------------------------------------------------
    @property
    def visual_keys(self) -> list[str]:
        return [k for k, f in self.features.items() if f["dtype"] in VISUAL_DTYPES]

    @property
    def stats(self) -> dict:
        return read_json(self.root / "meta" / "stats.json", "dataset stats")

    @property
    def extra_info(self) -> dict:
        return self.info.get("wam", {})

    def episode_column(self, name: str, default: Any = None) -> list:
        if name in self.episodes.column_names:
            return self.episodes.column(name).to_pylist()
        return [default] * self.episodes.num_rows

    def _read_tasks(self) -> list[str]:
        path = self.root / "meta" / "tasks.parquet"
        if not path.is_file():
            raise WamError(f"dataset is corrupt: missing meta/tasks.parquet ({self.root})")
        table = self._read_parquet(path, "task table")
        index_col = next((c for c in table.column_names if c != "task_index"), None)
        if "task_index" not in table.column_names or index_col is None:
            raise WamError(f"dataset is corrupt: meta/tasks.parquet lacks task strings ({self.root})")
        tasks = [""] * table.num_rows
        for text, idx in zip(table.column(index_col).to_pylist(), table.column("task_index").to_pylist()):
            tasks[idx] = text
        return tasks

    # -- frames ------------------------------------------------------------------------------
    @staticmethod
    def _read_parquet(path: Path, what: str, columns: list[str] | None = None) -> pa.Table:
        try:
            return pq.read_table(path, columns=columns)
        except (pa.ArrowInvalid, OSError) as e:
            raise WamError(f"{what} is corrupt or unreadable: {path}: {e}") from None

    def _read_parquet_dir(self, folder: Path, what: str, columns: list[str] | None = None) -> pa.Table:
        paths = sorted(folder.glob("chunk-*/file-*.parquet"))
        if not paths:
            raise WamError(f"dataset is corrupt: no parquet files under {folder}")
        return pa.concat_tables([self._read_parquet(p, what, columns) for p in paths])

    def data_files(self) -> list[Path]:
        return sorted((self.root / "data").glob("chunk-*/file-*.parquet"))

    def read_columns(self, columns: list[str]) -> pa.Table:
        """Non-visual columns of every frame, in global index order."""
        missing = [c for c in columns if c not in self.features]
        if missing:
            raise WamError(f"dataset {self.root} has no feature(s) {missing}; it has {sorted(self.features)}")
        table = self._read_parquet_dir(self.root / "data", "data file", columns)
        if table.num_rows != self.info["total_frames"]:
            raise WamError(
                f"dataset is corrupt: meta/info.json says {self.info['total_frames']} frames, "
                f"data files hold {table.num_rows} ({self.root})"
            )
        return table

    def iter_images(self, key: str) -> Iterator[tuple[int, np.ndarray]]:
        """(episode_index, uint8 (T, H, W, 3)) for every episode, decoding PNG bytes or mp4."""
        feature = self.features[key]
        if feature["dtype"] == "image":
            for path in self.data_files():
                table = self._read_parquet(path, "data file", [key, "episode_index"])
                ep_idx = table.column("episode_index").to_numpy()
                images = table.column(key).to_pylist()
                for ep in np.unique(ep_idx):
                    rows = np.flatnonzero(ep_idx == ep)
                    yield int(ep), np.stack([_decode_png(images[r]) for r in rows])
            return
        # Episodes sharing a video file are decoded in one sequential pass, one frame at a time.
        by_file: dict[Path, list[dict]] = {}
        for row in self.episodes.to_pylist():
            path = self.root / self.info["video_path"].format(
                video_key=key,
                chunk_index=row[f"videos/{key}/chunk_index"],
                file_index=row[f"videos/{key}/file_index"],
            )
            by_file.setdefault(path, []).append(row)
        for path, rows in by_file.items():
            rows.sort(key=lambda r: r[f"videos/{key}/from_timestamp"])
            frames = iter_mp4(path)
            position = 0
            for row in rows:
                start = int(round(row[f"videos/{key}/from_timestamp"] * self.fps))
                clip = []
                for frame in frames:
                    position += 1
                    if position - 1 >= start:
                        clip.append(frame)
                    if len(clip) == row["length"]:
                        break
                if len(clip) != row["length"]:
                    raise WamError(
                        f"video {path} holds too few frames for episode {row['episode_index']} "
                        f"({len(clip)} of {row['length']})"
                    )
                yield int(row["episode_index"]), np.stack(clip)


def _decode_png(cell: dict | None) -> np.ndarray:
    if cell is None or cell.get("bytes") is None:
        raise WamError("dataset image cell is empty (images stored by path are not supported)")
    try:
        return np.asarray(Image.open(io.BytesIO(cell["bytes"])).convert("RGB"))
    except OSError as e:
        raise WamError(f"dataset image is corrupt: {e}") from None

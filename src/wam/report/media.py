"""Rollout media: mp4 videos and frame strips (PNG) that the HTML report embeds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from wam.data.io import atomic_path
from wam.data.video import write_mp4


def upscale(frame: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour upscaling: 64 px frames are unreadable in a browser at native size."""
    return np.repeat(np.repeat(frame, factor, axis=0), factor, axis=1)


def frame_strip(frames: list[np.ndarray], count: int = 8, height: int = 128) -> np.ndarray:
    idx = np.linspace(0, len(frames) - 1, min(count, len(frames))).round().astype(int)
    factor = max(1, height // frames[0].shape[0])
    return np.concatenate([upscale(frames[i], factor) for i in idx], axis=1)


def save_rollout_media(frames: list[np.ndarray], folder: Path, name: str, fps: int) -> dict[str, str]:
    """Write <name>.mp4 (4x upscaled) and <name>.png (a strip of 8 frames); return their names."""
    folder.mkdir(parents=True, exist_ok=True)
    factor = max(1, 256 // frames[0].shape[0])
    write_mp4(folder / f"{name}.mp4", [upscale(f, factor) for f in frames], fps=fps)
    with atomic_path(folder / f"{name}.png") as tmp:
        Image.fromarray(frame_strip(frames)).save(tmp, format="PNG")
    return {"mp4": f"videos/{name}.mp4", "strip": f"videos/{name}.png"}

"""mp4 encode/decode with PyAV (dataset videos and rollout videos)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from wam.data.io import atomic_path
from wam.errors import WamError


class Mp4Writer:
    """Append uint8 (H, W, 3) frames to an H.264 mp4 (plays in every browser)."""

    def __init__(self, path: Path, fps: int, width: int, height: int, crf: int = 18):
        if width % 2 or height % 2:  # yuv420p needs even sizes
            raise WamError(f"mp4 video needs even frame sizes, got {width}x{height}")
        self.container = av.open(str(path), mode="w", format="mp4")
        self.stream = self.container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1000))
        self.stream.width, self.stream.height = width, height
        self.stream.pix_fmt = "yuv420p"
        # g=2: a key frame every 2 frames keeps random access cheap (LeRobot's choice).
        self.stream.options = {"crf": str(crf), "g": "2", "preset": "veryfast"}
        self.frames_written = 0

    def write(self, frame: np.ndarray) -> None:
        video_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
        for packet in self.stream.encode(video_frame):
            self.container.mux(packet)
        self.frames_written += 1

    def close(self) -> None:
        for packet in self.stream.encode():
            self.container.mux(packet)
        self.container.close()


def write_mp4(path: str | Path, frames: np.ndarray | list[np.ndarray], fps: int) -> Path:
    """Write a whole clip atomically."""
    path = Path(path)
    frames = [np.asarray(f) for f in frames]
    if not frames:
        raise WamError(f"no frames to write to {path}")
    h, w = frames[0].shape[:2]
    with atomic_path(path.with_suffix(".mp4")) as tmp:
        writer = Mp4Writer(tmp, fps, w + (w % 2), h + (h % 2))
        for f in frames:
            if f.shape[0] % 2 or f.shape[1] % 2:
                f = np.pad(f, ((0, f.shape[0] % 2), (0, f.shape[1] % 2), (0, 0)), mode="edge")
            writer.write(f)
        writer.close()
    return path.with_suffix(".mp4")


def iter_mp4(path: str | Path):
    """Decode an mp4 frame by frame (uint8 (H, W, 3)); memory stays at one frame."""
    path = Path(path)
    if not path.is_file():
        raise WamError(f"video file not found: {path}")
    try:
        with av.open(str(path)) as container:
            for frame in container.decode(video=0):
                yield frame.to_ndarray(format="rgb24")
    except av.error.FFmpegError as e:
        raise WamError(f"video file is corrupt: {path}: {e}") from None

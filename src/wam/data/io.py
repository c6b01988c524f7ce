"""Small file helpers: every file wam writes appears whole or not at all."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def atomic_path(path: str | Path):
    """Yield a temporary path beside `path`; rename it onto `path` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600 files; results must stay readable
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: str | Path, data: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")


def read_json(path: str | Path, what: str = "file") -> Any:
    from wam.errors import WamError

    path = Path(path)
    if not path.is_file():
        raise WamError(f"{what} not found: {path}")
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise WamError(f"{what} is corrupt (not valid JSON): {path}: {e}") from None


def remove_owned_dir(path: Path, markers: tuple[str, ...], what: str) -> None:
    """Delete `path` for --overwrite, but only if it holds one of wam's marker files.

    A mistyped --out must never wipe an unrelated folder.
    """
    from wam.errors import WamError

    path = Path(path)
    if not path.exists():
        return
    if not path.is_dir() or not any((path / m).exists() for m in markers):
        raise WamError(f"refusing to overwrite {path}: it does not look like a {what} written by wam")
    shutil.rmtree(path)


def replace_dir(tmp_dir: Path, final_dir: Path) -> None:
    """Move a fully written directory into place (the old one, if any, is removed first)."""
    if final_dir.exists():
        shutil.rmtree(final_dir)
    os.replace(tmp_dir, final_dir)

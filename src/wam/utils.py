"""Process-level helpers shared by the collection, training and evaluation entry points."""

from __future__ import annotations

import os
import platform
from importlib import metadata


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in ("wam", "torch", "metaworld", "mujoco", "gymnasium", "numpy"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "missing"
    return out


def machine_description() -> str:
    return f"{platform.machine()}, {os.cpu_count()} CPU cores, {platform.system()} {platform.release()}"


def limit_threads(n: int) -> None:
    """Pin BLAS/OpenMP/torch threads (worker processes use 1, so N workers share N cores)."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "LP_NUM_THREADS"):
        os.environ[var] = str(n)
    import torch

    torch.set_num_threads(n)


def worker_init(threads: int = 1) -> None:
    """Initialiser for spawned worker processes: headless GL and one thread each."""
    os.environ.setdefault("MUJOCO_GL", "egl")
    limit_threads(threads)
    import warnings

    warnings.filterwarnings("ignore", message="Constant\\(s\\) may be too high")


def peak_rss_mib() -> float:
    """This process's peak resident memory so far, in MiB (ru_maxrss is KiB on Linux)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def command_line(program: str, cfg) -> str:
    """The command that reproduces a run of `program` from its dataclass config: every field that
    differs from its default, as the typed CLI spells it (recorded in result JSON files)."""
    import dataclasses

    parts = [program]
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        default = f.default if f.default is not dataclasses.MISSING else None
        if isinstance(value, tuple) and f.name.endswith("overrides"):
            parts += [f"--{f.name.replace('_', '-')} {v}" for v in value]
        elif value != default:
            parts.append(f"--{f.name.replace('_', '-')} {value}")
    return " ".join(parts)

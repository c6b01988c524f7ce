"""Process-level helpers shared by the collection, training and evaluation entry points."""

from __future__ import annotations

import os
import platform
from importlib import metadata
from pathlib import Path


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in ("wam", "torch", "metaworld", "mujoco", "gymnasium", "numpy"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "missing"
    return out


def cpu_model() -> str:
    """The processor's marketing name ('AMD EPYC 9B14', 'Intel(R) Xeon(R) ...'), '' where the OS does
    not say: wall-clock budgets buy different step counts on different CPUs, so results name it."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def machine_description() -> str:
    cpu = cpu_model()
    return f"{platform.machine()}{', ' + cpu if cpu else ''}, {os.cpu_count()} CPU cores, {platform.system()} {platform.release()}"


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


def cli_args(cfg) -> list[str]:
    """A dataclass config as the typed CLI's arguments: every field that differs from its default."""
    import dataclasses

    args = []
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        default = f.default if f.default is not dataclasses.MISSING else None
        flag = f"--{f.name.replace('_', '-')}"
        if isinstance(value, tuple) and f.name.endswith("overrides"):
            for v in value:
                args += [flag, str(v)]
        elif value != default:
            args += [flag, str(value)]
    return args


def command_line(program: str, cfg) -> str:
    """The command that reproduces a run of `program` from its dataclass config (recorded in
    result JSON files)."""
    return " ".join([program, *cli_args(cfg)])

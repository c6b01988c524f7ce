"""`wam doctor`: is this machine ready? Rendering backend, pinned versions, a real frame."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass

from wam.errors import WamError
from wam.utils import package_versions

PINS = {"torch": "2.13.0", "metaworld": "3.1.1", "mujoco": "3.3.0"}
DEBIAN = {"egl": "libegl1 libegl-mesa0 libgl1-mesa-dri", "osmesa": "libosmesa6"}

_PROBE = r"""
import warnings; warnings.filterwarnings("ignore")
from wam.envs.metaworld import MetaWorldEnv
env = MetaWorldEnv("reach-v3")
obs, _ = env.reset(seed=0)
img = obs["image"]
print(int(img.max()), float(img.mean()), float(img[:16].mean()), float(img[-16:].mean()))
env.close()
"""


@dataclass
class DoctorConfig:
    """Check the rendering backend, pinned versions and that frames are real."""

    backend: str = ""
    """check only this MuJoCo GL backend (egl or osmesa); default: try egl, then osmesa"""


def probe_backend(backend: str) -> tuple[bool, str]:
    env = {**os.environ, "MUJOCO_GL": backend, "PYOPENGL_PLATFORM": backend}
    try:
        out = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        return False, "timed out rendering a frame"
    if out.returncode != 0:
        last = [line for line in out.stderr.strip().splitlines() if line.strip()]
        return False, last[-1] if last else f"exit code {out.returncode}"
    peak, mean, top, bottom = (float(x) for x in out.stdout.split()[-4:])
    if peak == 0:
        return False, "rendered an all-black frame"
    # Upright check: the top of the corner2 view is the grey wall, brighter than the dark floor.
    orientation = "upright" if top > bottom else "possibly upside down"
    return True, f"frame ok (mean {mean:.0f}/255, {orientation})"


def doctor_main(cfg: DoctorConfig) -> None:
    problems = []
    versions = package_versions()
    print("versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    for name, pin in PINS.items():
        if versions.get(name) is None or not versions[name].startswith(pin):
            problems.append(f"{name} is {versions.get(name)}, wam is tested with {name}=={pin} (run scripts/setup.sh)")
    backends = [cfg.backend] if cfg.backend else ["egl", "osmesa"]
    working = None
    for backend in backends:
        ok, message = probe_backend(backend)
        print(f"MUJOCO_GL={backend}: {'OK' if ok else 'FAILED'}: {message}")
        if ok:
            working = backend
            break
        print(f"  fix: apt-get install -y {DEBIAN.get(backend, '')}")
    if working is None:
        problems.append("no headless rendering backend works; install the Debian packages above")
    elif working != os.environ.get("MUJOCO_GL", "egl"):
        print(f"  use it: export MUJOCO_GL={working}")
    if problems:
        raise WamError("; ".join(problems))
    print("all checks passed")

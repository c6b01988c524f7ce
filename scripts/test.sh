#!/usr/bin/env bash
# Set up (if needed) and run the default test suite (7 to 16 minutes on 2 CPU cores, by the machine).
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -m slow` for the long checks.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export MUJOCO_GL=${MUJOCO_GL:-egl}
exec .venv/bin/python -m pytest "$@"

#!/usr/bin/env bash
# The main job end to end on small defaults (~15 minutes on 2 CPU cores, set-up included):
# collect a small MT10 dataset, train the flow-matching policy baseline, evaluate it closed-loop
# on held-out initial conditions, and write an HTML report. Rerunning resumes finished work.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export MUJOCO_GL=${MUJOCO_GL:-egl}
wam=.venv/bin/wam
out=${OUT:-runs/quickstart}
$wam doctor
$wam collect --out data/quickstart-mt10 --tasks mt10 --episodes 10
$wam train --dataset data/quickstart-mt10 --out "$out/flow-policy" --minutes 8
$wam eval --checkpoint "$out/flow-policy/model" --episodes 5 --videos 1
$wam report --results "$out/flow-policy/eval" --out "$out/report"
echo "open $out/report/index.html"

#!/usr/bin/env bash
# The main job end to end on small defaults (16 to 24 minutes on 2 CPU cores once set up, by the machine):
# collect a small MT10 dataset; train the flow-matching policy baseline and, at the same 5-minute
# budget, a joint-diffusion WAM (1 minute for its autoencoder substrate + 4 for the WAM); evaluate
# both closed-loop on the same held-out initial conditions; write one HTML report with both side
# by side. Rerunning resumes finished work.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export MUJOCO_GL=${MUJOCO_GL:-egl}
wam=.venv/bin/wam
out=${OUT:-runs/quickstart}
data=data/quickstart-mt10
$wam doctor
$wam collect --out $data --tasks mt10 --episodes 10
$wam train --dataset $data --out "$out/flow-policy" --minutes 5
$wam train --dataset $data --out "$out/autoencoder" --model autoencoder --minutes 1 --lr 1e-3 --warmup-steps 50
$wam train --dataset $data --out "$out/joint-diffusion" --model joint-diffusion --minutes 4 \
  --model-overrides "autoencoder=$out/autoencoder/model"
$wam eval --checkpoint "$out/flow-policy/model" --episodes 5 --videos 1
$wam eval --checkpoint "$out/joint-diffusion/model" --episodes 5 --videos 1
$wam report --results "$out/flow-policy/eval" "$out/joint-diffusion/eval" --out "$out/report"
echo "open $out/report/index.html"

"""Planning time per decision of a trained action-scoring world model, and its control-rate
feasibility, for each planner, rollout mode and number of candidates N.

One decision = encode the observation, draw N proposals from the proposal model (when the planner
uses them), roll the candidates out in latent space and score them (x iterations for CEM/MPPI).
Observations are real frames from a dataset; timings are wall-clock on this machine with
`--threads` torch threads (the closed-loop evaluation uses 1 per worker). The feasibility rule is
the survey's: N_fwd(K)/K < 1/f_ctrl for the K actions executed per decision.

    python benchmarks/planning_latency.py --checkpoint runs/mt10/latent-rollout/model \
        --proposals runs/mt10/flow-policy/model --dataset data/mt10 [--out results/mt10/latent-rollout/planning_latency.json]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from wam.data.cache import TrainingCache
from wam.eval.metrics import control_rate, latency_summary
from wam.train.checkpoint import load_model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint", default="runs/mt10/latent-rollout/model")
    ap.add_argument("--proposals", default="runs/mt10/flow-policy/model")
    ap.add_argument("--dataset", default="data/mt10")
    ap.add_argument("--decisions", type=int, default=30, help="timed decisions per setting")
    ap.add_argument("--executed-steps", type=int, default=8, help="actions executed per decision (K)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    model, _ = load_model(args.checkpoint)
    proposer, _ = load_model(args.proposals)
    model.attach_proposer(proposer)
    cache = TrainingCache(args.dataset)
    rng = np.random.default_rng(0)
    frames = rng.choice(len(cache), size=args.decisions, replace=False)
    observations = []
    for f in frames:
        batch = cache.batch(np.array([f]), model.window)
        observations.append({k: batch[k] for k in ("image", "state", "task_index")})

    settings = [("select", n, 1, rollout) for n in (1, 4, 16, 64) for rollout in ("step", "chunk")]
    settings += [("cem", 16, 3, "step"), ("cem", 16, 3, "chunk"), ("mppi", 16, 3, "step"), ("cem", 64, 4, "step")]
    rows = []
    for planner, n, iterations, rollout in settings:
        for name, value in (("planner", planner), ("samples", str(n)), ("iterations", str(iterations)), ("rollout", rollout)):
            model.set_runtime_option(name, value)
        generator = torch.Generator().manual_seed(0)
        model.act(observations[0], generator)  # warm-up
        seconds = []
        for obs in observations:
            t0 = time.perf_counter()
            model.act(obs, generator)
            seconds.append(time.perf_counter() - t0)
        lat = latency_summary(seconds)
        rate = control_rate(lat, args.executed_steps, model.spec.fps)
        rows.append({"planner": planner, "samples": n, "iterations": iterations, "rollout": rollout, "latency_ms": lat, "control_rate": rate})
        print(
            f"{planner:6s} N={n:3d} it={iterations} rollout={rollout:5s}  p50 {lat['p50']:7.1f} ms  p95 {lat['p95']:7.1f} ms  "
            f"{rate['ms_per_executed_step_p95']:5.1f} ms/step at p95 -> {'feasible' if rate['feasible_p95'] else 'NOT feasible'} at {rate['control_hz']:g} Hz"
        )
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"checkpoint": args.checkpoint, "proposals": args.proposals, "threads": args.threads, "rows": rows}, f, indent=2)
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

"""`wam sweep`: one checkpoint, one runtime option, several values -> a success-latency curve.

The survey's first open challenge asks a WAM to choose at run time how much future to generate.
For a model with such a knob (joint-diffusion's `future_steps`), this runs the same closed-loop
evaluation at each value, on the same seeds and sampling noise, and writes
    <out>/<option>=<value>/          a full `wam eval` folder per setting (resumable)
    <out>/sweep.json                 success (Wilson 95%), latency p50/p95 and calls per setting
    <out>/sweep.png                  success vs latency, one point per setting
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated

import tyro

from wam.data.io import write_json
from wam.errors import require
from wam.runner.evaluate import EvalConfig, apply_options, evaluate, parse_options


@dataclass
class SweepConfig:
    """Evaluate one checkpoint at several values of one runtime option."""

    checkpoint: Path = Path("runs/mt10/joint-diffusion/model")
    """model folder written by `wam train`"""
    option: str = "future_steps"
    """runtime option to sweep (see `wam models --json`)"""
    values: str = "0,1,2,5,10"
    """comma-separated values"""
    out: Path = Path("results/mt10/joint-diffusion/dial")
    """output folder"""
    tasks: str = ""
    """tasks (default: every task the model was trained on)"""
    episodes: int = 20
    """episodes per task per setting"""
    action_steps: int = 8
    """steps executed from each chunk before re-planning"""
    workers: int = 2
    """parallel rollout processes"""
    videos: int = 0
    """rollout (and predicted-vs-real) videos per task per setting"""
    overwrite: bool = False
    """discard finished episodes and start over"""
    proposals: str = ""
    """proposal model for action-scoring models (see `wam eval --proposals`)"""
    fixed: Annotated[tuple[str, ...], tyro.conf.UseAppendAction] = ()
    """other runtime options held fixed at every setting, name=value, repeatable (e.g. --fixed planner=cem)"""
    split: str = "heldout"
    """seed split: 'validation' to choose a setting, then one `wam eval` of it on 'heldout' to report it"""
    first_seed: int = 0
    """index of the first seed within the split"""

    def __post_init__(self):
        self.value_list = [v.strip() for v in self.values.split(",") if v.strip()]
        require(len(self.value_list) >= 1, "--values must name at least one value")
        require(bool(self.option), "--option must name a runtime option")
        fixed = parse_options(tuple(self.fixed))
        require(self.option not in fixed, f"--fixed also sets the swept option '{self.option}'")


def sweep(cfg: SweepConfig) -> dict:
    from wam.train.checkpoint import load_model

    model, _ = load_model(cfg.checkpoint)
    apply_options(model, parse_options(tuple(cfg.fixed)))
    for value in cfg.value_list:  # every value is checked before the first evaluation starts
        model.set_runtime_option(cfg.option, value)
    del model
    base = EvalConfig(
        checkpoint=cfg.checkpoint,
        tasks=cfg.tasks,
        episodes=cfg.episodes,
        action_steps=cfg.action_steps,
        workers=cfg.workers,
        videos=cfg.videos,
        overwrite=cfg.overwrite,
        proposals=cfg.proposals,
        split=cfg.split,
        first_seed=cfg.first_seed,
        out=cfg.out / "unused",
    )
    points = []
    for value in cfg.value_list:
        run = replace(base, out=cfg.out / f"{cfg.option}={value}", option=tuple(cfg.fixed) + (f"{cfg.option}={value}",))
        result = evaluate(run)
        episodes = result["episodes"]
        points.append(
            {
                "value": value,
                "mean_success": result["mean_success"],
                "pooled_ci95": result["pooled_ci95"],
                "latency_ms": result["latency_ms"],
                "calls_per_episode": sum(e["calls"] for e in episodes) / max(1, len(episodes)),
                "episodes": len(episodes),
            }
        )
    summary = {
        "schema": "wam.sweep/1",
        "model": result["model"],
        "checkpoint": str(cfg.checkpoint),
        "option": cfg.option,
        "protocol": {k: v for k, v in result["protocol"].items() if k != "model_options"},
        "model_options": {k: v for k, v in result["protocol"]["model_options"].items() if k != cfg.option},
        "points": points,
    }
    cfg.out.mkdir(parents=True, exist_ok=True)
    write_json(cfg.out / "sweep.json", summary)
    from wam.report.plots import sweep_curve

    sweep_curve(summary, cfg.out / "sweep.png")
    return summary


def sweep_main(cfg: SweepConfig) -> None:
    summary = sweep(cfg)
    print(f"{summary['model']}: {cfg.option} sweep ({summary['points'][0]['episodes']} episodes per setting)")
    for p in summary["points"]:
        lo, hi = p["pooled_ci95"]
        lat = p["latency_ms"]
        print(
            f"  {cfg.option}={p['value']:>4s}  success {p['mean_success']:6.1%} [{lo:.1%}, {hi:.1%}]  "
            f"latency p50 {lat['p50']:.1f} ms  p95 {lat['p95']:.1f} ms"
        )
    print(f"wrote {cfg.out / 'sweep.json'} and {cfg.out / 'sweep.png'}")

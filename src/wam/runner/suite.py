"""`wam suite`: the matched comparison. Every chosen model trains on the same dataset with the same
budget, is evaluated under one closed-loop protocol, and lands in one report.

    <runs>/autoencoder/            the shared autoencoder substrate (trained once, if a model needs it)
    <runs>/<model>/                each model's `wam train` run folder (resumable)
    <out>/<model>/                 each model's `wam eval` folder (resumable): eval.json, episodes, videos
    <out>/report/                  `wam report` over all of them (index.html, results.md)
    <out>/suite.json               budget, models, the command and the machine

Budget: every model gets `--minutes` (and/or `--steps`). A model whose substrate is the frozen
autoencoder (joint-diffusion, predict-then-act) pays for it out of the same budget: the
autoencoder trains once for `--autoencoder-minutes` (`--autoencoder-steps`) and those models
train for the rest, so the comparison is at equal total training compute (issue 5's rule).
Killed and rerun with the same command, it resumes the unfinished step and skips finished ones.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path


from wam.data.io import write_json
from wam.errors import require
from wam.models.base import MODELS, model_class
from wam.runner.matched import MatchedRunsConfig, agent_list, check_budget, parse_model_overrides
from wam.utils import command_line


def agent_models() -> list[str]:
    """Every registered model that acts (substrates such as the autoencoder are not compared)."""
    model_class("flow-policy")  # populates the registry
    return [name for name, cls in MODELS.items() if cls.role == "agent"]


def uses_autoencoder(config) -> bool:
    """Does this model config build on the trained autoencoder? It must have an `autoencoder`
    checkpoint field, and a substrate or teacher selector, where it has one, must choose it
    (predict-then-act with raw pixels, teacher-target with an EMA teacher do not)."""
    if not any(f.name == "autoencoder" for f in dataclasses.fields(config)):
        return False
    for selector in ("substrate", "teacher"):
        if hasattr(config, selector):
            return getattr(config, selector) == "autoencoder"
    return True


@dataclass
class SuiteConfig(MatchedRunsConfig):
    """Train every model with one budget on one dataset, evaluate all under one protocol, one report."""

    dataset: Path = Path("data/mt10")
    """LeRobot v3 dataset every model trains on"""
    models: str = ""
    """comma-separated registered models (default: every agent, `wam models`)"""
    world_model_dataset: Path = Path("")
    """dataset for models that score actions with a world model (latent-rollout), e.g. perturbed-expert episodes (default: --dataset)"""
    autoencoder_minutes: float = 6.0
    """of a pixel-substrate model's minutes, those spent on the shared autoencoder"""
    autoencoder_steps: int = 0
    """of a pixel-substrate model's steps (with --steps budgets), those spent on the shared autoencoder"""
    proposals: str = "flow-policy"
    """the model (from --models, trained first) whose chunks world models that score actions (latent-rollout) select among"""
    videos: int = 1
    """rollout videos saved per task per model"""
    runs: Path = Path("runs/suite")
    """where the training runs go"""
    out: Path = Path("results/suite")
    """where the evaluations, the report and suite.json go"""

    def __post_init__(self):
        self.dataset, self.runs, self.out = Path(self.dataset), Path(self.runs), Path(self.out)
        if str(self.world_model_dataset) in ("", "."):
            self.world_model_dataset = self.dataset
        self.world_model_dataset = Path(self.world_model_dataset)
        names = agent_list(self.models, agent_models())
        self.check_budget_set()
        self.overrides = parse_model_overrides(self.model_overrides, names)
        from wam.train.trainer import build_model_config

        self.autoencoder_users = {n for n in names if uses_autoencoder(build_model_config(n, tuple(self.overrides.get(n, ()))))}
        if self.autoencoder_users:
            # the autoencoder's share of each budget the suite sets: minutes if minutes, steps if steps
            require(self.minutes == 0 or 0 < self.autoencoder_minutes < self.minutes,
                    f"--autoencoder-minutes ({self.autoencoder_minutes}) must be above 0 and leave part of the "
                    f"{self.minutes}-minute budget for {', '.join(sorted(self.autoencoder_users))}")
            require(self.steps == 0 or 0 < self.autoencoder_steps < self.steps,
                    f"--autoencoder-steps ({self.autoencoder_steps}) must be above 0 and below --steps ({self.steps}) "
                    f"for {', '.join(sorted(self.autoencoder_users))}")
        scorers = [n for n in names if "score" in model_class(n).capabilities]
        if scorers:
            require(self.proposals in names and self.proposals not in scorers,
                    f"{', '.join(scorers)} select among another model's chunks: --proposals ({self.proposals!r}) must name "
                    f"a model in --models that is not itself a scorer")
            names = [self.proposals] + [n for n in names if n != self.proposals]  # the proposer trains first
        self.model_list = names


def suite(cfg: SuiteConfig) -> dict:
    from wam.report.html import ReportConfig, build_report
    from wam.runner.evaluate import EvalConfig, evaluate
    from wam.train.trainer import TrainConfig, train

    autoencoder = None
    ae_minutes = cfg.autoencoder_minutes if cfg.minutes else 0.0
    ae_steps = cfg.autoencoder_steps if cfg.steps else 0
    if cfg.autoencoder_users:
        run = cfg.runs / "autoencoder"
        check_budget(run, ae_minutes, ae_steps)
        # the settings the README's autoencoder runs use: a small net that likes a higher rate
        autoencoder = train(TrainConfig(dataset=cfg.dataset, out=run, model="autoencoder", minutes=ae_minutes,
                                        steps=ae_steps, threads=cfg.threads, seed=cfg.seed, sampling=cfg.sampling,
                                        lr=1e-3, warmup_steps=100))
    rows = []
    for name in cfg.model_list:
        overrides = list(cfg.overrides.get(name, ()))
        minutes, steps = cfg.minutes, cfg.steps
        if name in cfg.autoencoder_users:
            overrides.append(f"autoencoder={autoencoder}")
            minutes, steps = cfg.minutes - ae_minutes, cfg.steps - ae_steps
        run = cfg.runs / name
        check_budget(run, minutes, steps)
        # a scorer must see off-expert actions to tell good from bad (issue 7): its own dataset, if given
        scorer = "score" in model_class(name).capabilities
        dataset = cfg.world_model_dataset if scorer else cfg.dataset
        checkpoint = train(TrainConfig(dataset=dataset, out=run, model=name, minutes=minutes, steps=steps,
                                       threads=cfg.threads, seed=cfg.seed, sampling=cfg.sampling,
                                       model_overrides=tuple(overrides)))
        result = evaluate(EvalConfig(checkpoint=checkpoint, out=cfg.out / name, tasks=cfg.tasks, episodes=cfg.episodes,
                                     workers=cfg.workers, videos=cfg.videos, max_steps=cfg.max_steps, action_steps=cfg.action_steps,
                                     proposals=cfg.proposals if scorer else ""))
        rows.append({"model": name, "mean_success": result["mean_success"], "pooled_ci95": result["pooled_ci95"],
                     "latency_ms": result["latency_ms"], "params": result["params"],
                     "training_minutes": minutes, "training_steps": result["protocol"].get("training_steps")})
    report = build_report(ReportConfig(results=[cfg.out / n for n in cfg.model_list], out=cfg.out / "report",
                                       title=f"wam suite: {len(cfg.model_list)} models, matched budget"))
    from wam.utils import machine_description

    summary = {
        "schema": "wam.suite/1",
        "dataset": str(cfg.dataset),
        "world_model_dataset": str(cfg.world_model_dataset),
        "budget": {"minutes": cfg.minutes, "steps": cfg.steps, "threads": cfg.threads,
                   "autoencoder_minutes": ae_minutes if autoencoder else None,
                   "autoencoder_steps": ae_steps if autoencoder else None,
                   "autoencoder_users": sorted(cfg.autoencoder_users)},
        "proposals": cfg.proposals,
        "machine": machine_description(),
        "command": command_line("wam suite", cfg),
        "models": rows,
        "report": str(report),
    }
    write_json(cfg.out / "suite.json", summary)
    return summary


def suite_main(cfg: SuiteConfig) -> None:
    summary = suite(cfg)
    for row in sorted(summary["models"], key=lambda r: -r["mean_success"]):
        lo, hi = row["pooled_ci95"]
        print(f"  {row['model']:18s} success {row['mean_success']:6.1%} [{lo:.1%}, {hi:.1%}]  "
              f"latency p50 {row['latency_ms']['p50']:.1f} ms  {row['params'] / 1e6:.2f}M params")
    print(f"wrote {summary['report']} and {cfg.out / 'suite.json'}")

"""What the commands that train several models under one budget share (`wam suite`,
`wam label-efficiency`): choosing the models, per-model overrides checked before anything trains,
and refusing to reuse a run folder trained under another budget."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import tyro

from wam.errors import WamError, require
from wam.models.base import model_class


@dataclass
class MatchedRunsConfig:
    """The budget and the evaluation protocol that every run of a matched comparison shares (the
    base of `wam suite`'s and `wam label-efficiency`'s configs)."""

    minutes: float = 60.0
    """training budget per run, wall-clock minutes (0: no time limit; both limits apply when both are set)"""
    steps: int = 0
    """training budget per run in steps (0: no step limit; to train by steps only, also pass --minutes 0)"""
    threads: int = 0
    """torch threads per training run (0: all cores)"""
    seed: int = 0
    """training seed"""
    sampling: str = "tasks"
    """batch sampling of every training run: 'tasks' (each task an equal share of every epoch) or 'frames' (every usable frame once per epoch; the default before 2026-12-03)"""
    episodes: int = 50
    """held-out episodes per task in each evaluation"""
    tasks: str = ""
    """evaluation tasks (default: the dataset's)"""
    workers: int = 2
    """parallel rollout processes per evaluation"""
    action_steps: int = 8
    """steps executed from each chunk before re-planning"""
    max_steps: int = 500
    """episode step limit in evaluation (Meta-World's own limit)"""
    model_overrides: Annotated[tuple[str, ...], tyro.conf.UseAppendAction] = ()
    """model config overrides as model:key=value, repeatable (e.g. --model-overrides encoder-only:future_weight=0.5)"""

    def check_budget_set(self) -> None:
        from wam.train.trainer import require_sampling

        require(self.minutes > 0 or self.steps > 0, "set a budget: --minutes M or --steps N")
        require_sampling(self.sampling)


def agent_list(text: str, default: list[str]) -> list[str]:
    """Comma-separated registered agents ('' -> default), each checked, none twice."""
    names = [m.strip() for m in text.split(",") if m.strip()] or list(default)
    require(len(names) >= 1, "--models must name at least one model")
    for name in names:
        cls = model_class(name)  # an unknown name fails here, listing the valid ones
        require(cls.role == "agent", f"'{name}' is a {cls.role}, not an agent that acts (it trains as part of the models that use it)")
    require(len(set(names)) == len(names), f"--models names a model twice: {text}")
    return names


def parse_model_overrides(items: tuple[str, ...], names: list[str]) -> dict[str, list[str]]:
    """'model:key=value' items -> {model: ['key=value', ...]}, every model's config built and
    validated now, so a bad key or value fails before the first hour of training, not after it."""
    from wam.train.trainer import build_model_config

    overrides: dict[str, list[str]] = {}
    for item in items:
        name, sep, pair = item.partition(":")
        require(bool(sep) and "=" in pair, f"model override '{item}' is not model:key=value")
        require(name in names, f"model override '{item}' names '{name}', which is not in --models")
        overrides.setdefault(name, []).append(pair)
    for name in names:
        build_model_config(name, tuple(overrides.get(name, ()))).validate()
    return overrides


def check_budget(run: Path, minutes: float, steps: int) -> None:
    """A run folder trained (or training) under another budget is not silently reused."""
    from wam.data.io import read_json

    for path in (run / "checkpoints" / "latest.json", run / "model" / "config.json"):
        if not path.exists():
            continue
        if path.name == "latest.json":
            state = read_json(path.parent / read_json(path, "checkpoint pointer")["folder"] / "state.json", "training state")
            saved = state.get("train_config", {})
        else:
            saved = (read_json(path, "model config").get("train") or {}).get("train_config", {})
        if (float(saved.get("minutes", minutes)), int(saved.get("steps", steps))) != (float(minutes), int(steps)):
            raise WamError(
                f"{run} was trained with a budget of {saved.get('minutes')} min / {saved.get('steps')} steps, not "
                f"{minutes} min / {steps} steps; use another --runs folder for another budget"
            )

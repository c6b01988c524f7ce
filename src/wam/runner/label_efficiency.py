"""`wam label-efficiency`: success vs the number of action-labelled episodes, per model.

Action labels are a first-class cost (survey §4). For each model and each label setting this trains
on the same dataset with the same budget, withholding the labels of all but the chosen episodes
of each task (the rest stay in as action-free video: a policy cannot use them, a WAM that learns
from video can), then runs the same closed-loop evaluation. Settings are fractions of each task's
episodes ("0.25") or a fixed count per task ("2/task"); which episodes keep their labels is
deterministic per `--label-seed` and nested (the 10% are inside the 25%, see `label_mask`).

    <runs>/<model>/<setting>/        a `wam train` run folder (resumable) and its eval/ (resumable)
    <out>/label-efficiency.json      one point per (model, setting): labelled episodes, success (Wilson 95%)
    <out>/label-efficiency.png       success vs labelled episodes (all tasks), one line per model

`--extend <label-efficiency.json>` adds points to an existing curve without retraining the ones in
it: its points for the (model, setting) pairs this command does not run are kept (so a model can
gain settings, or a new model join, one command at a time), provided it was made on the same
dataset, budget, label seed, batch sampling and evaluation protocol (otherwise a one-line error names the field
that differs), and `commands` lists every command whose points are in the file. The models may
have different label settings (a setting names the same episodes for every model: `label_mask`).

Killed and rerun with the same command, it resumes the unfinished run and skips finished ones.
`--jobs N` runs N (model, setting) points at once, each its own `wam label-efficiency` process on
one point (log: <runs>/<model>/<setting>/point.log), then assembles the curve from the finished
folders; with a step budget the numbers are those of a one-at-a-time run (training is
deterministic for a seed on CPU), so parallelism only changes the wall time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from wam.data.io import write_json
from wam.errors import WamError, require
from wam.runner.matched import MatchedRunsConfig, agent_list, check_budget, parse_model_overrides
from wam.utils import cli_args, command_line

DEFAULT_MODELS = "flow-policy,encoder-only,teacher-target,latent-action"


def parse_setting(text: str) -> tuple[str, float, int]:
    """'0.25' -> ('0.25', 0.25, 0); '2/task' -> ('2-per-task', 1.0, 2). One-line errors otherwise."""
    text = text.strip()
    if text.endswith("/task"):
        try:
            n = int(text[: -len("/task")])
        except ValueError:
            raise WamError(f"label setting '{text}' is not N/task with an integer N") from None
        require(n >= 1, f"labelled episodes per task must be >= 1, got {n}")
        return f"{n}-per-task", 1.0, n
    try:
        fraction = float(text)
    except ValueError:
        raise WamError(f"label setting '{text}' is neither a fraction in (0, 1] nor N/task") from None
    require(0 < fraction <= 1, f"label fraction must be in (0, 1], got {fraction}")
    return f"{fraction:g}", fraction, 0


@dataclass
class LabelEfficiencyConfig(MatchedRunsConfig):
    """Train and evaluate models at several label budgets; write the label-efficiency curve."""

    dataset: Path = Path("data/mt10")
    """LeRobot v3 dataset; labels are withheld from all but the chosen episodes"""
    models: str = DEFAULT_MODELS
    """comma-separated registered models"""
    labels: str = "1.0,0.25,0.1,2/task"
    """label settings: fractions of each task's episodes, or N/task"""
    label_seed: int = 0
    """which episodes keep their labels"""
    runs: Path = Path("runs/label-efficiency")
    """where the training runs and their evaluations go"""
    out: Path = Path("results/mt10")
    """where label-efficiency.json and .png go"""
    extend: Path | None = None
    """an existing label-efficiency.json: keep its points for the (model, setting) pairs this run
    does not make (it must share this run's dataset, budget, label seed, sampling and protocol)"""
    jobs: int = 1
    """(model, setting) points trained and evaluated at once, each in its own process; give each
    --threads and --workers that fit the machine (e.g. 2 cores: --jobs 2 --threads 1 --workers 1)"""

    def __post_init__(self):
        require(self.jobs >= 1, f"jobs must be >= 1, got {self.jobs}")
        self.model_list = agent_list(self.models, [])
        self.setting_texts = [s.strip() for s in self.labels.split(",") if s.strip()]
        self.settings = [parse_setting(s) for s in self.setting_texts]
        require(len(self.settings) >= 1, "--labels must name at least one setting")
        names = [name for name, _, _ in self.settings]
        require(len(set(names)) == len(names), f"--labels names the same setting twice: {self.labels}")
        self.check_budget_set()
        self.overrides = parse_model_overrides(self.model_overrides, self.model_list)
        self.earlier = None
        if self.extend is not None:  # checked now, not after hours of training: all but the protocol
            from wam.data.io import read_json

            require(self.extend.is_file(), f"--extend {self.extend}: no such file")
            self.earlier = read_json(self.extend, "label-efficiency result")
            require_same(self.earlier, curve_header(self), self.extend)


def curve_header(cfg: LabelEfficiencyConfig) -> dict:
    """What a label-efficiency.json says about how its points were made, known before training."""
    return {
        "schema": "wam.label-efficiency/1",
        "dataset": str(cfg.dataset),
        "budget": {"minutes": cfg.minutes, "steps": cfg.steps, "threads": cfg.threads},
        "label_seed": cfg.label_seed,
        "sampling": cfg.sampling,
    }


def require_same(earlier: dict, ours: dict, source: Path) -> None:
    """One-line error naming the first field of `ours` that `earlier` (from `source`) differs in."""
    require(earlier.get("schema") == ours["schema"], f"--extend {source} is not a `wam label-efficiency` result")
    from wam.train.trainer import SAMPLING_BEFORE_THE_FIELD

    earlier = {"sampling": SAMPLING_BEFORE_THE_FIELD, **earlier}  # a curve written before the field existed
    for key in ours:
        if earlier.get(key) != ours[key]:
            raise WamError(f"--extend {source} has another {key} ({earlier.get(key)!r}, not {ours[key]!r}); "
                           "its points would not answer the same question")


def extended(summary: dict, earlier: dict, source: Path) -> dict:
    """`summary` with the points of `earlier` (read from `source`) for the (model, setting) pairs
    `summary` did not run, once every field that decides what a point means is shown to
    be the same. A pair in both is the new run's (a rerun replaces its point, never duplicates it)."""
    # the protocol too, known once the points are evaluated
    require_same(earlier, {k: summary[k] for k in ("schema", "dataset", "budget", "label_seed", "sampling", "protocol")}, source)
    ran = {(p["model"], p["setting"]) for p in summary["points"]}
    points = [p for p in earlier.get("points", []) if (p["model"], p["setting"]) not in ran] + summary["points"]
    # a model that gains a setting later keeps its rows together, most labels first (as one run writes them)
    first_seen = {m: i for i, m in enumerate(dict.fromkeys(p["model"] for p in points))}
    points.sort(key=lambda p: (first_seen[p["model"]], -p["labelled_episodes"]))
    commands = earlier.get("commands") or [earlier["command"]]
    if summary["command"] not in commands:  # rerunning a command that is already in the file adds it once
        commands = [*commands, summary["command"]]
    return {**summary, "commands": commands, "points": points}


def run_points_in_parallel(cfg: LabelEfficiencyConfig) -> None:
    """Train and evaluate every (model, setting) point, `cfg.jobs` at a time, each in a child
    `wam label-efficiency` process of its own. A failed point stops the others (all resumable)."""
    import dataclasses
    import subprocess
    import sys
    import time

    pending = [(model, text) for model in cfg.model_list for text in cfg.setting_texts]
    for model, text in pending:  # refuse another budget before starting anything
        check_budget(cfg.runs / model / parse_setting(text)[0], cfg.minutes, cfg.steps)
    running: list[tuple[str, Path, subprocess.Popen]] = []
    try:
        while pending or running:
            while pending and len(running) < cfg.jobs:
                model, text = pending.pop(0)
                folder = cfg.runs / model / parse_setting(text)[0]
                folder.mkdir(parents=True, exist_ok=True)
                mine = tuple(o for o in cfg.model_overrides if o.partition(":")[0].strip() == model)
                one = dataclasses.replace(cfg, models=model, labels=text, jobs=1, out=folder / "point", model_overrides=mine,
                                          extend=None)  # a point alone; the parent extends the curve
                with open(folder / "point.log", "w") as log:
                    child = subprocess.Popen([sys.executable, "-m", "wam.cli", "label-efficiency", *cli_args(one)],
                                             stdout=log, stderr=subprocess.STDOUT)
                print(f"started {model} at labels {text} (log: {folder / 'point.log'})")
                running.append((f"{model} at labels {text}", folder / "point.log", child))
            time.sleep(1.0)
            for item in list(running):
                what, log, child = item
                if child.poll() is None:
                    continue
                running.remove(item)
                if child.returncode != 0:
                    last = (log.read_text().strip().splitlines() or ["(empty log)"])[-1]
                    raise WamError(f"label-efficiency point {what} failed (exit {child.returncode}): {last} [log: {log}]")
                print(f"finished {what}")
    finally:
        for _, _, child in running:  # interrupted or failed: stop the rest; their folders resume
            child.terminate()
        for _, _, child in running:
            child.wait()


def label_efficiency(cfg: LabelEfficiencyConfig) -> dict:
    from wam.runner.evaluate import EvalConfig, evaluate
    from wam.train.trainer import TrainConfig, train

    if cfg.jobs > 1:
        run_points_in_parallel(cfg)  # then the loop below finds every point finished and assembles
    points = []
    protocol = None
    for model in cfg.model_list:
        for name, fraction, per_task in cfg.settings:
            run = cfg.runs / model / name
            check_budget(run, cfg.minutes, cfg.steps)
            checkpoint = train(
                TrainConfig(
                    dataset=cfg.dataset, out=run, model=model, minutes=cfg.minutes, steps=cfg.steps,
                    threads=cfg.threads, seed=cfg.seed, sampling=cfg.sampling, label_seed=cfg.label_seed, label_fraction=fraction,
                    labelled_per_task=per_task, model_overrides=tuple(cfg.overrides.get(model, ())),
                )
            )
            result = evaluate(EvalConfig(checkpoint=checkpoint, out=run / "eval", tasks=cfg.tasks, episodes=cfg.episodes,
                                         workers=cfg.workers, videos=0, max_steps=cfg.max_steps,
                                         action_steps=cfg.action_steps))
            run_protocol = {k: v for k, v in result["protocol"].items() if k in ("env", "tasks", "episodes_per_task", "seeds", "max_steps", "executed_steps", "camera", "resolution")}
            if protocol is None:
                protocol = run_protocol
            elif run_protocol != protocol:  # every point must answer the same question
                diff = sorted(k for k in protocol if protocol[k] != run_protocol.get(k))
                raise WamError(f"{run / 'eval'} was evaluated under another protocol ({', '.join(diff)} differ)")
            p = result["protocol"]
            points.append({
                "model": model,
                "kind": result["anatomy"]["kind"],
                "setting": name,
                "label_fraction": fraction if not per_task else None,
                "labelled_per_task": per_task or None,
                "labelled_episodes": p["labelled_episodes"],
                "mean_success": result["mean_success"],
                "pooled_ci95": result["pooled_ci95"],
                "episodes": len(result["episodes"]),
                "latency_ms": result["latency_ms"],
                "params": result["params"],
                "training_steps": p["training_steps"],
                "training_seconds": p["training_seconds"],
            })
    summary = {
        **curve_header(cfg),
        "protocol": protocol,
        "command": command_line("wam label-efficiency", cfg),
        "points": points,
    }
    if cfg.earlier is not None:
        summary = extended(summary, cfg.earlier, cfg.extend)
    cfg.out.mkdir(parents=True, exist_ok=True)
    write_json(cfg.out / "label-efficiency.json", summary)
    from wam.report.plots import label_efficiency_curve

    label_efficiency_curve(summary, cfg.out / "label-efficiency.png")
    return summary


def label_efficiency_main(cfg: LabelEfficiencyConfig) -> None:
    summary = label_efficiency(cfg)
    for p in summary["points"]:
        lo, hi = p["pooled_ci95"]
        print(f"  {p['model']:16s} {p['setting']:>12s}  {p['labelled_episodes']:4d} labelled episodes  "
              f"success {p['mean_success']:6.1%} [{lo:.1%}, {hi:.1%}]")
    print(f"wrote {cfg.out / 'label-efficiency.json'} and {cfg.out / 'label-efficiency.png'}")

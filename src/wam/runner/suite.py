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
A model is finished when its evaluation folder holds `suite-entry.json`, written last, with the
budget, data and protocol it ran under; a rerun with the same terms takes its row from there without
its training run, so a suite longer than one machine's session can be finished on another machine
from the committed results/ (each row names the machine and date it ran on). Only the proposer of
a scorer that is not yet finished must still have its checkpoint (it is retrained if it is gone).

Pace: a wall-clock budget buys as many steps as the CPU allows, and machines lent to this project
have differed by 2× (docs/design.md, "The suite's pace check"). Before training a model next to rows
that trained elsewhere, the suite times a short run of the first finished row's model here and
compares its steps per second with that row's. Outside `--pace-tolerance` it stops (`--pace check`),
or scales every minute budget it trains by the inverse of the ratio so each model gets the same compute
(`--pace scale`; the terms, and so the matching, stay at the nominal minutes); `--pace off` skips it.
"""

from __future__ import annotations

import dataclasses
import shutil
import time
from dataclasses import dataclass
from pathlib import Path


from wam.data.io import read_json, write_json
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
    pace: str = "check"
    """before training beside rows trained elsewhere, compare this machine's training speed with theirs: 'check' stops when it differs by more than --pace-tolerance, 'scale' multiplies the minute budgets trained here to give the same compute, 'off' skips it"""
    pace_tolerance: float = 0.15
    """the relative difference in training speed that still counts as the same pace"""
    pace_seconds: float = 60.0
    """length of the timed training run that measures this machine's pace"""

    def __post_init__(self):
        self.dataset, self.runs, self.out = Path(self.dataset), Path(self.runs), Path(self.out)
        if str(self.world_model_dataset) in ("", "."):
            self.world_model_dataset = self.dataset
        self.world_model_dataset = Path(self.world_model_dataset)
        names = agent_list(self.models, agent_models())
        self.check_budget_set()
        require(self.pace in PACE_MODES, f"unknown --pace {self.pace!r}: choose one of {', '.join(PACE_MODES)}")
        require(0 < self.pace_tolerance < 1, f"--pace-tolerance must be in (0, 1), not {self.pace_tolerance}")
        require(self.pace_seconds > 0, f"--pace-seconds must be above 0, not {self.pace_seconds}")
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

    def autoencoder_share(self) -> tuple[float, int]:
        """The (minutes, steps) of each autoencoder user's budget spent on the shared autoencoder."""
        return (self.autoencoder_minutes if self.minutes else 0.0), (self.autoencoder_steps if self.steps else 0)


ENTRY = "suite-entry.json"
PACE = "pace.json"
PACE_MODES = ("check", "scale", "off")


def entry_terms(cfg: SuiteConfig, name: str, minutes: float, steps: int, overrides: list[str], dataset: Path,
                scorer: bool) -> dict:
    """What a finished model's row depends on: a rerun whose terms differ in any of these does not
    reuse it (and then trains and evaluates as usual, where run and evaluation folders refuse a mismatch)."""
    ae_minutes, ae_steps = cfg.autoencoder_share()
    return {
        "model": name, "dataset": str(dataset), "minutes": minutes, "steps": steps, "threads": cfg.threads,
        "seed": cfg.seed, "sampling": cfg.sampling, "model_overrides": sorted(overrides),
        "autoencoder": {"minutes": ae_minutes, "steps": ae_steps} if name in cfg.autoencoder_users else None,
        "tasks": cfg.tasks, "episodes": cfg.episodes, "max_steps": cfg.max_steps, "action_steps": cfg.action_steps,
        "proposals": cfg.proposals if scorer else "",
    }


def finished_entry(folder: Path, terms: dict) -> dict | None:
    path = folder / ENTRY
    if not path.exists():
        return None
    entry = read_json(path, "suite entry")
    return entry if entry.get("terms") == terms else None


def measure_pace(cfg: SuiteConfig, name: str, plan: dict) -> float:
    """Steps per second of training `name` on this machine: its own recipe, timed for --pace-seconds
    in a scratch run that is deleted afterwards (the trainer's clock counts training steps only)."""
    from wam.train.trainer import TrainConfig, train

    scratch = cfg.runs / ".pace" / name
    shutil.rmtree(scratch, ignore_errors=True)
    final = train(TrainConfig(dataset=plan["dataset"], out=scratch, model=name, minutes=cfg.pace_seconds / 60,
                              threads=cfg.threads, seed=cfg.seed, sampling=cfg.sampling,
                              model_overrides=tuple(plan["overrides"])))
    info = read_json(final / "config.json", "model config")["train"]
    shutil.rmtree(scratch.parent)
    require(info["steps"] > 0 and info["train_seconds"] > 0, f"the pace run of {name} trained no steps in {cfg.pace_seconds} s")
    return info["steps"] / info["train_seconds"]


def row_pace(row: dict) -> float:
    """Steps per second of training of a finished row, rounded as pace records keep it."""
    return round(row["training_steps"] / (60 * row["training_minutes"]), 4)


def read_pace_record(path: Path) -> dict:
    """A kept pace.json, checked: a hand-edited or truncated record is refused in one line, naming what is
    wrong, instead of failing later on a missing key or dividing by zero."""
    record = read_json(path, "pace record")
    problem = None
    if not isinstance(record, dict) or "model" not in record or "machine" not in record:
        problem = "it needs the keys 'model' and 'machine'"
    elif record["model"] is not None:
        bad = [k for k in ("steps_per_s", "reference_steps_per_s")
               if not isinstance(record.get(k), (int, float)) or isinstance(record.get(k), bool) or not record[k] > 0]
        if bad:
            problem = f"{' and '.join(repr(k) for k in bad)} must be a positive number"
    require(problem is None, f"pace record {path} is corrupt ({problem}); delete it and this machine's pace is timed again")
    return record


def pace_scale(cfg: SuiteConfig, plans: dict) -> tuple[float, dict | None]:
    """(factor, record): the factor every minute budget trained in this invocation is multiplied by,
    and the pace measurement it rests on (None when there is no pace to keep).

    Only a minutes-only budget depends on the machine. The pace to keep is that of the first finished
    row of a model that trains on its own (no autoencoder) and was not itself scaled to another's
    pace. Whatever is decided for a runs folder is kept in <runs>/pace.json, including "no row to
    keep pace with: this machine sets it", so a resumed run trains to the budget it started with."""
    from wam.utils import machine_description

    to_train = [n for n, p in plans.items() if p["entry"] is None or p["needs_checkpoint"]]
    if cfg.pace == "off" or cfg.minutes == 0 or cfg.steps > 0 or not to_train:
        return 1.0, None
    machine = machine_description()
    record = read_pace_record(cfg.runs / PACE) if (cfg.runs / PACE).exists() else None
    kept = record is not None and record.get("machine") == machine and (
        record["model"] is None
        or (plans.get(record["model"], {}).get("entry") is not None
            and row_pace(plans[record["model"]]["entry"]["row"]) == record["reference_steps_per_s"]))
    if not kept:
        reference = next((n for n in cfg.model_list if plans[n]["entry"] and n not in cfg.autoencoder_users
                          and plans[n]["entry"]["row"].get("training_steps") and "pace" not in plans[n]["entry"]["row"]), None)
        record = {"model": reference, "machine": machine, "measured": time.strftime("%Y-%m-%d")}
        if reference is not None:
            row = plans[reference]["entry"]["row"]
            print(f"timing {cfg.pace_seconds:g} s of {reference}'s training to compare this machine's pace with its row's")
            here = round(measure_pace(cfg, reference, plans[reference]), 4)
            record |= {"reference_steps_per_s": row_pace(row), "reference_machine": row.get("machine", ""),
                       "reference_finished": row.get("finished", ""), "steps_per_s": here,
                       "ratio": round(here / row_pace(row), 4)}
        write_json(cfg.runs / PACE, record)  # kept even when refused: a rerun with --pace scale reuses it
    if record["model"] is None:
        return 1.0, None  # the first rows train here: this machine sets the pace
    ratio = record["steps_per_s"] / record["reference_steps_per_s"]
    if abs(ratio - 1) <= cfg.pace_tolerance:
        return 1.0, record | {"minutes_scale": 1.0}
    require(cfg.pace == "scale",
            f"this machine trains {record['model']} at {record['steps_per_s']:.2f} steps/s, {ratio:.2f}x the "
            f"{record['reference_steps_per_s']:.2f} of its finished row ({record['reference_machine'] or '?'}, "
            f"{record['reference_finished'] or '?'}), outside --pace-tolerance {cfg.pace_tolerance:g}: a {cfg.minutes:g}-minute "
            f"budget here would not match the suite's rows; pass --pace scale to train {', '.join(to_train)} with a budget "
            f"of {cfg.minutes / ratio:.3g} minutes here (the same compute), or --pace off to train {cfg.minutes:g} minutes anyway")
    return 1 / ratio, record | {"minutes_scale": round(1 / ratio, 4)}


def suite(cfg: SuiteConfig) -> dict:
    from wam.report.html import PROPERTY_ORDER, ReportConfig, build_report
    from wam.runner.evaluate import EvalConfig, evaluate
    from wam.train.trainer import TrainConfig, train
    from wam.utils import machine_description

    ae_minutes, ae_steps = cfg.autoencoder_share()
    plans = {}
    for name in cfg.model_list:
        overrides = list(cfg.overrides.get(name, ()))
        minutes, steps = cfg.minutes, cfg.steps
        if name in cfg.autoencoder_users:
            minutes, steps = cfg.minutes - ae_minutes, cfg.steps - ae_steps
        # a scorer must see off-expert actions to tell good from bad (issue 7): its own dataset, if given
        scorer = "score" in model_class(name).capabilities
        dataset = cfg.world_model_dataset if scorer else cfg.dataset
        terms = entry_terms(cfg, name, minutes, steps, overrides, dataset, scorer)
        plans[name] = dict(overrides=overrides, minutes=minutes, steps=steps, scorer=scorer, dataset=dataset,
                           terms=terms, entry=finished_entry(cfg.out / name, terms), needs_checkpoint=False)
    # a scorer still to evaluate reads the proposer's checkpoint: a finished proposer whose run is gone
    # trains again under the same terms (a new draw of the same recipe), and keeps its evaluated row
    if any(p["scorer"] and p["entry"] is None for p in plans.values()):
        plans[cfg.proposals]["needs_checkpoint"] = True

    autoencoder = None
    scale, pace = pace_scale(cfg, plans)

    def at_pace(minutes: float) -> float:  # a budget's compute, in this machine's minutes
        return minutes if scale == 1 else round(minutes * scale, 3)

    if any(plans[n]["entry"] is None or plans[n]["needs_checkpoint"] for n in cfg.autoencoder_users):
        run = cfg.runs / "autoencoder"
        check_budget(run, at_pace(ae_minutes), ae_steps)
        # the settings the README's autoencoder runs use: a small net that likes a higher rate
        autoencoder = train(TrainConfig(dataset=cfg.dataset, out=run, model="autoencoder", minutes=at_pace(ae_minutes),
                                        steps=ae_steps, threads=cfg.threads, seed=cfg.seed, sampling=cfg.sampling,
                                        lr=1e-3, warmup_steps=100))
    rows = []
    for name in cfg.model_list:
        plan = plans[name]
        if plan["entry"] is not None:
            print(f"{name}: finished on {plan['entry']['row']['machine']} ({plan['entry']['row']['finished']}); "
                  f"its row is read from {cfg.out / name / ENTRY}")
            rows.append(plan["entry"]["row"])
            if not plan["needs_checkpoint"]:
                continue
        overrides = plan["overrides"] + ([f"autoencoder={autoencoder}"] if name in cfg.autoencoder_users else [])
        run = cfg.runs / name
        minutes = at_pace(plan["minutes"])
        check_budget(run, minutes, plan["steps"])
        checkpoint = train(TrainConfig(dataset=plan["dataset"], out=run, model=name, minutes=minutes,
                                       steps=plan["steps"], threads=cfg.threads, seed=cfg.seed, sampling=cfg.sampling,
                                       model_overrides=tuple(overrides)))
        if plan["entry"] is not None:
            continue  # trained only for the scorer that reads its chunks
        result = evaluate(EvalConfig(checkpoint=checkpoint, out=cfg.out / name, tasks=cfg.tasks, episodes=cfg.episodes,
                                     workers=cfg.workers, videos=cfg.videos, max_steps=cfg.max_steps, action_steps=cfg.action_steps,
                                     proposals=cfg.proposals if plan["scorer"] else ""))
        row = {"model": name, "mean_success": result["mean_success"], "pooled_ci95": result["pooled_ci95"],
               "latency_ms": result["latency_ms"], "params": result["params"],
               "training_minutes": plan["minutes"], "training_steps": result["protocol"].get("training_steps"),
               # where the model trained: a wall-clock budget buys a different number of steps on another CPU
               "machine": result["protocol"].get("training_machine") or machine_description(),
               "finished": time.strftime("%Y-%m-%d")}
        if pace:  # trained beside rows from another machine: how its pace compared, and the minutes it took here
            row |= {"pace": pace, "wall_minutes": minutes}
        write_json(cfg.out / name / ENTRY, {"schema": "wam.suite-entry/1", "terms": plan["terms"], "row": row})
        rows.append(row)
    # `wam probe --out <out>/<model>/probe` results join the report's property table
    probes = [cfg.out / n / "probe" for n in cfg.model_list
              if any((cfg.out / n / "probe" / f"{p}.json").exists() for p in PROPERTY_ORDER)]
    report = build_report(ReportConfig(results=[cfg.out / n for n in cfg.model_list], probes=probes, out=cfg.out / "report",
                                       title=f"wam suite: {len(cfg.model_list)} models, matched budget"))

    summary = {
        "schema": "wam.suite/1",
        "dataset": str(cfg.dataset),
        "world_model_dataset": str(cfg.world_model_dataset),
        "budget": {"minutes": cfg.minutes, "steps": cfg.steps, "threads": cfg.threads,
                   "autoencoder_minutes": ae_minutes if cfg.autoencoder_users else None,
                   "autoencoder_steps": ae_steps if cfg.autoencoder_users else None,
                   "autoencoder_users": sorted(cfg.autoencoder_users)},
        "proposals": cfg.proposals,
        "pace": pace,  # set when this invocation trained beside rows from elsewhere
        "machine": machine_description(),
        "machines": sorted({r.get("machine", "") for r in rows}),
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

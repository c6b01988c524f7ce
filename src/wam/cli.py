"""The `wam` command line: a thin typed layer over the library's dataclass configs.

Each subcommand parses one dataclass (tyro), calls one function, and turns a WamError into a
single line on stderr with a non-zero exit: no traceback wall for bad input.
"""

from __future__ import annotations

import os
import sys
import warnings

os.environ.setdefault("MUJOCO_GL", "egl")


def _collect(cfg: "CollectConfig") -> None:  # noqa: F821
    from wam.data.collect import collect

    collect(cfg)


def _train(cfg: "TrainConfig") -> None:  # noqa: F821
    from wam.train.trainer import train

    train(cfg)


def _commands() -> dict:
    from wam.bench import BenchConfig, bench_main
    from wam.data.collect import CollectConfig
    from wam.doctor import DoctorConfig, doctor_main
    from wam.registry_table import ModelsConfig, models_main
    from wam.report.html import ReportConfig, report_main
    from wam.runner.evaluate import EvalConfig, evaluate_main
    from wam.runner.label_efficiency import LabelEfficiencyConfig, label_efficiency_main
    from wam.runner.probe import ProbeConfig, probe_main
    from wam.runner.suite import SuiteConfig, suite_main
    from wam.runner.sweep import SweepConfig, sweep_main
    from wam.train.trainer import TrainConfig

    return {
        "doctor": (DoctorConfig, doctor_main, "check rendering backend, pinned versions and frames"),
        "collect": (CollectConfig, _collect, "collect scripted-expert demonstrations (LeRobot v3.0)"),
        "train": (TrainConfig, _train, "train a registered model on a LeRobot v3 dataset"),
        "eval": (EvalConfig, evaluate_main, "closed-loop evaluation on held-out initial conditions"),
        "sweep": (SweepConfig, sweep_main, "evaluate one checkpoint across a runtime option (the fidelity-latency dial)"),
        "label-efficiency": (
            LabelEfficiencyConfig, label_efficiency_main, "success vs action-labelled episodes: train and evaluate each model per label budget"
        ),
        "suite": (SuiteConfig, suite_main, "the matched comparison: every model, one dataset, one budget, one protocol, one report"),
        "probe": (
            ProbeConfig, probe_main,
            "measure a WAM property against the simulator (interactability, causality, persistence, plausibility, generalization)",
        ),
        "report": (ReportConfig, report_main, "static HTML report from eval results"),
        "bench": (BenchConfig, bench_main, "throughput and latency benchmarks"),
        "models": (ModelsConfig, models_main, "list registered models and their anatomy"),
    }


def main(argv: list[str] | None = None) -> int:
    import tyro

    from wam.errors import WamError

    warnings.filterwarnings("ignore", message="Constant\\(s\\) may be too high")
    argv = sys.argv[1:] if argv is None else argv
    if argv[:2] == ["bench", "suite"]:  # the evaluation issue's name for the matched comparison
        argv = ["suite", *argv[2:]]
    commands = _commands()
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in commands:
        if argv and argv[0] not in ("-h", "--help"):
            print(f"wam: error: unknown command '{argv[0]}'; valid: {', '.join(commands)}", file=sys.stderr)
            return 2
        print("usage: wam {" + ",".join(commands) + "} [--help]\n")
        for name, (_, _, doc) in commands.items():
            print(f"  {name:16s} {doc}")
        return 0
    name = argv[0]
    config_class, fn, doc = commands[name]
    try:
        cfg = tyro.cli(config_class, args=argv[1:], prog=f"wam {name}", description=doc)
        fn(cfg)
    except WamError as e:
        print(f"wam {name}: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # a path that is a file, a full disk, no permission: one line, not a traceback
        print(f"wam {name}: error: {e.strerror or e}: {e.filename or ''}".rstrip(": "), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"wam {name}: interrupted; rerun the same command to resume", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())

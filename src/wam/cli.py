"""The `wam` command line: a thin typed layer over the library's dataclass configs.

Each subcommand parses one dataclass (tyro), calls one function, and turns a WamError into a
single line on stderr with a non-zero exit: no traceback wall for bad input.
"""

from __future__ import annotations

import os
import sys
import warnings

os.environ.setdefault("MUJOCO_GL", "egl")


# name -> (module, config class, function, one-line help). Only the chosen command's module is
# imported, so `wam --help`, an unknown command and a bad flag answer without loading torch for
# every other command (that took 5-10 s per call).
COMMANDS: dict[str, tuple[str, str, str, str]] = {
    "doctor": ("wam.doctor", "DoctorConfig", "doctor_main", "check rendering backend, pinned versions and frames"),
    "collect": ("wam.data.collect", "CollectConfig", "collect", "collect scripted-expert demonstrations (LeRobot v3.0)"),
    "train": ("wam.train.trainer", "TrainConfig", "train", "train a registered model on a LeRobot v3 dataset"),
    "eval": ("wam.runner.evaluate", "EvalConfig", "evaluate_main", "closed-loop evaluation on held-out initial conditions"),
    "sweep": ("wam.runner.sweep", "SweepConfig", "sweep_main", "evaluate one checkpoint across a runtime option (the fidelity-latency dial)"),
    "label-efficiency": ("wam.runner.label_efficiency", "LabelEfficiencyConfig", "label_efficiency_main",
                         "success vs action-labelled episodes: train and evaluate each model per label budget"),
    "suite": ("wam.runner.suite", "SuiteConfig", "suite_main", "the matched comparison: every model, one dataset, one budget, one protocol, one report"),
    "probe": ("wam.runner.probe", "ProbeConfig", "probe_main",
              "measure a WAM property against the simulator (interactability, causality, persistence, plausibility, generalization)"),
    "report": ("wam.report.html", "ReportConfig", "report_main", "static HTML report from eval results"),
    "bench": ("wam.bench", "BenchConfig", "bench_main", "throughput and latency benchmarks"),
    "models": ("wam.registry_table", "ModelsConfig", "models_main", "list registered models and their anatomy"),
}


def _load(name: str):
    """The config class and the function of one command."""
    import importlib

    module, config_class, fn, _ = COMMANDS[name]
    mod = importlib.import_module(module)
    return getattr(mod, config_class), getattr(mod, fn)


def main(argv: list[str] | None = None) -> int:
    import tyro

    from wam.errors import WamError

    warnings.filterwarnings("ignore", message="Constant\\(s\\) may be too high")
    argv = sys.argv[1:] if argv is None else argv
    if argv[:2] == ["bench", "suite"]:  # the evaluation issue's name for the matched comparison
        argv = ["suite", *argv[2:]]
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        if argv and argv[0] not in ("-h", "--help"):
            print(f"wam: error: unknown command '{argv[0]}'; valid: {', '.join(COMMANDS)}", file=sys.stderr)
            return 2
        print("usage: wam {" + ",".join(COMMANDS) + "} [--help]\n")
        for name, (*_, doc) in COMMANDS.items():
            print(f"  {name:16s} {doc}")
        return 0
    name = argv[0]
    doc = COMMANDS[name][3]
    try:
        config_class, fn = _load(name)
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

"""Command line: bad input gives one line naming the problem, exit 2, no traceback, no partial file.

Most bad-input cases call the CLI's entry point in this process (`wam_here`): the same `main`, minus
an interpreter start-up and a torch import per case, which made these tests the slowest of the
suite. Each command that loads torch keeps at least one case in a real process (`wam`), so what an
import prints to stderr or how the process exits stays covered."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


def wam(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "wam.cli", *args], capture_output=True, text=True, timeout=timeout)


def wam_here(*args: str) -> subprocess.CompletedProcess:
    """`wam <args>` through `wam.cli.main` in this process: its return value, or the code of the
    SystemExit tyro raises for a bad flag, with stdout and stderr captured."""
    import contextlib
    import io

    from wam.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
    return subprocess.CompletedProcess(["wam", *args], code, out.getvalue(), err.getvalue())


def assert_one_line_error(proc: subprocess.CompletedProcess, *needles: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-1500:])
    lines = [l for l in proc.stderr.strip().splitlines() if l.strip()]
    assert "Traceback" not in proc.stderr, proc.stderr[-1500:]
    assert len(lines) == 1, lines  # progress bars go to stderr too, but not before a config error
    message = lines[-1]
    for needle in needles:
        assert needle in message, message


def test_unknown_names(tmp_path):
    assert_one_line_error(wam("collect", "--out", str(tmp_path / "d"), "--tasks", "reach-v3,open-the-fridge"), "unknown task 'open-the-fridge'")
    assert_one_line_error(wam_here("collect", "--out", str(tmp_path / "d"), "--camera", "ceiling"), "unknown camera 'ceiling'", "corner2")
    assert_one_line_error(wam_here("train", "--model", "gpt-robot", "--steps", "1"), "unknown model 'gpt-robot'", "flow-policy")
    assert_one_line_error(wam("frobnicate"), "unknown command 'frobnicate'")
    assert_one_line_error(wam_here("bench", "suite", "--models", "flow-policy,gpt-robot"), "wam suite: error: unknown model 'gpt-robot'")
    assert_one_line_error(wam_here("probe", "--property", "persistence", "--horizon", "0"), "horizon must be in 1..")
    assert_one_line_error(wam_here("eval", "--regime", "re-grounding", "--reground-every", "0"), "reground_every must be >= 1")
    assert_one_line_error(wam_here("eval", "--regime", "interactive", "--observation-gain", "2"), "observation_gain must be in [0, 1], got 2.0")
    assert not (tmp_path / "d").exists()


def test_impossible_config_values(tmp_path):
    assert_one_line_error(wam_here("collect", "--out", str(tmp_path / "d"), "--episodes", "0"), "episodes must be >= 1")
    assert_one_line_error(wam_here("train", "--steps", "10", "--lr", "-1"), "lr must be a positive number")
    assert_one_line_error(wam("train"), "set a budget")
    assert_one_line_error(wam_here("train", "--steps", "5", "--label-fraction", "1.5"), "label fraction must be in (0, 1]")
    assert_one_line_error(wam_here("eval", "--checkpoint", str(tmp_path), "--episodes", "0"), "episodes must be >= 1")


def test_missing_and_corrupt_dataset(tmp_path, tiny_dataset):
    assert_one_line_error(wam_here("train", "--dataset", str(tmp_path / "nope"), "--steps", "1", "--out", str(tmp_path / "r")), "dataset not found")
    broken = tmp_path / "broken"
    shutil.copytree(tiny_dataset, broken)
    (broken / "meta" / "info.json").write_text("{oops")
    assert_one_line_error(wam_here("train", "--dataset", str(broken), "--steps", "1", "--out", str(tmp_path / "r")), "corrupt")
    assert not (tmp_path / "r" / "model").exists()


def test_nan_in_data(tmp_path, tiny_dataset):
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    bad = tmp_path / "nan"
    shutil.copytree(tiny_dataset, bad)
    path = next((bad / "data").glob("chunk-*/file-*.parquet"))
    table = pq.read_table(path)
    actions = np.asarray(table.column("action").to_pylist(), np.float32)
    actions[5, 2] = np.nan
    col = pa.FixedSizeListArray.from_arrays(pa.array(actions.reshape(-1)), 4)
    pq.write_table(table.set_column(table.schema.get_field_index("action"), "action", col), path)
    assert_one_line_error(wam("train", "--dataset", str(bad), "--steps", "1", "--out", str(tmp_path / "r")), "NaN", "action")


def test_missing_corrupt_and_mismatched_checkpoints(tmp_path, tiny_checkpoint):
    assert_one_line_error(wam("eval", "--checkpoint", str(tmp_path / "none")), "checkpoint not found")
    corrupt = tmp_path / "corrupt"
    shutil.copytree(tiny_checkpoint, corrupt)
    (corrupt / "model.safetensors").write_bytes(b"not safetensors")
    assert_one_line_error(wam_here("eval", "--checkpoint", str(corrupt)), "corrupt")
    other = tmp_path / "other"
    shutil.copytree(tiny_checkpoint, other)
    meta = json.loads((other / "config.json").read_text())
    meta["data_spec"]["action_dim"] = 7  # a checkpoint trained on a 7-d robot
    (other / "config.json").write_text(json.dumps(meta))
    assert_one_line_error(wam_here("eval", "--checkpoint", str(other)), "does not match")
    assert_one_line_error(
        wam_here("eval", "--checkpoint", str(tiny_checkpoint), "--tasks", "push-v3", "--out", str(tmp_path / "e")),
        "not trained on task 'push-v3'",
    )
    assert not (tmp_path / "e" / "eval.json").exists()


def test_smoke_collect_train_eval_report(tmp_path):
    """The whole pipeline through the CLI with tiny budgets."""
    data, run, report = tmp_path / "data", tmp_path / "run", tmp_path / "report"
    proc = wam("collect", "--out", str(data), "--tasks", "reach-v3,drawer-close-v3", "--episodes", "2")
    assert proc.returncode == 0, proc.stderr[-2000:]
    proc = wam(
        "train", "--dataset", str(data), "--out", str(run), "--steps", "6", "--batch-size", "8", "--threads", "1",
        "--model-overrides", "encoder_channels=8,16", "width=64", "depth=1", "chunk=8",
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (run / "metrics.csv").exists() and any((run / "tb").iterdir())
    proc = wam("eval", "--checkpoint", str(run / "model"), "--episodes", "2", "--max-steps", "24", "--videos", "1", "--action-steps", "8")
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads((run / "eval" / "eval.json").read_text())
    for key in ("model", "anatomy", "protocol", "per_task", "mean_success", "latency_ms", "params", "episodes"):
        assert key in result
    p = result["protocol"]
    for key in ("tasks", "episodes_per_task", "seeds", "camera", "resolution", "chunk_length", "executed_steps", "max_steps", "checkpoint", "training_samples_seen", "versions"):
        assert key in p, key
    assert p["seeds"] == [1_000_000, 1_000_001] and p["training_samples_seen"] == 48
    assert result["anatomy"]["coupling"] == "none"
    assert len(result["episodes"]) == 4 and all(e["steps"] <= 24 for e in result["episodes"])
    assert set(result["per_task"]) == {"reach-v3", "drawer-close-v3"}
    for v in result["per_task"].values():
        assert v["n"] == 2 and 0 <= v["ci95"][0] <= v["success"] <= v["ci95"][1] <= 1
    assert (run / "eval" / result["videos"][0]["mp4"]).stat().st_size > 0
    proc = wam("report", "--results", str(run / "eval"), "--out", str(report))
    assert proc.returncode == 0, proc.stderr[-2000:]
    page = (report / "index.html").read_text()
    assert "reach" in page and "<video" in page and (report / "per_task_success.png").exists()

"""Closed-loop runner: what the model sees, resume of killed evaluations, report protocol checks."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from wam.envs.metaworld import MetaWorldEnv
from wam.errors import WamError
from wam.runner.evaluate import EvalConfig, evaluate
from wam.runner.regimes import Chunked
from wam.runner.rollout import MODEL_INPUT_KEYS, run_episode
from wam.train.checkpoint import load_model


class SpyModel(torch.nn.Module):
    """Records every observation it is shown and returns a fixed chunk."""

    def __init__(self, inner):
        super().__init__()
        self.inner, self.seen = inner, []

    @property
    def window(self):
        return self.inner.window

    def reset(self):
        pass

    def act(self, observation, generator=None):
        self.seen.append(observation)
        return self.inner.act(observation, generator=generator)

    def last_prediction(self):
        return self.inner.last_prediction()


def test_model_sees_only_image_proprio_and_task(tiny_checkpoint):
    model, _ = load_model(tiny_checkpoint)
    spy = SpyModel(model)
    env = MetaWorldEnv("reach-v3")
    try:
        result = run_episode(spy, env, seed=1_000_000, task_index=0, regime=Chunked(2), max_steps=6)
    finally:
        env.close()
    assert len(spy.seen) == 3 and result.steps == 6
    for obs in spy.seen:
        assert set(obs) == set(MODEL_INPUT_KEYS)  # no success, reward or simulator state
        assert obs["image"].shape == (1, 2, 64, 64, 3) and obs["state"].shape == (1, 2, 4)


def test_chunked_regime_executes_the_planned_actions():
    regime = Chunked(3)
    chunk = np.arange(20, dtype=np.float32).reshape(5, 4)
    assert regime.needs_plan()
    regime.set_plan(chunk)
    executed = [regime.next_action() for _ in range(3)]
    np.testing.assert_array_equal(np.stack(executed), chunk[:3])
    assert regime.needs_plan()
    with pytest.raises(WamError, match="chunk has 5"):
        Chunked(6).set_plan(chunk)


def test_killed_evaluation_resumes_without_repeating_episodes(tiny_checkpoint, tmp_path):
    cfg = dict(checkpoint=tiny_checkpoint, out=tmp_path / "ev", episodes=2, max_steps=10, workers=1, videos=0, tasks="reach-v3", action_steps=4)
    first = evaluate(EvalConfig(**cfg))
    log = tmp_path / "ev" / "episodes.jsonl"
    lines = log.read_text().splitlines()
    assert len(lines) == 2
    # Simulate a kill after the first episode (plus a line cut in half).
    log.write_text(lines[0] + "\n" + lines[1][:10])
    (tmp_path / "ev" / "eval.json").unlink()
    second = evaluate(EvalConfig(**cfg))
    after = [json.loads(line) for line in log.read_text().splitlines()]  # the cut line is gone
    assert len(after) == 2 and after[0] == json.loads(lines[0])  # only the missing episode ran again
    assert [e["success"] for e in first["episodes"]] == [e["success"] for e in second["episodes"]]
    assert [e["steps"] for e in first["episodes"]] == [e["steps"] for e in second["episodes"]]
    with pytest.raises(WamError, match="another protocol"):
        evaluate(EvalConfig(**{**cfg, "max_steps": 12}))


def test_report_refuses_mixed_protocols(tmp_path):
    from wam.report.html import ReportConfig, build_report

    base = {
        "model": "m",
        "anatomy": {"kind": "policy", "coupling": "none"},
        "protocol": {"env": "metaworld-v3", "tasks": ["reach-v3"], "episodes_per_task": 2, "seed_split": "heldout", "seeds": [1, 2], "camera": "corner2", "resolution": 64, "max_steps": 500, "shift": "none"},
        "per_task": {"reach-v3": {"success": 0.5, "n": 2, "ci95": [0.1, 0.9]}},
        "mean_success": 0.5,
        "pooled_ci95": [0.1, 0.9],
        "latency_ms": {"p50": 1.0, "p95": 2.0},
        "params": 10,
    }
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "eval.json").write_text(json.dumps(base))
    other = json.loads(json.dumps(base))
    other["protocol"]["camera"] = "topview"
    (tmp_path / "b" / "eval.json").write_text(json.dumps(other))
    with pytest.raises(WamError, match="'camera' differs"):
        build_report(ReportConfig(results=[tmp_path / "a", tmp_path / "b"], out=tmp_path / "r"))
    path = build_report(ReportConfig(results=[tmp_path / "a"], out=tmp_path / "r"))
    assert "50.0%" in path.read_text()


def test_overwrite_never_wipes_a_folder_wam_did_not_write(tiny_checkpoint, tmp_path):
    precious = tmp_path / "thesis"
    precious.mkdir()
    (precious / "chapter1.tex").write_text("years of work")
    with pytest.raises(WamError, match="refusing to overwrite"):
        evaluate(EvalConfig(checkpoint=tiny_checkpoint, out=precious, episodes=1, workers=1, action_steps=4, overwrite=True))
    assert (precious / "chapter1.tex").exists()


def test_pareto_front_keeps_only_results_nothing_beats_cheaper():
    from wam.report.plots import pareto_front

    #          cheap+bad  dominated  cheap+best  costly+worse  costly+best
    xs = [1.0, 2.0, 1.5, 3.0, 4.0]
    ys = [0.2, 0.1, 0.6, 0.5, 0.9]
    assert pareto_front(xs, ys) == [0, 2, 4]


def test_report_shows_accuracy_at_budget_and_the_label_efficiency_curve(tmp_path):
    from wam.report.html import ReportConfig, build_report

    result = {
        "model": "m",
        "anatomy": {"kind": "WAM", "coupling": "joint generation"},
        "protocol": {"env": "metaworld-v3", "tasks": ["reach-v3"], "episodes_per_task": 2, "seed_split": "heldout", "seeds": [1, 2],
                     "camera": "corner2", "resolution": 64, "max_steps": 500, "shift": "none", "training_seconds": 600,
                     "training_threads": 2, "labelled_episodes": 20},
        "per_task": {"reach-v3": {"success": 0.5, "n": 2, "ci95": [0.1, 0.9]}},
        "mean_success": 0.5, "pooled_ci95": [0.1, 0.9], "latency_ms": {"p50": 1.0, "p95": 2.0}, "params": 10,
    }
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "eval.json").write_text(json.dumps(result))
    curve = {"schema": "wam.label-efficiency/1", "command": "wam label-efficiency --steps 3", "points": [
        {"model": "m", "kind": "WAM", "setting": s, "labelled_episodes": n, "mean_success": v, "pooled_ci95": [v - 0.1, v + 0.1], "episodes": 20}
        for s, n, v in (("1", 20, 0.6), ("2-per-task", 4, 0.3))]}
    (tmp_path / "le.json").write_text(json.dumps(curve))
    page = build_report(ReportConfig(results=[tmp_path / "a"], out=tmp_path / "r", label_efficiency=[tmp_path / "le.json"])).read_text()
    for name in ("success_vs_training.png", "success_vs_labels.png", "label-efficiency-00.png"):
        assert name in page and (tmp_path / "r" / name).stat().st_size > 0
    assert "Label efficiency" in page and "2-per-task" in page and "Accuracy at budget" in page
    (tmp_path / "bad.json").write_text(json.dumps({"schema": "wam.sweep/1"}))
    with pytest.raises(WamError, match="not a `wam label-efficiency` result"):
        build_report(ReportConfig(results=[tmp_path / "a"], out=tmp_path / "r2", label_efficiency=[tmp_path / "bad.json"]))

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


def test_report_pairs_every_result_with_the_policy_episode_by_episode(tmp_path):
    from wam.report.html import ReportConfig, build_report

    seeds = list(range(1, 11))
    base = {
        "anatomy": {"kind": "policy", "coupling": "none"},
        "protocol": {"env": "metaworld-v3", "tasks": ["reach-v3"], "episodes_per_task": 10, "seed_split": "heldout", "seeds": seeds,
                     "camera": "corner2", "resolution": 64, "max_steps": 500, "shift": "none"},
        "latency_ms": {"p50": 1.0, "p95": 2.0}, "params": 10,
    }

    def write(name: str, kind: str, successes: list[int]):
        rate = len(successes) / len(seeds)
        result = {**base, "model": name, "anatomy": {"kind": kind, "coupling": "none"}, "mean_success": rate,
                  "pooled_ci95": [0.0, 1.0], "per_task": {"reach-v3": {"success": rate, "n": 10, "ci95": [0.0, 1.0]}},
                  "episodes": [{"task": "reach-v3", "seed": s, "success": s in successes} for s in seeds]}
        (tmp_path / name).mkdir()
        (tmp_path / name / "eval.json").write_text(json.dumps(result))

    write("wam-a", "WAM", [1, 2, 3, 4, 5, 6, 7, 8])  # wins seeds 6-8, loses 9-10 against the policy
    write("policy", "policy", [1, 2, 3, 4, 5, 9, 10])
    page = build_report(ReportConfig(results=[tmp_path / "wam-a", tmp_path / "policy"], out=tmp_path / "r")).read_text()
    assert "Paired against policy" in page
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    pairing = next(s for s in summary if s["model"] == "wam-a")["paired_against"]
    assert (pairing["reference"], pairing["wins"], pairing["losses"], pairing["both"], pairing["neither"]) == ("policy", 3, 2, 5, 0)
    assert "paired_against" not in next(s for s in summary if s["model"] == "policy")
    assert "| wam-a | 3 | 2 | 5 | 0 | 1 |" in (tmp_path / "r" / "results.md").read_text()
    # the other way round, by name
    build_report(ReportConfig(results=[tmp_path / "wam-a", tmp_path / "policy"], out=tmp_path / "r2", reference="wam-a"))
    summary = json.loads((tmp_path / "r2" / "summary.json").read_text())
    assert next(s for s in summary if s["model"] == "policy")["paired_against"]["wins"] == 2
    with pytest.raises(WamError, match="unknown --reference 'nope': the results are policy, wam-a"):
        build_report(ReportConfig(results=[tmp_path / "wam-a", tmp_path / "policy"], out=tmp_path / "r3", reference="nope"))


def test_report_marks_latency_from_another_machine_and_counts_a_scaled_budget_at_its_pace(tmp_path):
    from wam.report.html import ReportConfig, build_report, load_result, training_core_minutes

    def write(name: str, machine: str, minutes: float, pace: dict | None = None):
        result = {
            "model": name, "anatomy": {"kind": "policy", "coupling": "none"},
            "protocol": {"env": "metaworld-v3", "tasks": ["reach-v3"], "episodes_per_task": 2, "seed_split": "heldout", "seeds": [1, 2],
                         "camera": "corner2", "resolution": 64, "max_steps": 500, "shift": "none", "machine": machine,
                         "training_seconds": minutes * 60, "training_threads": 2},
            "per_task": {"reach-v3": {"success": 0.5, "n": 2, "ci95": [0.1, 0.9]}},
            "mean_success": 0.5, "pooled_ci95": [0.1, 0.9], "latency_ms": {"p50": 1.0, "p95": 2.0}, "params": 10,
        }
        (tmp_path / name).mkdir()
        (tmp_path / name / "eval.json").write_text(json.dumps(result))
        if pace is not None:
            (tmp_path / name / "suite-entry.json").write_text(json.dumps({"schema": "wam.suite-entry/1", "terms": {}, "row": {"pace": pace}}))

    write("here", "fast cpu", 60)
    write("there", "slow cpu", 120, {"model": "here", "ratio": 0.5, "minutes_scale": 2.0, "steps_per_s": 2.0,
                                     "reference_steps_per_s": 4.0, "reference_machine": "fast cpu"})
    write("near", "", 60, {"model": "here", "ratio": 0.9, "minutes_scale": 1.0})  # within the tolerance: not scaled
    assert training_core_minutes(load_result(tmp_path / "here")) == 120
    assert training_core_minutes(load_result(tmp_path / "there")) == 120  # 120 min x 2 threads at half the pace
    assert training_core_minutes(load_result(tmp_path / "near")) == 120
    page = build_report(ReportConfig(results=[tmp_path / "here", tmp_path / "there", tmp_path / "near"], out=tmp_path / "r")).read_text()
    assert "1.0 / 2.0 †" in page and page.count("†") == 3  # the slow row's latency cell, the note, the plot's caption
    assert "† evaluated on slow cpu (there), not on the first result&#x27;s machine (fast cpu); no machine recorded for near" in page
    assert "120 min at 0.50× pace (≈ 60 at the reference pace)" in page and "scaled its budget by 2" in page
    assert "0.90×" not in page  # a row trained at the nominal budget is not presented as scaled
    table = (tmp_path / "r" / "results.md").read_text()
    assert "| 1.0 / 2.0 † |" in table and "| 1.0 / 2.0 |" in table and "there trained on a machine at 0.50×" in table
    assert "† evaluated on slow cpu (there), not on the first result's machine (fast cpu)" in table
    # two rows from one other machine share one mention of it
    write("also-there", "slow cpu", 60)
    table = build_report(ReportConfig(results=[tmp_path / n for n in ("here", "there", "also-there")], out=tmp_path / "r4"))
    assert "† evaluated on slow cpu (there, also-there), not on the first result&#x27;s machine" in table.read_text()
    # the same machine everywhere and no scaled budget: no marks
    page = build_report(ReportConfig(results=[tmp_path / "here", tmp_path / "near"], out=tmp_path / "r2")).read_text()
    assert "†" not in page and "reference pace" not in page
    (tmp_path / "there" / "suite-entry.json").write_text(json.dumps({"row": {"pace": {"model": "here", "ratio": 0.5}}}))
    with pytest.raises(WamError, match="suite-entry.json is corrupt: its row's pace needs a positive 'ratio' and 'minutes_scale'"):
        build_report(ReportConfig(results=[tmp_path / "here", tmp_path / "there"], out=tmp_path / "r3"))


# -- failure tags ------------------------------------------------------------------------------------
def _state(hand, obj, goal=(0.0, 0.9, 0.1)) -> np.ndarray:
    s = np.zeros(39)
    s[0:3], s[4:7], s[36:39] = hand, obj, goal
    return s


def test_failure_tags_name_the_first_stage_that_went_wrong():
    from wam.eval.failures import FailureTracker, count_tags

    obj0, far = (0.0, 0.6, 0.02), (0.3, 0.4, 0.3)

    def tags(task, trajectory, success=False, ran_to_limit=True):
        tracker = FailureTracker(task)
        for hand, obj in [(far, obj0)] + trajectory:  # the first state after a step is the reference
            tracker.update(_state(hand, obj))
        return tracker.tags(success, ran_to_limit)

    assert tags("pick-place-v3", [(far, obj0)], success=True) == []
    assert tags("pick-place-v3", [(far, obj0)] * 3) == ["never_reached", "timed_out"]
    assert tags("pick-place-v3", [(obj0, obj0)], ran_to_limit=False) == ["never_grasped"]
    lifted = (0.0, 0.6, 0.1)
    assert tags("pick-place-v3", [(lifted, lifted), (far, obj0)]) == ["dropped", "timed_out"]
    # lifted and carried towards the goal, still held at the limit: progress, not a drop
    assert tags("pick-place-v3", [(lifted, lifted), ((0.0, 0.8, 0.1), (0.0, 0.8, 0.1))]) == ["timed_out"]
    assert tags("push-v3", [(obj0, obj0)]) == ["never_moved", "timed_out"]
    pushed_back = (0.0, 0.5, 0.02)  # away from the goal at y = 0.9
    assert tags("push-v3", [(obj0, obj0), (pushed_back, pushed_back)]) == ["wrong_contact", "timed_out"]
    assert tags("push-v3", [(obj0, obj0), ((0.0, 0.7, 0.02), (0.0, 0.7, 0.02))]) == ["timed_out"]
    goal = (0.0, 0.9, 0.1)
    assert tags("reach-v3", [(far, obj0)]) == ["never_reached", "timed_out"]
    assert tags("reach-v3", [((0.0, 0.9, 0.15), obj0)]) == ["timed_out"]  # came within reach of the goal
    assert tags("reach-v3", [(goal, obj0)], success=True) == []

    records = [{"task": "a", "success": True, "failure_tags": []}, {"task": "a", "success": False, "failure_tags": ["never_reached", "timed_out"]},
               {"task": "b", "success": False, "failure_tags": ["dropped"]}, {"task": "b", "success": False}]
    counts = count_tags(records)
    assert counts["episodes"] == 3 and counts["failures"] == 2
    assert counts["primary"]["never_reached"] == 1 and counts["primary"]["timed_out"] == 0 and counts["any"]["timed_out"] == 1
    assert counts["per_task_primary"] == {"a": {"never_reached": 1}, "b": {"dropped": 1}}
    assert count_tags([{"success": False}]) is None  # results from before tags existed


def test_phase_success_counts_episodes_through_each_phase():
    from wam.eval.failures import phase_success

    records = [{"task": "pick-place-v3", "success": True, "failure_tags": []},
               {"task": "pick-place-v3", "success": False, "failure_tags": ["never_reached", "timed_out"]},
               {"task": "pick-place-v3", "success": False, "failure_tags": ["dropped", "timed_out"]},
               {"task": "pick-place-v3", "success": False, "failure_tags": ["timed_out"]},
               {"task": "push-v3", "success": False, "failure_tags": ["never_moved"]},
               {"task": "push-v3", "success": True, "failure_tags": []},
               {"task": "reach-v3", "success": False, "failure_tags": ["timed_out"]}]
    phases = phase_success(records)
    assert phases["pick-place-v3"]["phases"] == {"reached": 0.75, "grasped": 0.75, "held": 0.5, "progressed": 0.5, "success": 0.25}
    assert phases["push-v3"]["phases"] == {"reached": 1.0, "moved": 0.5, "progressed": 0.5, "success": 0.5}
    assert phases["reach-v3"] == {"kind": "reach", "n": 1, "phases": {"reached": 1.0, "success": 0.0}}
    assert phase_success([{"task": "reach-v3", "success": False}]) is None


def test_episodes_carry_failure_tags_from_the_simulator(tiny_checkpoint, tmp_path):
    """A 5-step-trained policy fails reach in 10 steps; its episodes are tagged, and the expert's are not."""
    from wam.envs.experts import ScriptedExpert
    from wam.eval.failures import FailureTracker

    result = evaluate(EvalConfig(checkpoint=tiny_checkpoint, out=tmp_path / "ev", episodes=2, max_steps=10, workers=1,
                                 videos=0, tasks="reach-v3", action_steps=4))
    for episode in result["episodes"]:
        if episode["success"]:
            assert episode["failure_tags"] == []
        else:
            assert episode["failure_tags"][0] in ("never_reached", "timed_out") and episode["failure_tags"][-1] == "timed_out"
    assert result["failure_tags"]["episodes"] == 2
    env = MetaWorldEnv("push-v3", resolution=32)
    try:
        expert = ScriptedExpert("push-v3")
        _, info = env.reset(seed=0)
        tracker = FailureTracker("push-v3")
        for _ in range(500):
            _, _, _, _, info = env.step(expert(info["privileged_state"]))
            tracker.update(info["privileged_state"])
            if info["success"]:
                break
        assert info["success"]
        # the expert's episode clears every stage: it would be tagged timed_out only, were it cut short
        assert tracker.tags(False, True) == ["timed_out"]
    finally:
        env.close()


def test_report_shows_the_five_property_table_with_not_applicable_cells(tmp_path):
    from wam.report.html import ReportConfig, build_report

    result = {
        "model": "m", "anatomy": {"kind": "WAM", "coupling": "joint generation"},
        "protocol": {"env": "metaworld-v3", "tasks": ["reach-v3"], "episodes_per_task": 2, "seed_split": "heldout", "seeds": [1, 2],
                     "camera": "corner2", "resolution": 64, "max_steps": 500, "shift": "none"},
        "per_task": {"reach-v3": {"success": 0.5, "n": 2, "ci95": [0.1, 0.9]}},
        "mean_success": 0.5, "pooled_ci95": [0.1, 0.9], "latency_ms": {"p50": 1.0, "p95": 2.0}, "params": 10,
    }
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "eval.json").write_text(json.dumps(result))
    probes = tmp_path / "probe"
    probes.mkdir()
    (probes / "causality.json").write_text(json.dumps({"schema": "wam.probe/1", "model": "m", "property": "causality", "applicable": True,
                                                       "causal": True, "max_abs_action_change": 0.0, "calls": 40}))
    (probes / "plausibility.json").write_text(json.dumps({"schema": "wam.probe/1", "model": "m", "property": "plausibility",
                                                          "applicable": False, "reason": "no predicted future"}))
    page = build_report(ReportConfig(results=[tmp_path / "a"], out=tmp_path / "r", probes=[probes])).read_text()
    assert "The five WAM properties" in page and "causal: max action change 0 over 40 calls" in page
    assert "not applicable: no predicted future" in page and page.count("<td>not measured</td>") == 3
    (tmp_path / "x.json").write_text(json.dumps({"schema": "wam.sweep/1"}))
    with pytest.raises(WamError, match="is not a `wam probe` result"):
        build_report(ReportConfig(results=[tmp_path / "a"], out=tmp_path / "r2", probes=[tmp_path / "x.json"]))


def test_evaluation_time_adds_up_over_resumed_runs_and_survives_a_re_summary(tmp_path):
    from wam.runner.evaluate import evaluation_seconds

    killed_then_resumed = [{"invocation": 1, "elapsed_s": 10.0}, {"invocation": 1, "elapsed_s": 30.0}, {"invocation": 2, "elapsed_s": 5.0}]
    assert evaluation_seconds(killed_then_resumed, tmp_path / "none.json", 0.1) == 35.0
    (tmp_path / "eval.json").write_text(json.dumps({"eval_seconds": 622.2}))
    untimed = [{"task": "a"}, {"task": "b"}]  # episodes logged before the bookkeeping: keep the measured figure
    assert evaluation_seconds(untimed, tmp_path / "eval.json", 0.1) == 622.2
    assert evaluation_seconds(untimed, tmp_path / "none.json", 12.34) == 12.3


def test_evaluations_record_flops_per_call_and_worker_memory(tiny_checkpoint, tmp_path):
    from wam.eval.metrics import flops_per_call

    result = evaluate(EvalConfig(checkpoint=tiny_checkpoint, out=tmp_path / "ev", episodes=1, max_steps=4, workers=1,
                                 videos=0, tasks="reach-v3", action_steps=4))
    model, _ = load_model(tiny_checkpoint)
    # counted, not estimated: the same count from the same weights, and more than the image encoder's first layer alone
    assert result["flops_per_call"] == flops_per_call(model, model.window.n_obs_steps, tuple(model.spec.image_shape), model.spec.state_dim)
    assert result["flops_per_call"] > 1e5 and result["worker_peak_rss_mib"] > 50

    class Broken:
        def reset(self):
            pass

        def act(self, observation, generator=None):
            raise RuntimeError("no")

    assert flops_per_call(Broken(), 1, (8, 8, 3), 4) is None


def test_flow_policy_sampling_temperature_and_steps_are_runtime_options(tiny_checkpoint, tmp_path):
    model, _ = load_model(tiny_checkpoint)
    env = MetaWorldEnv("reach-v3")
    try:
        obs_seen = []
        spy = SpyModel(model)
        run_episode(spy, env, seed=3_000_000, task_index=0, regime=Chunked(2), max_steps=2)
        obs_seen = spy.seen[0]
    finally:
        env.close()

    def chunk(seed):
        return model.act(obs_seen, generator=torch.Generator().manual_seed(seed))

    assert not torch.allclose(chunk(1), chunk(2))  # full temperature: the noise matters
    model.set_runtime_option("noise_scale", "0")
    assert torch.equal(chunk(1), chunk(2))  # the prior's mode: deterministic
    model.set_runtime_option("sampling_steps", "3")
    assert model.runtime_values() == {"sampling_steps": "3", "noise_scale": "0.0"}
    for name, value in (("noise_scale", "1.5"), ("noise_scale", "hot"), ("sampling_steps", "0"), ("temperature", "1")):
        with pytest.raises(WamError, match=name):
            model.set_runtime_option(name, value)
    # The chosen values are part of the evaluation's protocol, on the validation split.
    result = evaluate(EvalConfig(checkpoint=tiny_checkpoint, out=tmp_path / "val", episodes=1, max_steps=4, workers=1,
                                 videos=0, tasks="reach-v3", action_steps=2, split="validation", option=("noise_scale=0.5",)))
    assert result["protocol"]["seed_split"] == "validation" and result["protocol"]["seeds"] == [3_000_000]
    assert result["protocol"]["model_options"]["noise_scale"] == "0.5"

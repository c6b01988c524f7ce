"""`wam suite`: the matched comparison, end to end on tiny budgets."""

from __future__ import annotations

import json
import shutil

import pytest

from wam.errors import WamError


def test_suite_trains_evaluates_and_reports_every_model_at_one_budget(tiny_dataset, tmp_path):
    from wam.runner.suite import SuiteConfig, suite

    cfg = dict(dataset=tiny_dataset, models="flow-policy,joint-diffusion", minutes=0, steps=3, autoencoder_steps=2,
               episodes=1, tasks="reach-v3", workers=1, videos=0, max_steps=8, action_steps=4,
               runs=tmp_path / "runs", out=tmp_path / "out")
    summary = suite(SuiteConfig(**cfg))
    assert [r["model"] for r in summary["models"]] == ["flow-policy", "joint-diffusion"]
    # the pixel WAM pays for its autoencoder out of the same budget
    assert [r["training_steps"] for r in summary["models"]] == [3, 1]
    auto = json.loads((tmp_path / "runs" / "autoencoder" / "model" / "config.json").read_text())
    assert auto["train"]["steps"] == 2
    for name in ("flow-policy", "joint-diffusion"):
        result = json.loads((tmp_path / "out" / name / "eval.json").read_text())
        assert result["protocol"]["episodes_per_task"] == 1 and result["failure_tags"]["episodes"] == 1
        assert result["phase_success"]["reach-v3"]["n"] == 1
    page = (tmp_path / "out" / "report" / "index.html").read_text()
    assert "flow-policy" in page and "joint-diffusion" in page and "Why episodes failed" in page
    assert "Per-phase success" in page and "reached → success" in page
    assert "--steps 3" in summary["command"] and (tmp_path / "out" / "suite.json").exists()
    # rerun: everything is finished, so nothing trains or runs again
    log = tmp_path / "out" / "flow-policy" / "episodes.jsonl"
    episodes = log.read_text()
    assert suite(SuiteConfig(**cfg))["models"] == summary["models"]
    assert log.read_text() == episodes and len(episodes.splitlines()) == 1
    with pytest.raises(WamError, match="trained with a budget"):
        suite(SuiteConfig(**{**cfg, "steps": 4}))
    # a probe written into a model's evaluation folder joins the suite report's property table
    from wam.runner.probe import ProbeConfig, probe

    probe(ProbeConfig(checkpoint=tmp_path / "runs" / "flow-policy" / "model", property="causality", tasks="reach-v3",
                      states=1, candidates=2, max_warmup=2, out=tmp_path / "out" / "flow-policy" / "probe"))
    suite(SuiteConfig(**cfg))
    assert "causal: max action change" in (tmp_path / "out" / "report" / "index.html").read_text()
    # finished on another machine: the committed evaluations stand without their training runs
    assert all(r["machine"] and r["finished"] for r in summary["models"])
    shutil.rmtree(tmp_path / "runs")
    assert suite(SuiteConfig(**cfg))["models"] == summary["models"]
    assert not (tmp_path / "runs").exists() and log.read_text() == episodes


def test_suite_keeps_the_proposer_while_a_scorer_is_unfinished(tiny_dataset, tmp_path):
    from wam.runner.suite import ENTRY, SuiteConfig, suite

    cfg = dict(dataset=tiny_dataset, models="flow-policy,latent-rollout", minutes=0, steps=2, episodes=1,
               tasks="reach-v3", workers=1, videos=0, max_steps=8, action_steps=4,
               runs=tmp_path / "runs", out=tmp_path / "out")
    first = suite(SuiteConfig(**cfg))
    assert first["models"][1]["model"] == "latent-rollout"
    # the scorer is unfinished and every run folder is gone: the proposer trains again for it (its own
    # finished row stands and is not re-evaluated), then the scorer trains and evaluates
    shutil.rmtree(tmp_path / "runs")
    shutil.rmtree(tmp_path / "out" / "latent-rollout")
    proposer_log = (tmp_path / "out" / "flow-policy" / "episodes.jsonl").read_text()
    again = suite(SuiteConfig(**cfg))
    assert (tmp_path / "runs" / "flow-policy" / "model" / "config.json").exists()
    assert (tmp_path / "out" / "latent-rollout" / ENTRY).exists()
    assert again["models"][0] == first["models"][0]
    assert (tmp_path / "out" / "flow-policy" / "episodes.jsonl").read_text() == proposer_log
    # another protocol is not read from a finished entry: it evaluates (and refuses the old folder)
    with pytest.raises(WamError, match="another protocol"):
        suite(SuiteConfig(**{**cfg, "max_steps": 9}))


def test_suite_refuses_bad_input_before_training(tiny_dataset, tmp_path):
    from wam.runner.suite import SuiteConfig, agent_models

    assert "autoencoder" not in agent_models() and {"flow-policy", "latent-rollout", "encoder-only"} <= set(agent_models())
    base = dict(dataset=tiny_dataset, runs=tmp_path / "r", out=tmp_path / "o")
    with pytest.raises(WamError, match="unknown model 'diffusion-magic'"):
        SuiteConfig(**base, models="flow-policy,diffusion-magic")
    with pytest.raises(WamError, match="is a substrate"):
        SuiteConfig(**base, models="autoencoder")
    with pytest.raises(WamError, match="must be above 0 and leave part"):
        SuiteConfig(**base, models="joint-diffusion", minutes=5, autoencoder_minutes=5)
    with pytest.raises(WamError, match="must be above 0 and below --steps"):
        SuiteConfig(**base, models="joint-diffusion", minutes=0, steps=100)  # a steps budget needs the autoencoder's steps
    # the default: every agent; the proposer trains before the scorer; only true autoencoder users pay for it
    default = SuiteConfig(**base)
    assert set(default.model_list) == set(agent_models()) and default.model_list[0] == "flow-policy"
    assert default.autoencoder_users == {"joint-diffusion", "predict-then-act"}  # teacher-target's default teacher is EMA
    assert SuiteConfig(**base, models="teacher-target", model_overrides=("teacher-target:teacher=autoencoder",)).autoencoder_users == {"teacher-target"}
    with pytest.raises(WamError, match="latent-rollout select among another model's chunks"):
        SuiteConfig(**base, models="latent-rollout,encoder-only")
    with pytest.raises(WamError, match="names 'encoder-only', which is not in --models"):
        SuiteConfig(**base, models="flow-policy", model_overrides=("encoder-only:future_weight=0.5",))


def test_suite_keeps_the_pace_of_rows_trained_on_another_machine(tiny_dataset, tmp_path, monkeypatch):
    """A minutes budget buys a machine's steps: beside a row trained elsewhere, a machine at another
    pace stops (check), trains the same compute (scale) or trains the nominal minutes (off)."""
    import wam.runner.suite as suite_module
    from wam.runner.suite import ENTRY, PACE, SuiteConfig, suite

    cfg = dict(dataset=tiny_dataset, models="flow-policy,encoder-only", minutes=0.01, episodes=1, tasks="reach-v3",
               workers=1, videos=0, max_steps=8, action_steps=4, runs=tmp_path / "runs", out=tmp_path / "out")
    runs, out, timed = tmp_path / "runs", tmp_path / "out", []

    def measure(cfg, name, plan):
        timed.append(name)
        return pace[0]

    monkeypatch.setattr(suite_module, "measure_pace", measure)
    # the first rows train here: this machine sets the pace, nothing is timed, and the runs folder
    # remembers it, so a resume after the baseline finished does not time the baseline against itself
    reference, first = suite(SuiteConfig(**cfg))["models"]
    assert timed == [] and "pace" not in first and json.loads((runs / PACE).read_text())["model"] is None
    (out / "encoder-only" / ENTRY).unlink()
    assert suite(SuiteConfig(**cfg))["models"][0] == reference and timed == []
    wanted = reference["training_steps"] / (60 * 0.01)
    # another machine (no runs folder) at half the pace: refused before anything trains, with the way on
    shutil.rmtree(runs)
    shutil.rmtree(out / "encoder-only")
    pace = [wanted / 2]
    with pytest.raises(WamError, match=r"trains flow-policy at .* 0\.50x .* --pace scale to train encoder-only with a budget of 0\.02 minutes"):
        suite(SuiteConfig(**cfg))
    assert timed == ["flow-policy"] and not (runs / "encoder-only").exists()
    # scaled: the same compute, twice the minutes here, from the kept measurement; the entry's terms
    # keep the nominal budget, so the row matches the others
    rows = suite(SuiteConfig(**cfg, pace="scale"))["models"]
    assert timed == ["flow-policy"]
    saved = json.loads((runs / "encoder-only" / "model" / "config.json").read_text())
    assert saved["train"]["train_config"]["minutes"] == 0.02
    entry = json.loads((out / "encoder-only" / ENTRY).read_text())
    assert entry["terms"]["minutes"] == 0.01 and entry["row"]["training_minutes"] == 0.01
    assert entry["row"]["wall_minutes"] == 0.02 and entry["row"]["pace"]["ratio"] == 0.5
    assert entry["row"]["pace"]["minutes_scale"] == pytest.approx(2.0, abs=1e-3) and rows[1] == entry["row"]
    # killed before its entry was written: the rerun keeps the budget its run started with
    (out / "encoder-only" / ENTRY).unlink()
    assert suite(SuiteConfig(**cfg, pace="scale"))["models"] == rows and timed == ["flow-policy"]
    assert suite(SuiteConfig(**cfg))["models"] == rows  # finished: no pace to keep, nothing timed
    assert timed == ["flow-policy"] and json.loads((out / "suite.json").read_text())["pace"] is None
    # within the tolerance the nominal budget stands; --pace off never times anything
    for gone in (runs, out / "encoder-only"):
        shutil.rmtree(gone)
    pace = [wanted * 1.1]
    rows = suite(SuiteConfig(**cfg))["models"]
    assert rows[1]["pace"]["minutes_scale"] == 1.0 and rows[1]["wall_minutes"] == 0.01 and len(timed) == 2
    for gone in (runs, out / "encoder-only"):
        shutil.rmtree(gone)
    pace = [wanted / 2]
    rows = suite(SuiteConfig(**cfg, pace="off"))["models"]
    assert "pace" not in rows[1] and len(timed) == 2
    with pytest.raises(WamError, match="unknown --pace 'fast': choose one of check, scale, off"):
        SuiteConfig(**cfg, pace="fast")


def test_a_hand_edited_pace_record_is_refused_in_one_line(tmp_path):
    """A kept pace.json decides the budget of every later row, so a damaged one is named, never half-used."""
    from wam.runner.suite import read_pace_record

    path = tmp_path / "pace.json"
    good = {"model": "flow-policy", "machine": "m", "steps_per_s": 2.9, "reference_steps_per_s": 5.7, "ratio": 0.51}
    path.write_text(json.dumps(good))
    assert read_pace_record(path) == good
    path.write_text(json.dumps({"model": None, "machine": "m"}))  # "this machine sets the pace" needs no speeds
    assert read_pace_record(path)["model"] is None
    for damaged, problem in [({k: v for k, v in good.items() if k != "model"}, "needs the keys 'model' and 'machine'"),
                             ([good], "needs the keys"),
                             (good | {"steps_per_s": 0}, "'steps_per_s' must be a positive number"),
                             (good | {"reference_steps_per_s": "5.7"}, "'reference_steps_per_s' must be a positive")]:
        path.write_text(json.dumps(damaged))
        with pytest.raises(WamError, match=f"pace record .*pace.json is corrupt \\(.*{problem}.*delete it"):
            read_pace_record(path)
    path.write_text('{"model": "flow-')
    with pytest.raises(WamError, match="pace record is corrupt"):
        read_pace_record(path)

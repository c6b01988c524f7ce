"""The feature-substrate WAMs: encoder-only (Fast-WAM lineage)."""

from __future__ import annotations

import pytest
import torch

from wam.data.cache import TrainingCache
from wam.errors import WamError

OBS = dict(encoder_channels=(8, 16), image_features=32, cond_dim=32, task_embedding_dim=8)
HEAD = dict(chunk=4, width=32, depth=1, noise_samples=2, sampling_steps=2)


def _model(name: str, dataset, **kw):
    from wam.models import model_class

    cache = TrainingCache(dataset)
    cls = model_class(name)
    model = cls(cls.config_class(**OBS, **HEAD, **kw), cache.spec())
    model.set_normalization(cache.stats())
    return model, cache


def _batch(cache, model, n=8):
    return cache.batch(torch.arange(n).numpy() * 3, model.window)


def _obs(batch):
    return {k: batch[k] for k in ("image", "state", "task_index")}


ENC = dict(future_offsets=(2, 4), future_size=16, future_dim=16)


def _fit(model, batch, steps: int) -> tuple[dict, dict]:
    """Train on one batch with the same noise every step (a fixed regression target), as the
    trainer does (optimiser step, then the model's own after-step update); the first and last
    step's loss terms."""
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    first = info = None
    for step in range(steps):
        torch.manual_seed(1)
        loss, info = model.loss(batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        model.after_optimizer_step(step + 1)
        first = first or info
    return first, info


def test_encoder_only_with_the_future_masked_is_exactly_the_baseline(tiny_dataset):
    """Imagination off, `act` runs the baseline's computation: the same encoder and head weights in
    a flow-policy give bit-identical actions, and the future branch never runs."""
    from wam.models import model_class

    torch.manual_seed(0)
    model, cache = _model("encoder-only", tiny_dataset, **ENC)
    policy_cls = model_class("flow-policy")
    policy = policy_cls(policy_cls.config_class(**OBS, **HEAD), cache.spec())
    missing, unexpected = policy.load_state_dict(model.state_dict(), strict=False)
    assert not missing and all(k.startswith(("future_head.", "decoder.", "imagination.")) for k in unexpected)
    calls = []
    model.future_head.register_forward_hook(lambda *a: calls.append(1))
    obs = _obs(_batch(cache, model, 2))
    g = lambda: torch.Generator().manual_seed(5)  # noqa: E731
    a = model.eval().act(obs, generator=g())
    torch.testing.assert_close(a, policy.eval().act(obs, generator=g()), atol=0, rtol=0)
    assert calls == [] and model.last_prediction() is None
    assert model.num_parameters() > policy.num_parameters()  # the future branch exists, unused at test


def test_test_time_imagination_is_one_runtime_flag(tiny_dataset):
    torch.manual_seed(0)
    model, cache = _model("encoder-only", tiny_dataset, **ENC)
    with torch.no_grad():  # as if trained: open the zero-initialised gates (FiLM blocks, imagination)
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    obs = _obs(_batch(cache, model, 2))
    g = lambda: torch.Generator().manual_seed(5)  # noqa: E731
    off = model.eval().act(obs, generator=g())
    model.set_runtime_option("imagine", "true")
    assert model.runtime_values() == {"imagine": "true"}
    on = model.act(obs, generator=g())
    assert not torch.allclose(off, on)
    pred = model.last_prediction()
    assert pred["offsets"] == [2, 4] and pred["frames"].shape == (2, 2, *cache.spec().image_shape)
    with pytest.raises(WamError, match="imagine must be true or false, got 'maybe'"):
        model.set_runtime_option("imagine", "maybe")
    with pytest.raises(WamError, match="no runtime option 'future_steps'"):
        model.set_runtime_option("future_steps", "3")


def test_encoder_only_unlabelled_episodes_train_the_trunk_through_the_future_alone(tiny_dataset):
    torch.manual_seed(0)
    model, cache = _model("encoder-only", tiny_dataset, **ENC)
    batch = _batch(cache, model)
    batch["labelled"][:] = False
    batch["action"].normal_()
    loss, info = model.loss(batch)
    loss.backward()
    assert info["action_loss"] == 0.0 and info["future_loss"] > 0
    assert all(p.grad is None or float(p.grad.abs().sum()) == 0 for p in model.head.velocity.out.parameters())
    assert any(p.grad is not None and float(p.grad.abs().sum()) > 0 for p in model.encoder.parameters())


def test_encoder_only_overfits_a_tiny_batch_in_both_objectives(tiny_dataset):
    torch.manual_seed(0)
    model, cache = _model("encoder-only", tiny_dataset, **ENC, shift_pad=0)
    batch = _batch(cache, model)
    first, info = _fit(model, batch, steps=150)
    assert info["future_loss"] < 0.3 * first["future_loss"] and info["action_loss"] < 0.3 * first["action_loss"], (first, info)


def test_encoder_only_bad_settings_are_one_line_errors(tiny_dataset):
    for kw, message in [
        (dict(future_size=24), "future_size must be a power of two"),
        (dict(imagination_dropout=1.5), "imagination_dropout must be in"),
        (dict(future_offsets=()), "future_offsets must name"),
    ]:
        with pytest.raises(WamError, match=message):
            _model("encoder-only", tiny_dataset, **kw)


# -- teacher-target (FLARE lineage) ---------------------------------------------------------------
def test_the_ema_teacher_follows_its_student_and_never_trains(tiny_dataset):
    torch.manual_seed(0)
    model, cache = _model("teacher-target", tiny_dataset, future_offsets=(2, 4), teacher_momentum=0.9)
    teacher = [p.detach().clone() for p in model.teacher.parameters()]
    assert all(torch.equal(t, s) for t, s in zip(teacher, model.encoder.images.parameters()))  # starts as a copy
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    loss, info = model.loss(_batch(cache, model))
    loss.backward()
    assert all(p.grad is None for p in model.teacher.parameters())
    opt.step()
    model.after_optimizer_step(1)
    for before, now, student in zip(teacher, model.teacher.parameters(), model.encoder.images.parameters()):
        torch.testing.assert_close(now, 0.9 * before + 0.1 * student.detach())
    assert info["alignment_loss"] > 0


def test_teacher_target_unlabelled_episodes_train_by_alignment_alone(tiny_dataset):
    torch.manual_seed(0)
    model, cache = _model("teacher-target", tiny_dataset, future_offsets=(2, 4))
    batch = _batch(cache, model)
    batch["labelled"][:] = False
    batch["action"].normal_()
    loss, info = model.loss(batch)
    loss.backward()
    assert info["action_loss"] == 0.0 and info["alignment_loss"] > 0
    assert all(p.grad is None or float(p.grad.abs().sum()) == 0 for p in model.head.velocity.out.parameters())
    assert float(model.predictor[-1].weight.grad.abs().sum()) > 0


def test_teacher_target_aligns_its_prediction_on_a_tiny_batch(tiny_dataset):
    torch.manual_seed(0)
    model, cache = _model("teacher-target", tiny_dataset, future_offsets=(2, 4), shift_pad=0)
    batch = _batch(cache, model)
    first, info = _fit(model, batch, steps=100)  # the EMA teacher follows the student after each step
    assert info["alignment_loss"] < 0.3 * first["alignment_loss"], (first, info)
    obs = _obs(batch)
    err = model.alignment_error(obs, batch["future_image"])
    assert err.shape == (8, 2) and float(err.mean()) < first["alignment_loss"]
    # aligned, not collapsed: the teacher still tells the frames apart
    target = torch.nn.functional.normalize(model.teacher.embed(batch["future_image"].flatten(0, 1)), dim=-1)
    similarity = target @ target.T
    assert float(similarity[~torch.eye(len(target), dtype=torch.bool)].min()) < 0.99


def test_an_unknown_teacher_is_a_one_line_error(tiny_dataset):
    with pytest.raises(WamError, match="unknown teacher 'dino'; valid: autoencoder, ema"):
        _model("teacher-target", tiny_dataset, teacher="dino")


def test_the_autoencoder_teacher_is_frozen_and_must_exist(tiny_dataset, tmp_path):
    from conftest import train_config
    from wam.train.trainer import train

    ae = train(train_config(tiny_dataset, tmp_path / "ae", steps=3, model="autoencoder",
                            model_overrides=("channels=8,16,16", "latent_channels=4")))
    model, cache = _model("teacher-target", tiny_dataset, future_offsets=(2, 4), teacher="autoencoder",
                          autoencoder=str(ae), autoencoder_channels=(8, 16, 16), latent_channels=4)
    model.prepare_training()
    frozen = [p.detach().clone() for p in model.teacher.parameters()]
    assert not any(p.requires_grad for p in model.teacher.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    loss, _ = model.loss(_batch(cache, model))
    loss.backward()
    assert all(p.grad is None for p in model.teacher.parameters())
    opt.step()
    model.after_optimizer_step(1)
    assert all(torch.equal(a, b) for a, b in zip(frozen, model.teacher.parameters()))
    assert model.teacher.dim == 4 * 8 * 8  # the flattened latent map of 64 px frames
    missing, _ = _model("teacher-target", tiny_dataset, teacher="autoencoder", autoencoder=str(tmp_path / "none"))
    with pytest.raises(WamError, match="autoencoder checkpoint not found"):
        missing.prepare_training()


# -- latent actions (LAPA / Genie lineage) -------------------------------------------------------
LAT = dict(latent_offset=2, codebook_size=4, code_dim=8, lam_channels=(8, 16), future_size=16)


def test_latent_actions_are_learned_from_video_alone(tiny_dataset):
    """The LAM and the latent policy never read action labels: their losses are identical whatever
    the labels hold, and an action-free batch trains them but not the action decoder."""
    torch.manual_seed(0)
    model, cache = _model("latent-action", tiny_dataset, **LAT)
    batch = _batch(cache, model)
    torch.manual_seed(1)
    _, with_labels = model.loss(batch)
    batch["labelled"][:] = False
    batch["action"].normal_()
    torch.manual_seed(1)
    loss, without = model.loss(batch)
    for key in ("reconstruction_loss", "latent_policy_loss", "codes_used"):
        assert with_labels[key] == without[key]
    loss.backward()
    assert without["action_loss"] == 0.0
    assert all(p.grad is None or float(p.grad.abs().sum()) == 0 for p in model.head.velocity.out.parameters())
    assert float(model.lam_encoder.proj[1].weight.grad.abs().sum()) > 0  # straight-through to the LAM encoder
    assert float(model.quantizer.codebook.weight.grad.abs().sum()) > 0


def test_the_quantizer_picks_the_nearest_code_and_passes_gradients_straight_through():
    from wam.models.latent_action import VectorQuantizer

    vq = VectorQuantizer(3, 2)
    with torch.no_grad():
        vq.codebook.weight.copy_(torch.tensor([[-1.0, 0.0], [2.0, 0.0], [0.0, 0.5]]))  # directions matter, not lengths
    z = torch.tensor([[0.9, 0.1], [0.1, 0.8], [-0.3, -0.1]], requires_grad=True)
    q, codes, codebook_loss, commitment, diversity = vq(z)
    assert codes.tolist() == [1, 2, 0]
    torch.testing.assert_close(q.detach(), torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]]))
    (q * torch.randn(3, 2, generator=torch.Generator().manual_seed(0))).sum().backward()
    assert z.grad is not None and float(z.grad.abs().sum()) > 0  # straight through to the encoder
    assert float(codebook_loss.detach()) > 0 and float(commitment.detach()) > 0 and 0 <= float(diversity.detach()) < 1


def test_latent_action_model_overfits_a_tiny_batch(tiny_dataset):
    torch.manual_seed(0)
    model, cache = _model("latent-action", tiny_dataset, **LAT, shift_pad=0)
    batch = _batch(cache, model)
    first, info = _fit(model, batch, steps=150)
    assert info["reconstruction_loss"] < 0.5 * first["reconstruction_loss"], (first, info)
    assert info["action_loss"] < 0.5 * first["action_loss"], (first, info)
    assert info["latent_policy_accuracy"] >= 0.9, info
    assert model.act(_obs(batch)).shape == (8, 4, 4)


# -- the label-efficiency curve ---------------------------------------------------------------------
def test_label_masks_are_nested_across_budgets(tiny_dataset):
    from wam.data.cache import label_mask

    cache = TrainingCache(tiny_dataset)  # 3 episodes per task
    full, two, one, per_task = (label_mask(cache, fraction=f, per_task=n, seed=0)
                                for f, n in ((1.0, None), (0.67, None), (0.34, None), (1.0, 1)))
    assert full.all() and (one <= two).all() and (per_task <= two).all() and (per_task == one).all()
    assert one.any() and not two.all() and two.sum() > one.sum()


def test_label_efficiency_trains_evaluates_and_resumes(tiny_dataset, tmp_path):
    import dataclasses
    import json

    from conftest import TINY
    from wam.runner.label_efficiency import LabelEfficiencyConfig, label_efficiency

    tiny = [f"{m}:{k}={v}" for m in ("flow-policy", "encoder-only") for k, v in TINY.items()]
    tiny += ["encoder-only:future_offsets=2,4", "encoder-only:future_size=16", "encoder-only:future_dim=16"]
    cfg = LabelEfficiencyConfig(dataset=tiny_dataset, models="flow-policy,encoder-only", labels="1.0,1/task", minutes=0,
                                steps=3, threads=1, episodes=1, tasks="reach-v3", workers=1, max_steps=10, action_steps=2,
                                runs=tmp_path / "runs", out=tmp_path / "out", model_overrides=tuple(tiny))
    summary = label_efficiency(cfg)
    points = {(p["model"], p["setting"]): p for p in summary["points"]}
    assert set(points) == {(m, s) for m in ("flow-policy", "encoder-only") for s in ("1", "1-per-task")}
    assert points["flow-policy", "1"]["labelled_episodes"] == 6  # 3 per task, 2 tasks
    assert points["encoder-only", "1-per-task"]["labelled_episodes"] == 2
    assert points["encoder-only", "1"]["kind"] == "WAM" and points["flow-policy", "1"]["kind"] == "policy"
    assert (tmp_path / "out" / "label-efficiency.png").stat().st_size > 0
    saved = json.loads((tmp_path / "out" / "label-efficiency.json").read_text())
    assert saved["points"] == summary["points"] and saved["command"].startswith("wam label-efficiency")
    # a rerun trains and evaluates nothing again
    stamp = (tmp_path / "runs" / "flow-policy" / "1" / "model" / "model.safetensors").stat().st_mtime_ns
    assert label_efficiency(cfg)["points"] == summary["points"]
    assert (tmp_path / "runs" / "flow-policy" / "1" / "model" / "model.safetensors").stat().st_mtime_ns == stamp
    # --extend: a model joins an existing curve; the other models' points come from the file, untouched
    earlier = tmp_path / "out" / "label-efficiency.json"
    only = dict(models="encoder-only", model_overrides=tuple(o for o in tiny if o.startswith("encoder-only:")))
    grown = label_efficiency(dataclasses.replace(cfg, **only, extend=earlier, out=tmp_path / "out-x"))
    assert grown["points"] == summary["points"] and len(grown["commands"]) == 2
    assert grown["commands"][0] == saved["command"] and "--models encoder-only" in grown["commands"][1]
    in_place = dataclasses.replace(cfg, **only, extend=tmp_path / "out-x" / "label-efficiency.json", out=tmp_path / "out-x")
    again = label_efficiency(in_place)  # extending the file in place: its command joins the list...
    assert again["points"] == grown["points"] and len(again["commands"]) == 3
    assert label_efficiency(in_place)["commands"] == again["commands"]  # ...once, however often it reruns
    other = json.loads(earlier.read_text())
    other["budget"]["steps"] = 4
    (tmp_path / "other.json").write_text(json.dumps(other))
    with pytest.raises(WamError, match="has another budget"):
        label_efficiency(dataclasses.replace(cfg, **only, extend=tmp_path / "other.json", out=tmp_path / "out-y"))
    # a curve written before --sampling existed sampled frames: it is not a task-balanced curve
    legacy = json.loads(earlier.read_text())
    assert legacy.pop("sampling") == "tasks"
    (tmp_path / "legacy.json").write_text(json.dumps(legacy))
    with pytest.raises(WamError, match="has another sampling \\('frames', not 'tasks'\\)"):
        dataclasses.replace(cfg, **only, extend=tmp_path / "legacy.json", out=tmp_path / "out-y")
    # a command may run some of a model's settings: the file keeps that model's other points
    # (a model gains settings one command at a time), and the rerun setting's point is replaced, never
    # doubled; a model's rows stay together, most labels first
    fewer = label_efficiency(dataclasses.replace(cfg, **only, labels="1.0", extend=earlier, out=tmp_path / "out-y"))
    assert [(p["model"], p["setting"]) for p in fewer["points"]] == [
        ("flow-policy", "1"), ("flow-policy", "1-per-task"), ("encoder-only", "1"), ("encoder-only", "1-per-task")]
    assert fewer["points"][3] == points["encoder-only", "1-per-task"]
    # and a model absent from the file joins with fewer settings than the others have
    gone = json.loads(earlier.read_text())
    gone["points"] = [p for p in gone["points"] if p["model"] != "encoder-only"]
    (tmp_path / "no-encoder.json").write_text(json.dumps(gone))
    joined = label_efficiency(dataclasses.replace(cfg, **only, labels="1.0", extend=tmp_path / "no-encoder.json", out=tmp_path / "out-z"))
    assert [(p["model"], p["setting"]) for p in joined["points"]] == [("flow-policy", "1"), ("flow-policy", "1-per-task"), ("encoder-only", "1")]
    with pytest.raises(WamError, match="no such file"):
        dataclasses.replace(cfg, extend=tmp_path / "missing.json")
    # two points at a time, each in its own process: the same numbers and bit-identical weights
    # (one setting, so the two models' points run side by side; the other setting is the serial path's)
    parallel = label_efficiency(dataclasses.replace(cfg, labels="1/task", runs=tmp_path / "runs-2", out=tmp_path / "out-2", jobs=2))
    same = lambda ps: [{k: p[k] for k in ("model", "setting", "labelled_episodes", "mean_success", "training_steps")} for p in ps]  # noqa: E731
    serial = [p for p in summary["points"] if p["setting"] == "1-per-task"]
    assert same(parallel["points"]) == same(serial) and "--jobs 2" in parallel["command"]
    for run in ("flow-policy/1-per-task", "encoder-only/1-per-task"):
        weights = [(tmp_path / r / run / "model" / "model.safetensors").read_bytes() for r in ("runs", "runs-2")]
        assert weights[0] == weights[1], run
    assert (tmp_path / "runs-2" / "flow-policy" / "1-per-task" / "point.log").exists()
    # the same run folders under another budget are refused, not silently reused
    with pytest.raises(WamError, match="was trained with a budget of 0 min / 3 steps, not 0 min / 4 steps"):
        label_efficiency(dataclasses.replace(cfg, steps=4))
    with pytest.raises(WamError, match="was trained with a budget"):
        label_efficiency(dataclasses.replace(cfg, steps=4, jobs=2))
    with pytest.raises(WamError, match="jobs must be >= 1"):
        dataclasses.replace(cfg, jobs=0)
    with pytest.raises(WamError, match="names the same setting twice"):
        dataclasses.replace(cfg, labels="1.0,1")
    with pytest.raises(WamError, match="has no config field 'wings'"):
        dataclasses.replace(cfg, model_overrides=("encoder-only:wings=2",))


# -- the causality probe -------------------------------------------------------------------------------
def test_causality_probe_passes_a_causal_policy_and_catches_a_leaky_one(tiny_checkpoint, tmp_path):
    """A model that only reads its history is causal (the action does not move at all when futures
    are handed in); a deliberately leaky one that peeks at the next frame fails."""
    import numpy as np

    from wam.envs.metaworld import MetaWorldEnv, instruction_for
    from wam.runner.probe import ProbeConfig, causality_state, probe
    from wam.train.checkpoint import load_model

    result = probe(ProbeConfig(checkpoint=tiny_checkpoint, property="causality", out=tmp_path / "p", tasks="reach-v3",
                               states=2, candidates=2, max_warmup=3))
    assert result["applicable"] and result["causal"] and result["max_abs_action_change"] == 0.0
    assert result["calls"] == 4 and (tmp_path / "p" / "causality.json").exists()

    model, _ = load_model(tiny_checkpoint)
    honest_act = type(model).act

    def leaky_act(self, observation, generator=None):
        action = honest_act(self, observation, generator)
        if "future_image" in observation:  # reads the frame after t
            action = action + observation["future_image"][:, :1].float().mean() / 255.0
        return action

    model.act = leaky_act.__get__(model)
    env = MetaWorldEnv("reach-v3")
    try:
        task_index = model.spec.task_names.index(instruction_for("reach-v3"))
        state = causality_state(model, env, seed=1_000_000, task_index=task_index, warmup=2, candidates=2,
                                rng=np.random.default_rng(0), generator_seed=0)
    finally:
        env.close()
    assert all(state["changed"]) and min(state["max_abs_action_change"]) > 0


def test_generalization_probe_reports_success_per_named_shift(tiny_checkpoint, tmp_path):
    from wam.runner.probe import ProbeConfig, probe

    result = probe(ProbeConfig(checkpoint=tiny_checkpoint, property="generalization", out=tmp_path / "g", tasks="reach-v3",
                               shifts="none,lighting-dim", episodes=1, workers=1, action_steps=4, max_steps=20))
    assert set(result["per_shift"]) == {"none", "lighting-dim"} and result["per_shift"]["none"]["drop_vs_none"] == 0.0
    shifted = (tmp_path / "g" / "generalization" / "lighting-dim" / "eval.json").read_text()
    assert '"shift": "lighting-dim"' in shifted
    with pytest.raises(WamError, match="unknown visual shift 'fog'"):
        ProbeConfig(checkpoint=tiny_checkpoint, property="generalization", shifts="none,fog")
    with pytest.raises(WamError, match="must include 'none'"):
        ProbeConfig(checkpoint=tiny_checkpoint, property="generalization", shifts="lighting-dim")


# -- few-shot unseen tasks ---------------------------------------------------------------------------
def test_init_from_keeps_trained_weights_and_gives_new_tasks_the_mean_task_row(tiny_checkpoint):
    import torch

    from wam.data.cache import DataSpec
    from wam.train.checkpoint import load_model, read_model_config
    from wam.train.finetune import checkpoint_config, init_from_checkpoint

    trained, meta = load_model(tiny_checkpoint)
    old = DataSpec.from_json(meta["data_spec"])
    spec = DataSpec.from_json({**old.to_json(), "task_names": ["open the window wide", old.task_names[1]]})
    config, _ = checkpoint_config(tiny_checkpoint, trained.name)
    model = type(trained)(config, spec)
    info = init_from_checkpoint(model, tiny_checkpoint)
    assert info["new_tasks"] == ["open the window wide"] and info["known_tasks"] == [old.task_names[1]]
    before, after = trained.state_dict(), model.state_dict()
    table = next(k for k in after if k.endswith("task.weight"))
    torch.testing.assert_close(after[table][1], before[table][1])  # a known task keeps its row, wherever it sits
    torch.testing.assert_close(after[table][0], before[table].mean(0))  # a new one starts from the mean
    assert all(torch.equal(after[k], before[k]) for k in after if k != table and not k.endswith("instruction_table"))
    with pytest.raises(WamError, match="holds a 'flow-policy' model, not 'encoder-only'"):
        checkpoint_config(tiny_checkpoint, "encoder-only")
    assert read_model_config(tiny_checkpoint)["model"] == "flow-policy"


def test_generalization_probe_learns_unseen_tasks_from_few_shots(tiny_checkpoint, tmp_path):
    import json

    from wam.runner.probe import ProbeConfig, probe

    common = dict(checkpoint=tiny_checkpoint, property="generalization", tasks="reach-v3", shifts="none", episodes=1,
                  workers=1, action_steps=4, max_steps=10)
    result = probe(ProbeConfig(**common, out=tmp_path / "g", unseen_tasks="drawer-open-v3", shots=1, finetune_steps=2))
    unseen = result["unseen_tasks"]
    assert unseen["tasks"] == ["drawer-open-v3"] and unseen["shots"] == 1
    for variant in ("finetuned", "scratch"):
        assert unseen[variant]["episodes"] == 1 and set(unseen[variant]["per_task"]) == {"drawer-open-v3"}
    root = tmp_path / "g" / "generalization" / "unseen"
    finetuned = json.loads((root / "finetuned" / "model" / "config.json").read_text())
    scratch = json.loads((root / "scratch" / "model" / "config.json").read_text())
    assert finetuned["train"]["init_from"]["new_tasks"] == ["open the drawer"] and scratch["train"]["init_from"] is None
    assert finetuned["data_spec"]["task_names"] == ["open the drawer"]
    with pytest.raises(WamError, match="the model was trained on it"):
        probe(ProbeConfig(**common, out=tmp_path / "h", unseen_tasks="reach-v3"))

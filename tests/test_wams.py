"""The pixel-grounded WAM families and their parts: objectives, backbones, the autoencoder
substrate, predict-then-act, joint diffusion and its fidelity-latency dial."""

from __future__ import annotations

import json

import pytest
import torch

from conftest import TINY, train_config
from wam.data.cache import TrainingCache
from wam.errors import WamError
from wam.objectives import OBJECTIVES, make_objective

OBS_TINY = {k: v for k, v in TINY.items() if k in ("encoder_channels", "image_features", "cond_dim", "task_embedding_dim")}
AE_TINY = {"channels": "8,16,16", "latent_channels": "4"}
SUBSTRATE_TINY = {"autoencoder_channels": "8,16,16", "latent_channels": "4", "future_offsets": "2,4", "chunk": "4"}
# joint-diffusion: 8x8 latents in 2x2 patches (16 tokens per frame), one action token per 2 steps


def _overrides(d: dict) -> tuple[str, ...]:
    return tuple(f"{k}={v}" for k, v in d.items())


@pytest.fixture(scope="module")
def tiny_autoencoder(tiny_dataset, tmp_path_factory):
    from wam.train.trainer import train

    out = tmp_path_factory.mktemp("ae") / "ae"
    return train(train_config(tiny_dataset, out, steps=60, model="autoencoder", lr=3e-3, model_overrides=_overrides(AE_TINY)))


def _pta_overrides(ae) -> tuple[str, ...]:
    return _overrides(
        {**OBS_TINY, **SUBSTRATE_TINY, "autoencoder": ae, "generator_channels": "16", "generator_steps": "2",
         "future_features": "16", "width": "32", "depth": "1", "noise_samples": "2", "sampling_steps": "2"}
    )


def _joint_overrides(ae) -> tuple[str, ...]:
    return _overrides(
        {**OBS_TINY, **SUBSTRATE_TINY, "autoencoder": ae, "patch": "2", "action_group": "2", "dit_width": "32", "dit_depth": "1", "dit_heads": "2",
         "sampling_steps": "2", "future_steps": "2"}
    )


def _observation(dataset, model):
    cache = TrainingCache(dataset)
    batch = cache.batch(torch.arange(2).numpy(), model.window)
    return {k: batch[k] for k in ("image", "state", "task_index")}, batch


# -- parts -------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(OBJECTIVES))
def test_objectives_recover_a_point_mass_with_zero_loss(name):
    """With the exact denoiser for data that is always c, each sampler returns c and the loss is 0."""
    c = torch.tensor([0.7, -0.3])
    objective = make_objective(name)
    if name == "flow":
        def fn(x, t):
            return (c - x) / (1 - t[:, None]).clamp_min(1e-3)
    else:
        ac = objective.train_scheduler.alphas_cumprod

        def fn(x, t):
            step = ((1 - t) * objective.train_timesteps).round().long().clamp(0, objective.train_timesteps - 1)
            a = ac[step][:, None]
            eps = (x - a.sqrt() * c) / (1 - a).sqrt()
            return eps if objective.prediction == "epsilon" else a.sqrt() * eps - (1 - a).sqrt() * c

    torch.testing.assert_close(objective.sample(fn, torch.randn(4, 2), 10), c.expand(4, 2), atol=1e-4, rtol=0)
    assert float(objective.loss(fn, c.expand(4, 2)).max()) < 1e-8
    # and a wrong denoiser is penalised
    assert float(objective.loss(lambda x, t: torch.zeros_like(x), c.expand(4, 2)).mean()) > 1e-3


def test_unknown_part_names_are_one_line_errors():
    from wam.substrates import make_substrate

    with pytest.raises(WamError, match="unknown objective 'ddim'"):
        make_objective("ddim")
    with pytest.raises(WamError, match="unknown substrate 'vq'"):
        make_substrate("vq", 64, (8,), 4)


def test_dit_blocks_start_as_the_identity_and_condition_per_token():
    from wam.backbones.dit import DiT

    dit = DiT(width=16, depth=2, heads=2)
    x, cond = torch.randn(2, 5, 16), torch.randn(2, 2, 16)
    streams = torch.tensor([0, 0, 0, 1, 1])
    h = x
    for block in dit.blocks:
        h = block(h, cond, streams)
    torch.testing.assert_close(h, x)  # adaLN-Zero: every residual branch starts closed
    for p in dit.parameters():  # open the gates
        torch.nn.init.normal_(p, std=0.2)
    for blk in dit.blocks:  # no attention between tokens: each output sees only its own stream's condition
        torch.nn.init.zeros_(blk.attn_out.weight)
        torch.nn.init.zeros_(blk.attn_out.bias)
    cond2 = cond.clone()
    cond2[:, 1] += 1.0  # change only stream 1's condition
    delta = (dit(x, cond, streams) - dit(x, cond2, streams)).abs().sum(-1).detach()
    assert float(delta[:, :3].max()) == 0.0 and float(delta[:, 3:].min()) > 0


def test_unet_keeps_the_map_shape_and_checks_divisibility():
    from wam.backbones.unet import UNet

    net = UNet(6, 4, 8, (8, 16))
    assert net(torch.randn(2, 6, 8, 8), torch.randn(2, 8)).shape == (2, 4, 8, 8)
    with pytest.raises(WamError, match="divisible by 2"):
        net(torch.randn(1, 6, 7, 7), torch.randn(1, 8))


# -- substrate ---------------------------------------------------------------------------------
def test_autoencoder_learns_to_reconstruct_and_cannot_act(tiny_dataset, tiny_autoencoder):
    from wam.models import model_class
    from wam.train.checkpoint import load_model

    trained, meta = load_model(tiny_autoencoder)
    assert meta["role"] == "substrate" and trained.role == "substrate"
    fresh = model_class("autoencoder")(trained.config, trained.spec)
    obs, batch = _observation(tiny_dataset, trained)
    with torch.no_grad():
        _, trained_info = trained.loss(batch)
        _, fresh_info = fresh.loss(batch)
    assert trained_info["recon_mse"] < 0.5 * fresh_info["recon_mse"]
    z = trained.net.encode(obs["image"][:, -1])
    assert z.shape == (2, 4, 8, 8)
    with pytest.raises(WamError, match="substrate, not a policy"):
        trained.act(obs)


# -- reference WAM 1: predict-then-act ---------------------------------------------------------
def test_predict_then_act_trains_on_partly_unlabelled_data_acts_and_predicts(tiny_dataset, tiny_autoencoder, tmp_path):
    from wam.train.checkpoint import load_model
    from wam.train.trainer import train

    folder = train(
        train_config(tiny_dataset, tmp_path / "pta", steps=3, model="predict-then-act", label_fraction=0.5,
                     model_overrides=_pta_overrides(tiny_autoencoder))
    )
    model, meta = load_model(folder)
    assert meta["anatomy"]["coupling"] == "post-prediction head" and meta["anatomy"]["kind"] == "WAM"
    assert meta["anatomy"]["substrate"] == "pixel latent"
    obs, _ = _observation(tiny_dataset, model)
    a1 = model.act(obs, generator=torch.Generator().manual_seed(0))
    a2 = load_model(folder)[0].act(obs, generator=torch.Generator().manual_seed(0))
    assert a1.shape == (2, 4, 4) and torch.isfinite(a1).all()
    torch.testing.assert_close(a1, a2, atol=0, rtol=0)  # the frozen autoencoder travels in the checkpoint
    frames = model.predict(obs, generator=torch.Generator().manual_seed(0))
    assert frames.shape == (2, 2, 64, 64, 3) and frames.dtype == torch.uint8

    # closed loop: eval scores the imagined futures against the frames the executed actions reach
    from wam.runner.evaluate import EvalConfig, evaluate

    result = evaluate(EvalConfig(checkpoint=folder, out=tmp_path / "e", tasks="reach-v3", episodes=1, max_steps=12,
                                 action_steps=4, workers=1, videos=1))
    error = result["prediction_error"]
    assert set(error) == {"2", "4"}  # both offsets lie within the 4 executed steps
    assert error["2"]["n"] == 3 and 5 < error["2"]["psnr_db"] < 60 and -1 <= error["2"]["ssim"] <= 1
    assert error["2"]["latent_mse"] > 0
    assert (tmp_path / "e" / result["prediction_videos"][0]["mp4"]).stat().st_size > 0

    # open-loop: one call plans the whole episode by imagining past its own chunks
    plan = model.plan(obs, horizon=11, generator=torch.Generator().manual_seed(0))
    assert plan.shape == (2, 11, 4) and torch.isfinite(plan).all()
    result = evaluate(EvalConfig(checkpoint=folder, out=tmp_path / "o", tasks="reach-v3", episodes=1, max_steps=12,
                                 regime="open-loop", workers=1, videos=0))
    assert result["protocol"]["regime"] == "open-loop"
    assert result["episodes"][0]["calls"] == 1 and result["episodes"][0]["steps"] == 12
    # one checkpoint in two regimes: the report tells the rows apart
    from wam.report.html import ReportConfig, build_report

    page = build_report(ReportConfig(results=[tmp_path / "e", tmp_path / "o"], out=tmp_path / "report"))
    table = (page.parent / "results.md").read_text()
    assert "| predict-then-act | WAM" in table and "| predict-then-act · open-loop | WAM" in table


def test_latent_wams_need_a_matching_autoencoder(tiny_dataset, tiny_autoencoder, tmp_path):
    from wam.train.trainer import Trainer

    missing = _pta_overrides(str(tmp_path / "nowhere"))
    with pytest.raises(WamError, match="checkpoint not found"):
        Trainer(train_config(tiny_dataset, tmp_path / "a", steps=1, model="predict-then-act", model_overrides=missing))
    wrong = _pta_overrides(tiny_autoencoder) + ("latent_channels=6",)
    with pytest.raises(WamError, match="does not match"):
        Trainer(train_config(tiny_dataset, tmp_path / "b", steps=1, model="predict-then-act", model_overrides=wrong))


# -- reference WAM 2: joint diffusion and the dial ---------------------------------------------
@pytest.fixture(scope="module")
def tiny_joint(tiny_dataset, tiny_autoencoder, tmp_path_factory):
    from wam.train.trainer import train

    out = tmp_path_factory.mktemp("joint") / "joint"
    return train(
        train_config(tiny_dataset, out, steps=4, model="joint-diffusion", label_fraction=0.5,
                     model_overrides=_joint_overrides(tiny_autoencoder))
    )


def test_joint_model_modes_from_one_checkpoint(tiny_dataset, tiny_joint):
    from wam.train.checkpoint import load_model

    model, meta = load_model(tiny_joint)
    assert meta["anatomy"]["coupling"] == "joint generation"
    obs, batch = _observation(tiny_dataset, model)
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    policy = model.act(obs, generator=g())
    assert policy.shape == (2, 4, 4) and torch.isfinite(policy).all()
    assert model.predict(obs, generator=g()).shape == (2, 2, 64, 64, 3)  # video prediction
    assert model.predict(obs, actions=policy, generator=g()).shape == (2, 2, 64, 64, 3)  # forward dynamics
    assert model.inverse_dynamics(obs, batch["future_image"], generator=g()).shape == (2, 4, 4)


def test_the_dial_changes_what_the_action_reads(tiny_dataset, tiny_joint):
    from wam.train.checkpoint import load_model

    model, _ = load_model(tiny_joint)
    obs, _ = _observation(tiny_dataset, model)
    with torch.no_grad():  # open the adaLN gates so the action tokens attend to the future tokens
        for block in model.trunk.blocks:
            torch.nn.init.normal_(block.modulation[-1].weight, std=0.05)
    actions = {}
    for m in (0, 1, 2):
        model.set_runtime_option("future_steps", str(m))
        actions[m] = model.act(obs, generator=torch.Generator().manual_seed(0))
    assert not torch.allclose(actions[0], actions[2]) and not torch.allclose(actions[1], actions[2])
    with pytest.raises(WamError, match="future_steps must be in 0..2"):
        model.set_runtime_option("future_steps", "3")
    with pytest.raises(WamError, match="no runtime option 'speed'"):
        model.set_runtime_option("speed", "1")


def test_eval_applies_runtime_options_and_records_them(tiny_joint, tmp_path):
    from wam.runner.evaluate import EvalConfig, evaluate

    result = evaluate(
        EvalConfig(checkpoint=tiny_joint, out=tmp_path / "e", tasks="reach-v3", episodes=1, max_steps=6,
                   action_steps=4, workers=1, videos=0, option=("future_steps=0",))
    )
    assert result["protocol"]["model_options"] == {"future_steps": "0"}
    assert result["prediction_error"] is None  # skip-future makes no future to score
    saved = json.loads((tmp_path / "e" / "eval.json").read_text())
    assert saved["anatomy"]["coupling"] == "joint generation"
    with pytest.raises(WamError, match="future_steps must be in"):
        evaluate(EvalConfig(checkpoint=tiny_joint, out=tmp_path / "f", tasks="reach-v3", episodes=1, max_steps=4,
                            action_steps=4, workers=1, videos=0, option=("future_steps=9",)))
    with pytest.raises(WamError, match="name=value"):
        EvalConfig(checkpoint=tiny_joint, option=("future_steps",))


def test_a_substrate_cannot_be_evaluated(tiny_autoencoder, tmp_path):
    from wam.runner.evaluate import EvalConfig, evaluate

    with pytest.raises(WamError, match="cannot be evaluated closed-loop"):
        evaluate(EvalConfig(checkpoint=tiny_autoencoder, out=tmp_path / "e", tasks="reach-v3", episodes=1, workers=1))


def test_sweep_writes_one_point_per_setting(tiny_joint, tmp_path):
    from wam.runner.sweep import SweepConfig, sweep

    out = tmp_path / "dial"
    summary = sweep(SweepConfig(checkpoint=tiny_joint, values="0,2", out=out, tasks="reach-v3", episodes=1, action_steps=4, workers=1))
    assert [p["value"] for p in summary["points"]] == ["0", "2"]
    assert (out / "sweep.png").stat().st_size > 0 and (out / "future_steps=2" / "eval.json").exists()
    assert all(p["latency_ms"]["p50"] > 0 for p in summary["points"])
    from wam.report.html import ReportConfig, build_report

    page = build_report(ReportConfig(results=[out / "future_steps=0", out / "future_steps=2"], sweeps=[out], out=tmp_path / "report"))
    text = page.read_text()
    assert "Runtime-option sweeps" in text and "joint-diffusion [future_steps=2]" in text


def test_the_dial_costs_n_plus_m_trunk_calls_and_skip_future_shortens_them(tiny_dataset, tiny_joint):
    from wam.train.checkpoint import load_model

    model, _ = load_model(tiny_joint)
    obs, _ = _observation(tiny_dataset, model)
    calls = []
    model.trunk.register_forward_hook(lambda mod, args, out: calls.append(args[0].shape[1]))
    n = model.config.sampling_steps
    action_tokens = model.config.chunk // model.config.action_group
    for m in (0, 1, 2):
        calls.clear()
        model.set_runtime_option("future_steps", str(m))
        model.act(obs)
        assert len(calls) == n + m
        assert (min(calls) == action_tokens) == (m == 0)  # m = 0 drops the future tokens entirely


def test_patch_tokens_round_trip():
    from wam.backbones.dit import patchify, unpatchify

    z = torch.randn(3, 4, 8, 8)
    tokens = patchify(z, 2)
    assert tokens.shape == (3, 16, 16)
    torch.testing.assert_close(tokens[:, 1], z[:, :, 0:2, 2:4].flatten(1))  # row-major patches, (C, p, p) inside
    torch.testing.assert_close(unpatchify(tokens, 4, 8, 8, 2), z, atol=0, rtol=0)


@pytest.mark.parametrize("generator", ["unet", "dit"])
@pytest.mark.parametrize("objective", ["flow", "diffusion-v"])
def test_predict_then_act_swaps_generator_backbone_and_objective_by_name(tiny_dataset, tiny_autoencoder, generator, objective):
    from wam.models import model_class
    from wam.models.boundary import check_boundary
    from wam.train.checkpoint import load_model

    spec = load_model(tiny_autoencoder)[0].spec
    cls = model_class("predict-then-act")
    cfg = cls.config_class(autoencoder=str(tiny_autoencoder), autoencoder_channels=(8, 16, 16), latent_channels=4,
                           future_offsets=(2, 4), chunk=4, generator=generator, objective=objective, patch=2,
                           dit_width=32, dit_depth=1, generator_channels=(16,), generator_steps=2, sampling_steps=2,
                           encoder_channels=(8, 16), image_features=32, cond_dim=32, width=32, depth=1)
    model = cls(cfg, spec)
    model.prepare_training()
    obs, batch = _observation(tiny_dataset, model)
    loss, info = model.loss(batch)
    loss.backward()
    assert torch.isfinite(loss) and info["generation_loss"] > 0
    assert model.act(obs).shape == (2, 4, 4)
    check_boundary(model, obs)  # the generated future reaches the action, whatever the backbone


def test_a_regime_the_model_lacks_is_a_one_line_error(tiny_checkpoint, tmp_path):
    from wam.runner.evaluate import EvalConfig, evaluate

    with pytest.raises(WamError, match="does not support regime 'open-loop'; it supports: async, chunked, single-step"):
        evaluate(EvalConfig(checkpoint=tiny_checkpoint, out=tmp_path / "e", tasks="reach-v3", episodes=1, regime="open-loop", workers=1))
    with pytest.raises(WamError, match="unknown regime 'closed-eyes'"):
        EvalConfig(checkpoint=tiny_checkpoint, regime="closed-eyes")


def _tiny_models(ae: str) -> dict[str, tuple]:
    """Every registered model with tiny settings (config kwargs)."""
    obs = dict(encoder_channels=(8, 16), image_features=32, cond_dim=32, task_embedding_dim=8)
    sub = dict(autoencoder=ae, autoencoder_channels=(8, 16, 16), latent_channels=4, future_offsets=(2, 4), chunk=4)
    return {
        "flow-policy": dict(**obs, chunk=4, width=32, depth=1, noise_samples=2, sampling_steps=2),
        "encoder-only": dict(**obs, chunk=4, width=32, depth=1, noise_samples=2, sampling_steps=2, future_offsets=(2, 4),
                             future_size=16, future_dim=16),
        "teacher-target": dict(**obs, chunk=4, width=32, depth=1, noise_samples=2, sampling_steps=2, future_offsets=(2, 4)),
        "latent-action": dict(**obs, chunk=4, width=32, depth=1, noise_samples=2, sampling_steps=2, latent_offset=2,
                              codebook_size=4, code_dim=8, lam_channels=(8, 16), future_size=16),
        "autoencoder": dict(channels=(8, 16, 16), latent_channels=4),
        "predict-then-act": dict(**obs, **sub, generator_channels=(16,), generator_steps=2, future_features=16,
                                 width=32, depth=1, noise_samples=2, sampling_steps=2),
        "joint-diffusion": dict(**obs, **sub, patch=2, action_group=2, dit_width=32, dit_depth=1, dit_heads=2,
                                sampling_steps=2, future_steps=2),
        # plans from scratch here (no proposal model attached); tests/test_planning.py covers the rest
        "latent-rollout": dict(**obs, latent_dim=32, width=32, horizon=4, samples=4, iterations=2, elites=2,
                               planner="cem", warm_start=False),
    }


def _build(name: str, ae, dataset):
    from wam.models import model_class
    from wam.train.checkpoint import load_model

    cls = model_class(name)
    spec = load_model(ae)[0].spec
    model = cls(cls.config_class(**_tiny_models(str(ae))[name]), spec)
    model.set_normalization(TrainingCache(dataset).stats())
    model.prepare_training()
    return model


def test_every_registered_model_is_covered_here(tiny_autoencoder):
    from wam.models import MODELS

    assert set(_tiny_models(str(tiny_autoencoder))) == set(MODELS)


@pytest.mark.parametrize(
    "name",
    ["flow-policy", "autoencoder", "predict-then-act", "joint-diffusion", "latent-rollout", "encoder-only",
     "teacher-target", "latent-action"],
)
def test_save_load_is_bit_exact_for_every_model(name, tiny_dataset, tiny_autoencoder, tmp_path):
    from wam.train.checkpoint import load_model, save_model

    model = _build(name, tiny_autoencoder, tiny_dataset)
    save_model(model, tmp_path / "m")
    loaded, meta = load_model(tmp_path / "m")
    assert meta["model"] == name
    a, b = model.state_dict(), loaded.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    if model.role == "agent":
        obs, _ = _observation(tiny_dataset, model)
        g = lambda: torch.Generator().manual_seed(3)  # noqa: E731
        torch.testing.assert_close(model.eval().act(obs, generator=g()), loaded.act(obs, generator=g()), atol=0, rtol=0)


@pytest.mark.parametrize("name", ["predict-then-act", "joint-diffusion"])
def test_a_tiny_batch_overfits(name, tiny_dataset, tiny_autoencoder):
    torch.manual_seed(0)
    model = _build(name, tiny_autoencoder, tiny_dataset)
    _, batch = _observation(tiny_dataset, model)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=3e-3)
    losses = []
    for _ in range(150):
        torch.manual_seed(1)  # the same noise and times every step: a fixed regression target
        loss, _ = model.loss(batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.1 * losses[0], (losses[0], losses[-1])


@pytest.mark.parametrize("name", ["predict-then-act", "joint-diffusion"])
def test_unlabelled_episodes_train_the_future_but_never_the_action(name, tiny_dataset, tiny_autoencoder):
    torch.manual_seed(0)
    model = _build(name, tiny_autoencoder, tiny_dataset)
    _, batch = _observation(tiny_dataset, model)
    batch["labelled"][:] = False
    batch["action"].normal_()  # whatever sits in the withheld labels must not matter
    if name == "joint-diffusion":
        model.config.skip_future_probability = 0.0  # score the future stream in this batch
    loss, info = model.loss(batch)
    loss.backward()
    assert info["action_loss"] == 0.0 and info["generation_loss"] > 0
    action_out = model.head.velocity.out if name == "predict-then-act" else model.action_out
    assert all(p.grad is None or float(p.grad.abs().sum()) == 0.0 for p in action_out.parameters())


def test_first_release_flow_policy_checkpoints_still_load(tiny_checkpoint, tmp_path):
    """The action head moved under `head.`; checkpoints written before keep loading, unchanged."""
    import shutil

    from safetensors.torch import load_file, save_file

    from wam.train.checkpoint import load_model

    old = tmp_path / "old"
    shutil.copytree(tiny_checkpoint, old)
    tensors = load_file(str(old / "model.safetensors"))
    renamed = {k.removeprefix("head."): v for k, v in tensors.items()}
    assert any(k.startswith("velocity.") for k in renamed)
    save_file(renamed, str(old / "model.safetensors"))
    model, _ = load_model(old)
    new = load_model(tiny_checkpoint)[0].state_dict()
    assert all(torch.equal(v, new[k]) for k, v in model.state_dict().items())


def test_a_non_integer_dial_value_is_a_one_line_error(tiny_joint):
    from wam.train.checkpoint import load_model

    model, _ = load_model(tiny_joint)
    with pytest.raises(WamError, match="future_steps must be an integer"):
        model.set_runtime_option("future_steps", "half")


def test_event_triggered_replans_when_the_predicted_latent_diverges(tiny_joint, tmp_path):
    from wam.runner.evaluate import EvalConfig, evaluate

    def run(threshold, name):
        return evaluate(EvalConfig(checkpoint=tiny_joint, out=tmp_path / name, tasks="reach-v3", episodes=1, workers=1,
                                   videos=0, max_steps=16, action_steps=4, regime="event-triggered", trigger_threshold=threshold))

    never, always = run(1e9, "never"), run(1e-9, "always")
    assert never["episodes"][0]["triggers"] == 0
    # every check at offset 2 of a 4-step plan fires: twice the calls of the plain schedule
    assert always["episodes"][0]["triggers"] > 0 and always["episodes"][0]["calls"] > never["episodes"][0]["calls"]
    assert always["protocol"]["trigger_threshold"] == 1e-9


def test_re_grounding_every_call_is_the_chunked_regime(tiny_joint, tmp_path):
    from wam.runner.evaluate import EvalConfig, evaluate

    def run(regime, name, action_steps=4, **kw):
        return evaluate(EvalConfig(checkpoint=tiny_joint, out=tmp_path / name, tasks="reach-v3", episodes=1, workers=1,
                                   videos=0, max_steps=12, action_steps=action_steps, regime=regime, **kw))

    chunked, every_call, every_other = run("chunked", "c"), run("re-grounding", "r1", reground_every=1), run("re-grounding", "r2")
    assert every_call["episodes"][0]["steps"] == chunked["episodes"][0]["steps"] == 12
    assert every_call["prediction_error"] == chunked["prediction_error"]  # same actions, same predictions, same frames
    assert every_other["protocol"]["reground_every"] == 2 and every_other["episodes"][0]["calls"] == 3
    assert every_other["episodes"][0]["imagined_calls"] == 1 and every_call["episodes"][0]["imagined_calls"] == 0
    with pytest.raises(WamError, match="re-grounding needs the frame 3 steps ahead"):
        run("re-grounding", "r3", action_steps=3)


@pytest.fixture(scope="module")
def heldout_dataset(tmp_path_factory):
    """Episodes of the training tasks from other initial conditions than the tiny dataset's."""
    from conftest import TASKS
    from wam.data.collect import CollectConfig, collect

    out = tmp_path_factory.mktemp("heldout") / "heldout"
    collect(CollectConfig(out=out, tasks=TASKS, episodes=1, workers=2, first_seed=100))
    return out


def test_offline_eval_scores_actions_and_predictions_on_recorded_episodes(tiny_joint, tiny_checkpoint, tiny_dataset, heldout_dataset, tmp_path):
    from wam.cli import main
    from wam.runner.evaluate import EvalConfig
    from wam.runner.offline import offline_main

    result = offline_main(EvalConfig(checkpoint=tiny_joint, offline=str(heldout_dataset), out=tmp_path / "off", offline_frames=16))
    assert result["frames_evaluated"] == 16 and result["action_mse"] > 0
    assert len(result["action_mse_per_step"]) == result["chunk"] and len(result["action_mse_per_dim"]) == 4
    pred = result["prediction_error"]
    assert pred is not None and set(pred) <= {"2", "4"}
    assert all(0 < v["psnr_db"] <= 100 and v["latent_mse"] > 0 for v in pred.values())
    assert json.loads((tmp_path / "off" / "offline.json").read_text())["schema"] == "wam.offline/1"
    # the training dataset is not held out
    assert main(["eval", "--checkpoint", str(tiny_joint), "--offline", str(tiny_dataset), "--out", str(tmp_path / "x")]) != 0
    # a policy has action error only; the same sample seed gives the same frames and numbers
    a = offline_main(EvalConfig(checkpoint=tiny_checkpoint, offline=str(heldout_dataset), out=tmp_path / "p1", offline_frames=8))
    b = offline_main(EvalConfig(checkpoint=tiny_checkpoint, offline=str(heldout_dataset), out=tmp_path / "p2", offline_frames=8))
    assert a["prediction_error"] is None and a["action_mse"] == b["action_mse"]


def test_persistence_and_plausibility_probes_run_on_the_joint_model(tiny_joint, tiny_checkpoint, tmp_path):
    import json

    from wam.runner.probe import ProbeConfig, probe

    common = dict(checkpoint=tiny_joint, tasks="reach-v3", states=2, max_warmup=4)
    persistence = probe(ProbeConfig(**common, property="persistence", out=tmp_path / "p", horizon=8))
    assert persistence["applicable"] and set(persistence["modes"]) == {"open_loop", "regrounded"}
    for mode in persistence["modes"].values():
        assert list(mode["per_step"]) == ["2", "4", "6", "8"] and all(r["latent_mse"] > 0 and "psnr_db" in r for r in mode["per_step"].values())
    # the first chunk starts from the same real observation either way; the second one does not
    open_loop, regrounded = persistence["modes"]["open_loop"]["per_step"], persistence["modes"]["regrounded"]["per_step"]
    assert open_loop["2"] == regrounded["2"] and open_loop["8"] != regrounded["8"]
    assert (tmp_path / "p" / "persistence.png").stat().st_size > 0
    assert json.loads((tmp_path / "p" / "persistence.json").read_text())["horizon"] == 8
    plausibility = probe(ProbeConfig(**common, property="plausibility", out=tmp_path / "q"))
    assert plausibility["applicable"] and list(plausibility["per_offset"]) == ["2", "4"]
    row = plausibility["per_offset"]["4"]
    assert row["n"] == 2 and row["hand_error_cm"] >= 0 and row["object_floor_cm"] >= 0 and "psnr_db" in row
    # a policy has no world model: "not applicable", never an invented number
    for prop in ("persistence", "plausibility"):
        policy = probe(ProbeConfig(checkpoint=tiny_checkpoint, tasks="reach-v3", states=1, property=prop, out=tmp_path / prop))
        assert policy["applicable"] is False and "modes" not in policy and "per_offset" not in policy
    with pytest.raises(WamError, match="horizon must be in"):
        ProbeConfig(**common, property="persistence", horizon=497)
    with pytest.raises(WamError, match="at least one chunk"):
        probe(ProbeConfig(**common, property="persistence", out=tmp_path / "r", horizon=2))


def test_interactability_probe_compares_imagined_and_real_futures(tiny_joint, tiny_checkpoint, tmp_path):
    from wam.runner.probe import ProbeConfig, probe

    result = probe(ProbeConfig(checkpoint=tiny_joint, out=tmp_path / "p", tasks="reach-v3", states=2, candidates=3, max_warmup=5))
    assert result["applicable"] and set(result["per_offset"]) == {"2", "4"}
    for row in result["per_offset"].values():
        assert row["n"] == 2 * 3 and row["counterfactual_latent_mse"] > 0
        assert 0 <= row["identification_accuracy"] <= 1 and "delta_psnr_db" in row
    # a policy cannot predict the future under given actions: not applicable, never a number
    policy = probe(ProbeConfig(checkpoint=tiny_checkpoint, out=tmp_path / "q", tasks="reach-v3", states=1))
    assert policy["applicable"] is False and "per_offset" not in policy
    with pytest.raises(WamError, match="unknown property"):
        ProbeConfig(checkpoint=tiny_joint, property="causality-by-magic")

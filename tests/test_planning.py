"""Action-conditioned rollout: planners, the simulator as a reference world model, perturbed-expert
data, and the learned latent world model (latent-rollout)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from conftest import TINY, train_config
from wam.data.cache import TrainingCache, WindowSpec
from wam.errors import WamError
from wam.planners import PlannerSettings, get_planner

OBS_TINY = {k: v for k, v in TINY.items() if k in ("encoder_channels", "image_features", "cond_dim", "task_embedding_dim")}
WM_TINY = {**OBS_TINY, "latent_dim": "32", "width": "64", "horizon": "4", "samples": "8", "iterations": "2", "elites": "2"}


def _overrides(d: dict) -> tuple[str, ...]:
    return tuple(f"{k}={v}" for k, v in d.items())


# -- planners ------------------------------------------------------------------------------------
def _quadratic(target: torch.Tensor):
    return lambda x: -((x - target) ** 2).flatten(1).sum(1)


@pytest.mark.parametrize("name", ["cem", "mppi"])
def test_planners_find_the_minimum_of_a_quadratic(name):
    target = torch.tensor([[0.3, -0.5], [0.1, 0.7], [-0.6, 0.2]])  # (H=3, A=2)
    init = (torch.zeros(3, 2), torch.ones(3, 2))
    settings = PlannerSettings(samples=256, iterations=6, elites=16, temperature=0.2, min_std=0.01)
    plan, info = get_planner(name)(_quadratic(target), init, settings, torch.Generator().manual_seed(0), -torch.ones(2), torch.ones(2))
    assert plan.shape == (3, 2)
    assert float((plan - target).abs().max()) < 0.1, (name, plan, target)
    # a single iteration of the same search is measurably worse: the refinement does the work
    one, _ = get_planner(name)(_quadratic(target), init, PlannerSettings(samples=256, iterations=1, elites=16, temperature=0.2),
                               torch.Generator().manual_seed(0), -torch.ones(2), torch.ones(2))
    assert float(((plan - target) ** 2).sum()) < float(((one - target) ** 2).sum())


def _loop_cem(score_one, mean, std, samples, iterations, elites, min_std, generator, low, high):
    """A reference CEM written one candidate at a time (no batching anywhere)."""
    best, best_score = None, -float("inf")
    for _ in range(iterations):
        noise = torch.randn((samples,) + tuple(mean.shape), generator=generator)
        candidates = [torch.maximum(torch.minimum(mean + std * noise[i], high), low) for i in range(samples)]
        scores = [float(score_one(c)) for c in candidates]
        order = sorted(range(samples), key=lambda i: -scores[i])[:elites]
        if scores[order[0]] > best_score:
            best, best_score = candidates[order[0]], scores[order[0]]
        elite = torch.stack([candidates[i] for i in order])
        mean, std = elite.mean(0), elite.std(0, unbiased=False).clamp_min(min_std)
    return best


def test_batched_cem_equals_a_loop_reference():
    target = torch.tensor([[0.2, -0.1], [0.4, 0.3]])
    score = _quadratic(target)
    settings = PlannerSettings(samples=32, iterations=3, elites=4, min_std=0.05)
    low, high = -torch.ones(2), torch.ones(2)
    init = (torch.zeros(2, 2), torch.full((2, 2), 0.5))
    batched, _ = get_planner("cem")(score, init, settings, torch.Generator().manual_seed(5), low, high)
    looped = _loop_cem(lambda c: score(c[None])[0], *init, 32, 3, 4, 0.05, torch.Generator().manual_seed(5), low, high)
    torch.testing.assert_close(batched, looped)


def _loop_mppi(score_one, mean, std, samples, iterations, temperature, min_std, generator, low, high, proposals):
    """A reference MPPI, one candidate at a time, with a warm-started first population."""
    for it in range(iterations):
        noise = torch.randn((samples,) + tuple(mean.shape), generator=generator)
        candidates = [torch.maximum(torch.minimum(mean + std * noise[i], high), low) for i in range(samples)]
        if it == 0:
            for i, p in enumerate(proposals[:samples]):
                candidates[i] = p
        scores = torch.tensor([float(score_one(c)) for c in candidates])
        spread = float(scores.std(unbiased=False))
        w = [float(x) for x in torch.exp((scores - scores.max()) / (temperature * spread))]
        total = sum(w)
        mean = sum(wi * c for wi, c in zip(w, candidates)) / total
        std = torch.sqrt(sum(wi * (c - mean) ** 2 for wi, c in zip(w, candidates)) / total).clamp_min(min_std)
    return mean


def test_batched_warm_started_mppi_and_cem_equal_loop_references():
    target = torch.tensor([[0.2, -0.1], [0.4, 0.3]])
    score = _quadratic(target)
    low, high = -torch.ones(2), torch.ones(2)
    init = (torch.zeros(2, 2), torch.full((2, 2), 0.5))
    proposals = torch.rand(5, 2, 2, generator=torch.Generator().manual_seed(9)) * 2 - 1
    settings = PlannerSettings(samples=16, iterations=3, elites=4, temperature=0.5, min_std=0.05)
    batched, _ = get_planner("mppi")(score, init, settings, torch.Generator().manual_seed(2), low, high, proposals)
    looped = _loop_mppi(lambda c: score(c[None])[0], *init, 16, 3, 0.5, 0.05, torch.Generator().manual_seed(2), low, high, proposals)
    torch.testing.assert_close(batched, looped)
    # the warm start is used: with one iteration and an elite of one, CEM returns the best proposal
    # whenever a proposal beats every Gaussian sample
    good = torch.cat([target[None], proposals])  # the optimum itself is proposed
    plan, _ = get_planner("cem")(score, init, PlannerSettings(samples=16, iterations=1, elites=1), torch.Generator().manual_seed(2), low, high, good)
    torch.testing.assert_close(plan, target)


def test_select_keeps_the_best_proposal_and_needs_proposals():
    proposals = torch.tensor([[[0.9]], [[0.1]], [[0.5]]])
    plan, info = get_planner("select")(_quadratic(torch.tensor([[0.45]])), None, PlannerSettings(), None, None, None, proposals)
    assert float(plan) == 0.5 and info["evaluated"] == 3
    with pytest.raises(WamError, match="needs proposals"):
        get_planner("select")(_quadratic(torch.zeros(1, 1)), None, PlannerSettings(), None, None, None, None)
    with pytest.raises(WamError, match="unknown planner"):
        get_planner("random-shooting")
    with pytest.raises(WamError, match="samples must be >= 1"):
        PlannerSettings(samples=0)
    from wam.runner.sweep import SweepConfig

    with pytest.raises(WamError, match="--fixed also sets the swept option 'samples'"):
        SweepConfig(option="samples", values="1,4", fixed=("samples=2",))


# -- the simulator as the world model --------------------------------------------------------------
def test_snapshot_restore_replays_exactly():
    from wam.envs.metaworld import MetaWorldEnv

    env = MetaWorldEnv("push-v3")
    try:
        env.reset(seed=4)
        rng = np.random.default_rng(0)
        for a in rng.uniform(-1, 1, (5, 4)):
            env.step(a)
        snap = env.snapshot()
        actions = rng.uniform(-1, 1, (10, 4))
        first = [env.step_physics(a) for a in actions]
        state = env.privileged_state.copy()
        env.restore(snap)
        assert [env.step_physics(a) for a in actions] == first
        assert np.array_equal(env.privileged_state, state)
    finally:
        env.close()


def test_the_oracle_planner_solves_what_the_policy_alone_fails(tiny_checkpoint):
    """Planning validated without learning: CEM scored by the true simulator, warm-started by a
    barely trained policy, succeeds at reach where that policy alone fails."""
    from wam.envs.metaworld import MetaWorldEnv
    from wam.planners.oracle import SimulatorScorer
    from wam.runner.regimes import Chunked
    from wam.runner.rollout import observation_batch, run_episode
    from wam.train.checkpoint import load_model

    policy, _ = load_model(tiny_checkpoint)
    env = MetaWorldEnv("reach-v3", max_steps=120)
    task_index = policy.spec.task_names.index(env.instruction)
    seeds = [0, 1]
    try:
        alone = [run_episode(policy, env, s, task_index, Chunked(4), 120).success for s in seeds]
        planned = []
        settings = PlannerSettings(samples=24, iterations=3, elites=4, min_std=0.1)
        low, high = -torch.ones(4), torch.ones(4)
        for seed in seeds:
            obs, _ = env.reset(seed=seed)
            g = torch.Generator().manual_seed(seed)
            history, success = [obs, obs], False
            for _ in range(120 // 4):
                proposals = policy.propose(observation_batch(history[-2:], task_index), 8, g)[:, :4]
                init = (torch.zeros(4, 4), torch.full((4, 4), 0.5))
                plan, _ = get_planner("cem")(SimulatorScorer(env), init, settings, g, low, high, proposals)
                for action in plan.numpy():
                    obs, _, _, _, info = env.step(action)
                    history.append(obs)
                    success = success or info["success"]
                if success:
                    break
            planned.append(success)
    finally:
        env.close()
    assert not all(alone), "the tiny policy should not solve reach on its own"
    assert any(p and not a for p, a in zip(planned, alone)), (alone, planned)


# -- perturbed-expert data ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def perturbed_dataset(tmp_path_factory):
    from wam.data.collect import CollectConfig, collect

    out = tmp_path_factory.mktemp("perturbed") / "reach-perturbed"
    collect(CollectConfig(out=out, tasks="reach-v3,drawer-close-v3", episodes=4, workers=2, max_steps=60,
                          perturb_noise=0.5, perturb_segment_prob=0.1, perturb_segment_len=5, clean_fraction=0.25))
    return out


def test_perturbed_collection_keeps_failures_rewards_and_flags(perturbed_dataset, tiny_dataset):
    from wam.data.lerobot_v3 import LeRobotDataset

    ds = LeRobotDataset(perturbed_dataset)
    info = ds.extra_info
    assert "perturbed" in info["source"]
    for task, stats in info["per_task"].items():
        assert stats["kept"] == 4 and stats["attempts"] == 4  # nothing rejected, failures kept
    perturbed = ds.episode_column("wam/perturbed")
    success = ds.episode_column("wam/success")
    assert any(perturbed), "some episodes must actually be perturbed"
    assert not all(success), "a perturbed expert with noise 0.5 and 60 steps should fail sometimes"
    assert set(ds.episode_column("wam/source")) == {"perturbed_expert"}
    assert "next.reward" in ds.features and "next.success" in ds.features
    # the expert dataset is untouched by the option: all its episodes are successful expert runs
    assert set(LeRobotDataset(tiny_dataset).episode_column("wam/source")) == {"scripted_expert"}


def test_the_cache_serves_rewards_and_absorbing_returns(tiny_dataset):
    cache = TrainingCache(tiny_dataset)
    gamma = 0.9
    returns = cache.returns_to_go(gamma)
    start, end = int(cache.ep_start[0]), int(cache.ep_end[0])
    r = cache.reward[start:end].astype(np.float64)
    expected = [sum(gamma ** (i - t) * r[i] for i in range(t, end - start)) + gamma ** (end - start - t) * r[-1] / (1 - gamma)
                for t in range(end - start)]
    np.testing.assert_allclose(returns[start:end], expected, rtol=1e-5)
    batch = cache.batch(np.array([start]), WindowSpec(n_obs_steps=1, chunk=3, gamma=gamma))
    assert batch["reward"].shape == (1, 3) and batch["return_to_go"].shape == (1, 4)
    np.testing.assert_allclose(batch["return_to_go"][0].numpy(), expected[:4], rtol=1e-5)
    # success flags ride with the rewards: an expert episode is solved only by its last action, and
    # a window running past the end keeps the success (absorbing, like the returns)
    assert batch["success"].dtype == torch.bool and batch["success"].shape == (1, 3) and not batch["success"].any()
    end_batch = cache.batch(np.array([end - 2]), WindowSpec(n_obs_steps=1, chunk=3, gamma=gamma))
    assert end_batch["success"][0].tolist() == [False, True, True]
    assert "success" in cache.stats() and 0 < cache.stats()["success"]["mean"][0] < 0.5


# -- the learned world model -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_world_model(perturbed_dataset, tmp_path_factory):
    from wam.train.trainer import train

    out = tmp_path_factory.mktemp("wm") / "latent-rollout"
    # 3 of 4 episodes per task train it; the fourth is held out (its labels are withheld)
    # uniform frame sampling, as before task-balanced sampling became the default: trained task-balanced
    # for these 250 steps it scores every CEM proposal alike, so its plans stop depending on the latent
    return train(train_config(perturbed_dataset, out, steps=250, model="latent-rollout", lr=2e-3, batch_size=16,
                              labelled_per_task=3, sampling="frames", model_overrides=_overrides(WM_TINY)))


def test_latent_dynamics_needs_the_true_actions_on_held_out_episodes(tiny_world_model, perturbed_dataset):
    from wam.train.checkpoint import load_model

    from wam.data.cache import label_mask

    model, _ = load_model(tiny_world_model)
    cache = TrainingCache(perturbed_dataset)
    trained = label_mask(cache, per_task=3, seed=0)  # the trainer's split (label_seed 0)
    held_out_episodes = set(np.unique(cache.episode_index[~trained]).tolist())
    assert held_out_episodes, "the test needs held-out episodes"
    h = model.config.horizon
    # frames whose whole horizon, and the frame after it, lie inside their held-out episode
    frames = np.flatnonzero(np.isin(cache.episode_index, sorted(held_out_episodes)) & (cache.ep_end - np.arange(len(cache)) > h))
    batch = cache.batch(frames, model.window)
    true_actions = torch.from_numpy(cache.action[frames[:, None] + np.arange(h)[None]])  # raw labels of held-out frames
    with torch.no_grad():
        n = model.config.n_obs_steps
        z0 = model.encode(batch["image"][:, -1:], batch["state"][:, -n:], batch["task_index"])
        target = model.encode(batch["future_image"][:, -1:], torch.cat([batch["state"], batch["future_state"]], 1)[:, -n:], batch["task_index"])

        def error(actions):
            z = z0
            for k in range(h):
                z = model.step(z, model.action_norm(actions[:, k]))
            return float(((z - target) ** 2).mean())

        shuffled = true_actions[torch.randperm(len(frames), generator=torch.Generator().manual_seed(0))]
        flipped = -true_actions
        e_true, e_shuffled, e_flipped = error(true_actions), error(shuffled), error(flipped)
    assert e_true < 0.8 * e_shuffled and e_true < 0.8 * e_flipped, (e_true, e_shuffled, e_flipped)


def test_batched_scoring_equals_scoring_one_candidate_at_a_time(tiny_world_model, perturbed_dataset):
    from wam.train.checkpoint import load_model

    model, _ = load_model(tiny_world_model)
    cache = TrainingCache(perturbed_dataset)
    batch = cache.batch(np.array([3]), model.window)
    obs = {k: batch[k] for k in ("image", "state", "task_index")}
    chunks = torch.rand(6, 4, 4, generator=torch.Generator().manual_seed(0)) * 2 - 1
    for rollout in ("step", "chunk"):
        model.set_runtime_option("rollout", rollout)
        batched = model.score(obs, chunks)
        looped = torch.cat([model.score(obs, c[None]) for c in chunks])
        torch.testing.assert_close(batched, looped, rtol=1e-5, atol=1e-5)
    assert batched.std() > 0, "different chunks must score differently"


def test_world_model_plans_with_and_without_proposals(tiny_world_model, tiny_checkpoint, perturbed_dataset):
    from wam.train.checkpoint import load_model

    model, _ = load_model(tiny_world_model)
    proposer, _ = load_model(tiny_checkpoint)
    cache = TrainingCache(perturbed_dataset)
    with pytest.raises(WamError, match="needs a proposal model"):
        batch = cache.batch(np.array([0]), model.window)
        model.act({k: batch[k] for k in ("image", "state", "task_index")})
    model.attach_proposer(proposer)
    assert model.window.n_obs_steps == proposer.window.n_obs_steps  # the runner keeps both histories
    batch = cache.batch(np.array([0]), model.window)
    obs = {k: batch[k] for k in ("image", "state", "task_index")}
    g = lambda: torch.Generator().manual_seed(1)  # noqa: E731
    # N = 1 with select is exactly the proposer alone (same noise, truncated to the horizon)
    model.set_runtime_option("samples", "1")
    n_obs = proposer.window.n_obs_steps
    alone = proposer.act({"image": obs["image"][:, -n_obs:], "state": obs["state"][:, -n_obs:], "task_index": obs["task_index"]}, g())
    torch.testing.assert_close(model.act(obs, g()), alone[:, :4])
    for planner in ("select", "cem", "mppi"):
        model.set_runtime_option("planner", planner)
        model.set_runtime_option("samples", "8")
        plan = model.act(obs, g())
        assert plan.shape == (1, 4, 4) and torch.isfinite(plan).all()
    model.set_runtime_option("warm_start", "false")
    model.attach_proposer(None)
    assert model.act(obs, g()).shape == (1, 4, 4)  # from scratch: no proposer needed


def test_planning_bad_input_is_a_one_line_error(tiny_world_model, tiny_dataset, tmp_path):
    from wam.cli import main
    from wam.train.checkpoint import load_model
    from wam.train.trainer import train

    model, _ = load_model(tiny_world_model)
    for name, value, message in [("planner", "random", "unknown planner"), ("samples", "0", r"samples must be >= 1 \(the number of proposals N\), got 0"), ("rollout", "both", "unknown rollout")]:
        with pytest.raises(WamError, match=message):
            model.set_runtime_option(name, value)
    # a proposer with shorter chunks than the world model plans
    short = train(train_config(tiny_dataset, tmp_path / "short", steps=1, model_overrides=_overrides({**TINY, "chunk": "2"})))
    with pytest.raises(WamError, match="proposes 2-step chunks"):
        model.attach_proposer(load_model(short)[0])
    base = ["eval", "--checkpoint", str(tiny_world_model), "--episodes", "1", "--workers", "1", "--videos", "0", "--tasks", "reach-v3"]
    assert main(base + ["--out", str(tmp_path / "e1"), "--proposals", "no-such-model"]) != 0
    assert main(base + ["--out", str(tmp_path / "e2"), "--proposals", "flow-policy"]) != 0  # no run beside it
    assert main(base + ["--out", str(tmp_path / "e3"), "--option", "planner=cem"]) != 0  # warm start without proposals
    # repeated --option flags add up
    assert main(base + ["--out", str(tmp_path / "e4"), "--max-steps", "4", "--action-steps", "4", "--option", "planner=cem", "--option", "warm_start=false"]) == 0
    options = json.loads((tmp_path / "e4" / "eval.json").read_text())["protocol"]["model_options"]
    assert options["planner"] == "cem" and options["warm_start"] == "false"


def test_world_model_eval_with_named_proposals_records_them(tiny_world_model, tiny_checkpoint, tmp_path):
    import shutil

    from wam.runner.evaluate import EvalConfig, evaluate

    # a run folder layout like runs/mt10/<name>/model, so the proposer resolves by name
    runs = tmp_path / "runs"
    shutil.copytree(tiny_world_model, runs / "latent-rollout" / "model")
    shutil.copytree(tiny_checkpoint, runs / "flow-policy" / "model")
    result = evaluate(EvalConfig(checkpoint=runs / "latent-rollout" / "model", out=tmp_path / "eval", tasks="reach-v3",
                                 episodes=2, workers=1, videos=0, max_steps=16, action_steps=4, proposals="flow-policy",
                                 option=("samples=4",)))
    assert result["anatomy"]["coupling"] == "action-conditioned rollout"
    assert result["protocol"]["proposals"].endswith("flow-policy/model")
    assert result["protocol"]["model_options"]["samples"] == "4"
    assert json.loads((tmp_path / "eval" / "eval.json").read_text())["latency_ms"]["p50"] > 0


def test_interactability_probe_runs_on_the_latent_world_model(tiny_world_model, tmp_path):
    from wam.runner.probe import ProbeConfig, probe

    result = probe(ProbeConfig(checkpoint=tiny_world_model, out=tmp_path / "p", tasks="reach-v3", states=1, candidates=2, max_warmup=3))
    assert result["applicable"] and list(result["per_offset"]) == ["1", "2", "3", "4"]
    assert all("psnr_db" not in row for row in result["per_offset"].values())  # latents only: no decoder
    # persistence: no frames, but the latent keeps stepping, so the open loop runs past the training horizon
    persistence = probe(ProbeConfig(checkpoint=tiny_world_model, out=tmp_path / "q", tasks="reach-v3", states=1, max_warmup=3,
                                    property="persistence", horizon=12))
    assert list(persistence["modes"]["open_loop"]["per_step"]) == [str(s) for s in range(1, 13)]
    assert list(persistence["modes"]["regrounded"]["per_step"]) == [str(s) for s in range(1, 13)]  # three 4-step chunks
    first = persistence["modes"]["open_loop"]["per_step"]["4"]["latent_mse"]
    assert first == pytest.approx(persistence["modes"]["regrounded"]["per_step"]["4"]["latent_mse"])  # same first chunk
    plausibility = probe(ProbeConfig(checkpoint=tiny_world_model, out=tmp_path / "r", tasks="reach-v3", states=1, property="plausibility"))
    assert plausibility["applicable"] is False  # it scores futures; it does not act from one it exposes


def test_interactive_regime_carries_the_latent_belief(tiny_world_model, perturbed_dataset, tmp_path):
    from wam.runner.evaluate import EvalConfig, evaluate
    from wam.train.checkpoint import load_model

    model, _ = load_model(tiny_world_model)
    model.set_runtime_option("warm_start", "false")
    model.set_runtime_option("planner", "cem")
    cache = TrainingCache(perturbed_dataset)
    first, later = (cache.batch(np.array([i]), model.window) for i in (0, 9))
    first, later = ({k: b[k] for k in ("image", "state", "task_index")} for b in (first, later))
    g = lambda: torch.Generator().manual_seed(3)  # noqa: E731
    chunk0, carry = model.act_interactive(first, None, None, 0.5, g())
    torch.testing.assert_close(chunk0, model.act(first, g()))  # the first call sees only the camera
    executed = chunk0[0, :2].numpy()
    # gain 1: the observation replaces the belief, so the call is the chunked regime's
    chunk1, z1 = model.act_interactive(later, carry, executed, 1.0, g())
    torch.testing.assert_close(chunk1, model.act(later, g()))
    torch.testing.assert_close(z1, model.encode_observation(later))
    # gain 0: the belief is the first latent stepped through the executed actions, whatever the camera shows
    chunk_a, z_a = model.act_interactive(later, carry, executed, 0.0, g())
    chunk_b, _ = model.act_interactive(first, carry, executed, 0.0, g())
    torch.testing.assert_close(z_a, model.imagine(first, torch.from_numpy(executed)[None])["latents"][:, -1])
    torch.testing.assert_close(chunk_a, chunk_b)
    assert not torch.allclose(z_a, z1)  # ...it is not the camera's latent...
    assert not torch.allclose(chunk_a, chunk1)  # ...and the plan follows it
    # in between: a convex blend, still a SimNorm simplex per group
    _, z_half = model.act_interactive(later, carry, executed, 0.5, g())
    torch.testing.assert_close(z_half, 0.5 * z1 + 0.5 * z_a)
    groups = z_half.view(-1, model.config.simnorm_group).sum(-1)
    torch.testing.assert_close(groups, torch.ones_like(groups))

    # closed loop: gain 1 runs the same episode as the chunked regime; the protocol records the gain
    def run(regime, name, **kw):
        return evaluate(EvalConfig(checkpoint=tiny_world_model, out=tmp_path / name, tasks="reach-v3", episodes=1, workers=1,
                                   videos=0, max_steps=12, action_steps=4, regime=regime,
                                   option=("warm_start=false", "planner=cem"), **kw))

    chunked, replaced, imagined = run("chunked", "c"), run("interactive", "i1", observation_gain=1.0), run("interactive", "i0", observation_gain=0.0)
    strip = lambda r: [{k: e[k] for k in ("steps", "calls", "success", "failure_tags")} for e in r["episodes"]]  # noqa: E731
    assert strip(chunked) == strip(replaced)
    assert imagined["protocol"]["regime"] == "interactive" and imagined["protocol"]["observation_gain"] == 0.0


def test_imagined_vs_real_success_on_the_latent_world_model(tiny_world_model, tmp_path):
    """The causality probe's second half: the planner acts inside the latent imagination, judged by
    the success head; without a trained judge, or with a proposer that needs camera images, it is
    not applicable (and says why)."""
    from wam.runner.probe import ProbeConfig, probe
    from wam.train.checkpoint import load_model, load_state_strict
    from safetensors.torch import load_file

    scratch = ("planner=cem", "warm_start=false")
    cfg = dict(checkpoint=tiny_world_model, property="causality", tasks="reach-v3", states=1, candidates=2, max_warmup=2,
               episodes=2, workers=1, max_steps=16, action_steps=4)
    result = probe(ProbeConfig(**cfg, out=tmp_path / "p", option=scratch))
    assert result["causal"] and result["model_options"]["planner"] == "cem"
    gap = result["imagined_vs_real"]
    assert gap["applicable"] and gap["episodes"] == 2 and gap["seeds"] == [1_000_000, 1_000_001]
    assert gap["gap"] == pytest.approx(gap["imagined"]["success"] - gap["real"]["success"])
    assert sum(gap["agreement"].values()) == 2 and 0.0 <= gap["judge_agrees_with_simulator"] <= 1.0
    lines = (tmp_path / "p" / "causality-imagination.jsonl").read_text().splitlines()
    assert len(lines) == 2 and all(json.loads(x)["real"]["steps"] <= 16 for x in lines)
    # the real half is `wam eval`'s episode: same steps and outcome for the same seeds and noise
    from wam.runner.evaluate import EvalConfig, evaluate

    evaluated = evaluate(EvalConfig(checkpoint=tiny_world_model, out=tmp_path / "e", tasks="reach-v3", episodes=2, workers=1,
                                    videos=0, max_steps=16, action_steps=4, option=scratch))
    real = {json.loads(x)["seed"]: json.loads(x)["real"] for x in lines}
    assert [(e["steps"], e["success"]) for e in evaluated["episodes"]] == [(real[e["seed"]]["steps"], real[e["seed"]]["success"])
                                                                           for e in evaluated["episodes"]]
    # a kill that cut the log's last line: the pair runs again, on a line of its own
    log = tmp_path / "p" / "causality-imagination.jsonl"
    log.write_text(lines[0] + "\n" + lines[1][: len(lines[1]) // 2])
    again = probe(ProbeConfig(**cfg, out=tmp_path / "p", option=scratch))
    assert again["imagined_vs_real"] == gap and [json.loads(x) for x in log.read_text().splitlines()] == [json.loads(x) for x in lines]
    # the same folder under another protocol is refused
    with pytest.raises(WamError, match="another protocol"):
        probe(ProbeConfig(**{**cfg, "max_steps": 8}, out=tmp_path / "p", option=scratch))
    # the planner's proposals would need camera frames the imagination does not render
    model, _ = load_model(tiny_world_model)
    assert "proposals from a policy" in model.imagination_unavailable()
    model.set_runtime_option("warm_start", "false")
    model.set_runtime_option("planner", "cem")
    assert model.imagination_unavailable() is None and bool(model.success_trained)
    # a checkpoint written before the judge existed loads, with the judge marked untrained
    old = {k: v for k, v in load_file(str(tiny_world_model / "model.safetensors")).items()
           if not k.startswith("success.") and k != "success_trained"}
    load_state_strict(model, old, "old checkpoint")
    assert "never trained" in model.imagination_unavailable()

"""The world-model probes on cases with a known answer.

A model whose world model is the true simulator must score perfect interactability, persistence
and plausibility; a model that ignores its action input must score zero interactability. Both are
test doubles built on a live MetaWorldEnv, so the answers do not depend on any learning.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from wam.data.cache import WindowSpec
from wam.envs.metaworld import MetaWorldEnv

TASK = "push-v3"


def _pooled(frames: torch.Tensor) -> torch.Tensor:
    """uint8 (N, H, W, 3) -> a small float latent (N, 3 * 8 * 8): enough for a linear readout."""
    x = frames.permute(0, 3, 1, 2).float() / 255.0
    return F.adaptive_avg_pool2d(x, 8).flatten(1)


class SimulatorWorldModel:
    """Imagines by replaying actions in the real simulator. It remembers the simulator state behind
    every frame it has seen or produced, so it can continue from its own imagined frames (open
    loop) exactly as from real ones; the env is always left where the caller had it."""

    name, role = "simulator", "agent"
    capabilities = frozenset({"predict", "forward_dynamics"})
    imagines_any_horizon = False
    window = WindowSpec(n_obs_steps=1, chunk=4, future_offsets=(2, 4))

    def __init__(self, env: MetaWorldEnv, ignore_actions: bool = False):
        self.env, self.ignore_actions = env, ignore_actions
        self.states: dict[bytes, dict] = {}
        self._prediction = None
        self._rng = np.random.default_rng(0)

    def reset(self):
        pass

    def encode_observation(self, observation):
        return _pooled(observation["image"][:, -1])

    def imagine(self, observation, actions, generator=None):
        here = self.env.snapshot()
        frames = []
        for b in range(actions.shape[0]):
            key = observation["image"][b, -1].numpy().tobytes()
            start = self.states.setdefault(key, here)  # an unseen frame: the env is where it shows
            self.env.restore(start)
            row = []
            for t, action in enumerate(actions[b].numpy(), start=1):
                obs, *_ = self.env.step(np.zeros(4) if self.ignore_actions else action)
                self.states.setdefault(obs["image"].tobytes(), self.env.snapshot())
                if t in self.window.future_offsets or self.imagines_any_horizon:
                    row.append(obs["image"])
            frames.append(np.stack(row))
        self.env.restore(here)
        frames = np.stack(frames)  # (B, F, H, W, 3)
        offsets = list(range(1, actions.shape[1] + 1)) if self.imagines_any_horizon else list(self.window.future_offsets)
        latents = _pooled(torch.from_numpy(frames).flatten(0, 1)).view(len(frames), len(offsets), -1)
        return {"offsets": offsets, "latents": latents, "frames": frames}

    def act(self, observation, generator=None):
        chunk = torch.from_numpy(self._rng.uniform(-1, 1, (1, self.window.chunk, 4)).astype(np.float32))
        self._prediction = self.imagine(observation, chunk)
        return chunk

    def last_prediction(self):
        return self._prediction


@pytest.fixture()
def env():
    e = MetaWorldEnv(TASK, resolution=32)
    yield e
    e.close()


def test_the_simulator_as_world_model_scores_perfect_interactability_and_an_action_blind_one_zero(env):
    from wam.runner.probe import interactability_state

    def probe(model):
        return interactability_state(model, env, seed=1_000_000, task_index=0, warmup=10, candidates=4,
                                     rng=np.random.default_rng(0), generator=None)

    perfect = probe(SimulatorWorldModel(env))
    for row in perfect.values():
        assert max(row["matched_latent_mse"]) == 0.0 and row["matched_psnr"] == 100.0
        assert all(row["identified"]) and min(row["mismatched_latent_mse"]) > 0
    blind = probe(SimulatorWorldModel(env, ignore_actions=True))
    for row in blind.values():
        # one prediction for every chunk: as close to other chunks' futures as to its own, on average
        sensitivity = np.mean(row["mismatched_latent_mse"]) - np.mean(row["matched_latent_mse"])
        assert abs(sensitivity) < 1e-6 and max(row["matched_latent_mse"]) > 0


def test_persistence_of_the_simulator_is_perfect_open_loop_and_regrounded(env):
    from wam.runner.probe_futures import persistence_state, summarize_persistence

    model = SimulatorWorldModel(env)
    states = [persistence_state(model, env, seed=s, task_index=0, warmup=5, horizon=12, rng=np.random.default_rng(s), generator=None)
              for s in (1_000_000, 1_000_001)]
    summary = summarize_persistence(states)
    assert set(summary["modes"]) == {"open_loop", "regrounded"} and summary["open_loop_not_applicable"] is None
    for mode in summary["modes"].values():
        assert list(mode["per_step"]) == ["2", "4", "6", "8", "10", "12"]  # offsets 2 and 4 of three chunks
        assert all(row["latent_mse"] == 0.0 and row["psnr_db"] == 100.0 for row in mode["per_step"].values())
        assert list(mode["cost"]) == ["4", "8", "12"] and mode["cost"]["12"]["seconds_mean"] >= mode["cost"]["4"]["seconds_mean"]
    # an action-blind model drifts from the real future the further it imagines
    blind = summarize_persistence([persistence_state(SimulatorWorldModel(env, ignore_actions=True), env, seed=1_000_000, task_index=0,
                                                     warmup=5, horizon=12, rng=np.random.default_rng(0), generator=None)])
    errors = [row["latent_mse"] for row in blind["modes"]["open_loop"]["per_step"].values()]
    assert errors[-1] > errors[0] > 0


def test_plausibility_of_the_simulator_is_perfect_down_to_the_readout_floor(env):
    from wam.runner.probe_futures import plausibility_state, summarize_plausibility

    model = SimulatorWorldModel(env)
    states = [plausibility_state(model, env, seed=s, task_index=0, warmup=int(w), rng=np.random.default_rng(s), generator=None)
              for s, w in zip(range(1_000_000, 1_000_006), (0, 5, 10, 15, 20, 25))]
    summary = summarize_plausibility(states)
    assert list(summary["per_offset"]) == ["2", "4"]
    for row in summary["per_offset"].values():
        assert row["n"] == 6 and row["latent_mse"] == 0.0 and row["psnr_db"] == 100.0
        # the prediction is the real outcome, so its positions are read exactly as the real frame's
        assert row["hand_error_cm"] == pytest.approx(row["hand_floor_cm"]) and row["object_error_cm"] == pytest.approx(row["object_floor_cm"])
    assert summarize_plausibility([None, None]) is None  # predicted nothing: no number


class SimulatorDreamer(SimulatorWorldModel):
    """Acts with the scripted expert and imagines by replaying its actions in the simulator, from
    the snapshot it keeps as its belief; judges success with the simulator's own evaluation of a
    state. Its imagined episodes are the real ones, so the imagined-vs-real gap must be zero.
    `ignore_actions`: imagination replays zeros instead (the arm never moves in its dream)."""

    window = WindowSpec(n_obs_steps=1, chunk=8)

    def __init__(self, env: MetaWorldEnv, ignore_actions: bool = False):
        super().__init__(env, ignore_actions)
        from wam.envs.experts import ScriptedExpert

        self.expert = ScriptedExpert(env.task)

    def imagination_unavailable(self):
        return None

    def _expert_chunk(self, start: dict) -> torch.Tensor:
        here = self.env.snapshot()
        self.env.restore(start)
        chunk = []
        for _ in range(self.window.chunk):
            chunk.append(self.expert(self.env.privileged_state))
            self.env.step_physics(chunk[-1])
        self.env.restore(here)
        return torch.from_numpy(np.stack(chunk).astype(np.float32))[None]

    def act(self, observation, generator=None):  # the runner's env is this env, at the observed state
        return self._expert_chunk(self.env.snapshot())

    def imagination_start(self, observation):
        return self.env.snapshot()

    def imagination_act(self, belief, generator=None):
        return self._expert_chunk(belief)

    def imagination_step(self, belief, actions):
        here = self.env.snapshot()
        self.env.restore(belief)
        solved = [float(self.env.step_physics(np.zeros(4) if self.ignore_actions else a)[1]) for a in actions]
        belief = self.env.snapshot()
        self.env.restore(here)
        return belief, np.asarray(solved)

    def judge_step(self, observation, action):  # the runner's env is this env, at the observed state
        here = self.env.snapshot()
        solved = self.env.step_physics(action)[1]
        self.env.restore(here)
        return float(solved)


def test_imagined_vs_real_success_of_the_simulator_has_no_gap_and_a_frozen_dream_has_all_of_it(env):
    from wam.runner.probe_imagination import imagination_pair, summarize_imagination

    def pairs(model):
        return [imagination_pair(model, env, TASK, seed, task_index=0, action_steps=4, max_steps=120, sampling_seed=0)
                for seed in (1_000_000, 1_000_001)]

    exact = pairs(SimulatorDreamer(env))
    for r in exact:  # the dream is the world: same success at the same step, and the judge reads it exactly
        assert r["real"]["success"] and r["imagined"] == {"success": True, "steps": r["real"]["steps"], "max_probability": 1.0}
        assert r["real"]["judged_at"] == r["real"]["steps"] and r["real"]["judged_max_probability"] == 1.0
    summary = summarize_imagination(exact)
    assert summary["gap"] == summary["judge_gap"] == summary["imagination_gap"] == 0.0
    assert summary["real"]["success"] == 1.0 and summary["agreement"]["both"] == 2 and summary["judge_agrees_with_simulator"] == 1.0

    assert summary["judge_auroc"] is None  # every episode succeeded: nothing to rank against
    frozen = summarize_imagination(pairs(SimulatorDreamer(env, ignore_actions=True)))
    assert frozen["real"]["success"] == 1.0 and frozen["imagined"]["success"] == 0.0
    assert frozen["gap"] == frozen["imagination_gap"] == -1.0 and frozen["agreement"]["real_only"] == 2
    assert frozen["mean_max_probability"] == {"imagined": 0.0, "judged_real": 1.0}


def test_auroc_ranks_positives_above_negatives():
    from wam.runner.probe_imagination import auroc

    assert auroc([0.9, 0.8, 0.1, 0.2], [True, True, False, False]) == 1.0
    assert auroc([0.1, 0.2, 0.9, 0.8], [True, True, False, False]) == 0.0
    assert auroc([0.5, 0.5], [True, False]) == 0.5 and auroc([0.3], [True]) is None


def test_the_property_table_keeps_one_checkpoint_under_two_settings_apart():
    from wam.report.html import probe_section

    plain = {"model": "latent-rollout", "property": "causality", "applicable": True, "causal": True,
             "max_abs_action_change": 0.0, "calls": 4}
    scratch = {**plain, "model_options": {"planner": "cem", "warm_start": "false"},
               "imagined_vs_real": {"applicable": True, "gap": 0.5, "imagined": {"success": 0.75}, "real": {"success": 0.25},
                                    "judged_real": {"success": 0.5}}}
    page = probe_section([plain, scratch])
    assert "<td>latent-rollout</td>" in page and "<td>latent-rollout [planner=cem, warm_start=false]</td>" in page
    assert "success imagined 75.0% vs real 25.0% (gap +50 pts" in page

"""Deployment regimes as strategies of the closed-loop runner."""

from __future__ import annotations

import numpy as np
import pytest

from wam.errors import WamError
from wam.runner.regimes import Async, Chunked


def _executed(regime, n):
    return [float(regime.next_action()[0]) for _ in range(n)]


def test_async_charges_compute_time_in_control_steps():
    regime = Async(action_steps=4, control_hz=80.0)
    regime.reset()
    chunk = (np.arange(16, dtype=float) + 1)[:, None]  # action values 1..16
    regime.charge_latency(0.030)  # 2.4 control periods of 12.5 ms -> 3 steps pass
    regime.set_plan(chunk)
    # nothing to run on at the first call: hold for 3 steps, then the chunk from its entry 3
    assert _executed(regime, 7) == [0, 0, 0, 4, 5, 6, 7]
    assert regime.needs_plan()
    regime.charge_latency(0.025)  # exactly 2 steps
    regime.set_plan(chunk + 100)
    # the previous chunk runs on while the new one computes, then the new one from its entry 2
    assert _executed(regime, 6) == [8, 9, 103, 104, 105, 106]
    assert regime.delays == [3, 2]


def test_async_with_no_latency_is_the_chunked_regime_and_stale_chunks_are_dropped():
    chunk = (np.arange(16, dtype=float) + 1)[:, None]
    a, c = Async(action_steps=8), Chunked(action_steps=8)
    a.reset(), c.reset()
    a.charge_latency(0.0)
    a.set_plan(chunk)
    c.set_plan(chunk)
    assert _executed(a, 8) == _executed(c, 8)
    a.charge_latency(0.5)  # 40 steps: longer than the whole chunk
    a.set_plan(chunk)
    executed = _executed(a, 40)
    assert executed[:8] == list(range(9, 17)) and set(executed[8:]) == {0.0}  # leftover, then hold
    assert a.needs_plan()


def test_eval_runs_any_chunked_model_asynchronously(tiny_checkpoint, tmp_path):
    from wam.runner.evaluate import EvalConfig, evaluate

    result = evaluate(EvalConfig(checkpoint=tiny_checkpoint, out=tmp_path / "async", tasks="reach-v3", episodes=1,
                                 workers=1, videos=0, max_steps=12, action_steps=4, regime="async"))
    assert result["protocol"]["regime"] == "async"
    assert result["episodes"][0]["steps"] == 12 and result["episodes"][0]["calls"] >= 2
    with pytest.raises(WamError, match="unknown regime"):
        EvalConfig(checkpoint=tiny_checkpoint, regime="telepathic")
    with pytest.raises(WamError, match="observation_gain must be in \\[0, 1\\]"):
        EvalConfig(checkpoint=tiny_checkpoint, regime="interactive", observation_gain=1.5)
    # a policy carries nothing across calls
    with pytest.raises(WamError, match="does not support regime 'interactive'"):
        evaluate(EvalConfig(checkpoint=tiny_checkpoint, out=tmp_path / "ia", tasks="reach-v3", episodes=1, workers=1,
                            regime="interactive"))
    # event-triggered replanning needs a predicted future to compare with; a policy has none
    with pytest.raises(WamError, match="does not support regime 'event-triggered'"):
        evaluate(EvalConfig(checkpoint=tiny_checkpoint, out=tmp_path / "et", tasks="reach-v3", episodes=1, workers=1,
                            regime="event-triggered"))


def test_event_triggered_drops_the_rest_of_the_chunk_when_the_future_diverges():
    from wam.runner.regimes import EventTriggered

    regime = EventTriggered(action_steps=8, threshold=0.5)
    regime.reset()
    regime.set_plan((np.arange(16, dtype=float) + 1)[:, None])
    assert _executed(regime, 2) == [1, 2]
    assert not regime.diverged(0.4) and not regime.needs_plan()
    assert regime.diverged(0.6) and regime.needs_plan() and regime.triggers == 1
    assert not Chunked().diverged(1e9)


class _Imaginer:
    """Acts with a chunk that encodes the mean of the image it was shown, and predicts a frame
    (all pixels = 100 + call number) at offsets 2 and 4."""

    name = "imaginer"

    def __init__(self, offsets=(2, 4)):
        self.offsets, self.seen, self.calls = list(offsets), [], 0

    def act(self, observation, generator=None):
        import torch

        self.seen.append(observation["image"].clone())
        self.calls += 1
        return torch.full((1, 4, 4), float(observation["image"].float().mean()))

    def last_prediction(self):
        frames = np.full((1, len(self.offsets), 8, 8, 3), 100 + self.calls, dtype=np.uint8)
        return {"offsets": self.offsets, "frames": frames, "latents": None}


def test_re_grounding_acts_on_its_own_predicted_frame_between_measured_ones():
    import torch

    from wam.runner.regimes import Regrounding

    measured = {"image": torch.zeros(1, 2, 8, 8, 3, dtype=torch.uint8), "state": torch.zeros(1, 2, 4), "task_index": torch.tensor([0])}
    model, regime = _Imaginer(), Regrounding(action_steps=2, reground_every=3)
    regime.reset()
    for _ in range(4):
        regime.call(model, measured, None)
    shown = [int(img[0, -1, 0, 0, 0]) for img in model.seen]
    # calls 1 and 4 see the camera; calls 2 and 3 see the frame the previous call predicted 2 steps ahead
    assert shown == [0, 101, 102, 0] and regime.imagined_calls == 2
    assert all(img.shape == (1, 2, 8, 8, 3) for img in model.seen)
    # every call re-grounded is the chunked regime: the camera image every time
    model, regime = _Imaginer(), Regrounding(action_steps=2, reground_every=1)
    for _ in range(3):
        regime.call(model, measured, None)
    assert [int(img[0, -1, 0, 0, 0]) for img in model.seen] == [0, 0, 0]
    with pytest.raises(WamError, match="needs the frame 3 steps ahead.*predicts offsets \\[2, 4\\]"):
        Regrounding(action_steps=3, reground_every=2).call(_Imaginer(), measured, None)
    with pytest.raises(WamError, match="reground_every must be >= 1"):
        Regrounding(reground_every=0)


class _Carrier:
    """Returns chunk k+1 at its k-th call and carries (call count, what it was told was executed)."""

    def __init__(self):
        self.received = []

    def act_interactive(self, observation, carry, executed, observation_gain, generator=None):
        import torch

        self.received.append((carry, None if executed is None else executed[:, 0].tolist(), observation_gain))
        calls = 0 if carry is None else carry[0] + 1
        return torch.full((1, 4, 1), float(calls + 1)) + torch.arange(4.0)[None, :, None] / 10, (calls, executed)


def test_interactive_hands_the_model_its_carried_state_and_the_executed_actions():
    from wam.runner.regimes import Interactive

    model, regime = _Carrier(), Interactive(action_steps=2, observation_gain=0.25)
    regime.reset()
    for _ in range(3):
        regime.set_plan(regime.call(model, {}, None))
        [regime.next_action() for _ in range(2)]
    carries = [c for c, _, _ in model.received]
    executed = [e for _, e, _ in model.received]
    assert carries[0] is None and [c[0] for c in carries[1:]] == [0, 1]
    # each call hears exactly the actions run since the previous one (the first two of each chunk)
    assert executed[0] is None and np.allclose(executed[1:], [[1.0, 1.1], [2.0, 2.1]])
    assert {g for _, _, g in model.received} == {0.25}
    regime.reset()  # a new episode starts without a carried state
    regime.call(model, {}, None)
    assert model.received[-1][:2] == (None, None)
    with pytest.raises(WamError, match="observation_gain must be in"):
        Interactive(observation_gain=-0.1)

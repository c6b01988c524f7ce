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
        EvalConfig(checkpoint=tiny_checkpoint, regime="interactive")
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

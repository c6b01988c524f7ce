"""Properties of the pure math: samplers, losses, normalisers, intervals."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from wam.data.normalize import Normalizer
from wam.errors import WamError
from wam.eval.metrics import latency_summary, paired_comparison, wilson_interval
from wam.objectives.flow_matching import euler_sample, flow_matching_loss, interpolate


def test_euler_is_exact_for_constant_velocity():
    target = torch.randn(5, 3)
    noise = torch.randn(5, 3)
    out = euler_sample(lambda x, t: target - noise, noise, steps=1)
    torch.testing.assert_close(out, target)
    out = euler_sample(lambda x, t: target - noise, noise, steps=7)
    torch.testing.assert_close(out, target)


def test_euler_follows_the_straight_path_of_the_optimal_field():
    """For a single data point the optimal velocity (x1 - x) / (1 - t) reaches it exactly."""
    x1 = torch.tensor([[2.0, -1.0]])
    noise = torch.tensor([[0.3, 0.4]])
    out = euler_sample(lambda x, t: (x1 - x) / (1 - t[:, None]).clamp_min(1e-6), noise, steps=10)
    torch.testing.assert_close(out, x1)


def test_flow_matching_loss_zero_for_perfect_velocity_and_masks():
    x1 = torch.randn(4, 6)
    g = torch.Generator().manual_seed(0)
    noise = torch.randn(x1.shape, generator=g)
    # Recover x0 from x_t and t: the perfect field needs x1, which we close over.
    def perfect(x, t):
        t = t[:, None]
        x0 = (x - t * x1) / (1 - t)
        return x1 - x0

    loss = flow_matching_loss(perfect, x1, generator=torch.Generator().manual_seed(0))
    assert loss.shape == (4,) and float(loss.max()) < 1e-6
    wrong = flow_matching_loss(lambda x, t: torch.zeros_like(x), x1, weight=torch.zeros(4, 6))
    assert float(wrong.abs().max()) == 0.0  # fully masked samples contribute nothing
    assert interpolate(noise, x1, torch.zeros(4)).equal(noise)


@pytest.mark.parametrize("mode", ["mean_std", "min_max"])
def test_normalizer_round_trip(mode):
    x = np.random.default_rng(0).normal(3, 2, (100, 4)).astype(np.float32)
    x[:, 3] = 1.0  # constant dimension
    stats = {"mean": x.mean(0), "std": x.std(0), "min": x.min(0), "max": x.max(0)}
    norm = Normalizer(4, mode, stats)
    t = torch.from_numpy(x)
    torch.testing.assert_close(norm.inverse(norm(t)), t)
    assert torch.isfinite(norm(t)).all()
    if mode == "min_max":
        assert float(norm(t)[:, :3].abs().max()) <= 1.0 + 1e-5


def test_normalizer_rejects_bad_stats():
    with pytest.raises(WamError, match="NaN"):
        Normalizer(2, "mean_std", {"mean": np.array([0, np.nan]), "std": np.ones(2)})
    with pytest.raises(WamError, match="shape"):
        Normalizer(3, "mean_std", {"mean": np.zeros(2), "std": np.ones(2)})


def test_wilson_interval():
    lo, hi = wilson_interval(45, 50)
    assert lo < 0.9 < hi and 0.78 < lo < 0.80 and 0.95 < hi < 0.97  # 0.786-0.957
    assert wilson_interval(0, 10)[0] == 0.0 and wilson_interval(10, 10)[1] == pytest.approx(1.0)
    assert latency_summary([0.001, 0.002, 0.003])["p50"] == pytest.approx(2.0)


def _episodes(outcomes: list[bool], tasks=("reach-v3", "push-v3")) -> list[dict]:
    return [{"task": tasks[i % len(tasks)], "seed": 1000 + i // len(tasks), "success": ok} for i, ok in enumerate(outcomes)]


def test_paired_comparison_counts_discordant_episodes_and_tests_them_exactly():
    scipy_stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(0)
    reference = rng.random(120) < 0.8
    other = np.where(rng.random(120) < 0.15, ~reference, reference)  # flips 15% of the outcomes
    ref, oth = _episodes(list(reference)), _episodes(list(other))
    c = paired_comparison(ref, oth[::-1])  # paired by (task, seed), not by position
    assert c["wins"] == int((other & ~reference).sum()) and c["losses"] == int((reference & ~other).sum())
    assert c["both"] + c["neither"] + c["wins"] + c["losses"] == c["episodes"] == 120
    expected = scipy_stats.binomtest(c["wins"], c["wins"] + c["losses"], 0.5).pvalue
    assert c["p_value"] == pytest.approx(expected, rel=1e-9)
    # five wins and no losses: p = 2 / 2^5 exactly; a model against itself: p = 1
    assert paired_comparison(_episodes([False] * 5), _episodes([True] * 5))["p_value"] == pytest.approx(0.0625)
    assert paired_comparison(ref, ref)["p_value"] == 1.0 and paired_comparison(ref, ref)["wins"] == 0


def test_paired_comparison_refuses_episodes_that_do_not_pair():
    with pytest.raises(WamError, match="different initial conditions"):
        paired_comparison(_episodes([True] * 4), _episodes([True] * 6))
    with pytest.raises(WamError, match="repeats a"):
        paired_comparison(_episodes([True] * 4) * 2, _episodes([True] * 4) * 2)


def test_runtime_option_parsers_accept_the_range_and_name_the_option_otherwise():
    from wam.models.base import parse_flag, parse_number

    assert parse_number("steps", "3", int, 1) == 3 and isinstance(parse_number("steps", "3", int, 1), int)
    assert parse_number("scale", "0.25", float, 0.0, 1.0) == 0.25
    assert parse_number("k", "10", int, 0, 10) == 10  # both ends are inside
    for value, message in [("0", r"steps must be >= 1, got 0"), ("2.5", r"steps must be an integer >= 1, got '2.5'")]:
        with pytest.raises(WamError, match=message):
            parse_number("steps", value, int, 1)
    for value in ("1.5", "-0.1", "nan", "hot"):
        with pytest.raises(WamError, match=r"^scale must be (a number )?in \[0, 1\] \(a note\), got"):
            parse_number("scale", value, float, 0.0, 1.0, note=" (a note)")
    assert parse_flag("imagine", "On") is True and parse_flag("imagine", "0") is False
    with pytest.raises(WamError, match="imagine must be true or false, got 'maybe'"):
        parse_flag("imagine", "maybe")


def test_name_value_pairs_are_parsed_one_way_for_options_overrides_and_task_weights():
    from wam.errors import parse_pairs
    from wam.runner.evaluate import parse_options
    from wam.train.trainer import build_model_config, resolve_task_weights

    assert parse_pairs([" a = 1", "b=x=y"], "bad {item!r}") == [("a", "1"), ("b", "x=y")]
    assert parse_pairs(["open the door=2"], "bad {item!r}", last=True) == [("open the door", "2")]
    assert parse_pairs(["x=a=b=3"], "bad", last=True) == [("x=a=b", "3")]  # a name may hold '=' itself
    for item in ("novalue", "=3", " =3"):
        with pytest.raises(WamError, match=r"^bad '.*'$"):
            parse_pairs([item], "bad {item!r}")
    # each caller keeps its own message
    with pytest.raises(WamError, match="runtime option must look like name=value, got '=3'"):
        parse_options(("=3",))
    with pytest.raises(WamError, match="model override 'chunk' is not key=value"):
        build_model_config("flow-policy", ("chunk",))
    with pytest.raises(WamError, match="task weight '2' is not task=weight"):
        resolve_task_weights(("2",), ("reach", "push"))
    assert resolve_task_weights(("a=b=2",), ("a=b", "c")).tolist() == [2.0, 1.0]

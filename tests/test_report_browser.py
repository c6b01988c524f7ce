"""The report in a real browser: headless Chromium loads the page, its images and its videos."""

from __future__ import annotations

import pytest

from wam.errors import WamError
from wam.report.browser import check_in_browser, find_browser


def _require_browser() -> None:
    try:
        find_browser()
    except WamError as e:  # scripts/setup.sh installs it; a bare `pytest` elsewhere may not have it
        pytest.skip(str(e))


def test_report_loads_in_headless_chromium(tiny_checkpoint, tmp_path):
    from wam.report.html import ReportConfig, build_report
    from wam.runner.evaluate import EvalConfig, evaluate

    _require_browser()
    evaluate(EvalConfig(checkpoint=tiny_checkpoint, out=tmp_path / "ev", episodes=1, max_steps=10, workers=1, videos=1,
                        tasks="reach-v3", action_steps=4))
    page = build_report(ReportConfig(results=[tmp_path / "ev"], out=tmp_path / "report", title="browser check"))
    loaded = check_in_browser(page)
    assert loaded["title"] == "browser check"
    assert len(loaded["images"]) >= 4 and all(loaded["images"].values()), loaded["images"]  # plots and frame strips
    assert len(loaded["videos"]) == 1 and all(loaded["videos"].values()), loaded["videos"]  # H.264 mp4 decodes
    # the check can fail: a missing plot and a missing video are reported as not loaded
    (tmp_path / "report" / "per_task_success.png").unlink()
    video = next(iter(loaded["videos"]))
    (tmp_path / "report" / video).unlink()
    broken = check_in_browser(page)
    assert broken["images"]["per_task_success.png"] is False and broken["videos"][video] is False
    assert sum(broken["images"].values()) == len(broken["images"]) - 1

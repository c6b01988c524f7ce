"""Collection: killed and re-run, it resumes from staged episodes and never leaves a partial dataset."""

from __future__ import annotations

import pytest

from wam.data import collect as collect_module
from wam.data.collect import CollectConfig, Staging, collect
from wam.data.lerobot_v3 import LeRobotDataset
from wam.errors import WamError


def test_killed_collection_resumes_without_redoing_episodes(tmp_path, monkeypatch):
    cfg = dict(out=tmp_path / "ds", tasks="reach-v3", episodes=3, workers=1)

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # the process dies after every episode is staged, before writing

    monkeypatch.setattr(collect_module, "_finalize", killed)
    with pytest.raises(KeyboardInterrupt):
        collect(CollectConfig(**cfg))
    assert not (tmp_path / "ds").exists()  # no partial dataset
    staging = Staging(CollectConfig(**cfg))
    staged = {p: p.stat().st_mtime_ns for p in staging.dir.glob("reach-v3/*.npz")}
    assert len(staged) == 3
    # Remove a middle staged episode: as if the kill came before it finished (a gap).
    lost = sorted(staged)[1]
    lost.unlink()
    monkeypatch.undo()
    real_finalize, seen = collect_module._finalize, {}

    def spy(cfg_, staging_, *args):
        seen.update({p: p.stat().st_mtime_ns for p in staging_.dir.glob("reach-v3/*.npz")})
        return real_finalize(cfg_, staging_, *args)

    monkeypatch.setattr(collect_module, "_finalize", spy)
    collect(CollectConfig(**cfg))
    assert len(seen) == 3 and all(seen[p] == t for p, t in staged.items() if p != lost)  # not redone
    ds = LeRobotDataset(tmp_path / "ds")
    assert ds.info["total_episodes"] == 3
    assert ds.episode_column("wam/seed") == [0, 1, 2]
    assert not staging.dir.exists()
    # Resuming a partial collection with other settings is refused.
    other = CollectConfig(**{**cfg, "out": tmp_path / "ds2"})
    Staging(other).dir.mkdir(parents=True)
    (Staging(other).dir / "settings.json").write_text('{"camera": "topview", "resolution": 64, "max_steps": 500, "shift": "none"}')
    with pytest.raises(WamError, match="other settings"):
        collect(other)

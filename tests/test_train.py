"""Trainer: determinism, exact resume, checkpoints, label masking, data parallel launch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from wam.data.cache import TrainingCache, label_mask
from wam.errors import WamError
from wam.train.checkpoint import load_model, load_tensors, save_model
from wam.train.trainer import EpochSampler, Trainer, TrainConfig, resolve_task_weights, train

from conftest import TINY, train_config


def _weights(folder: Path) -> dict[str, torch.Tensor]:
    return load_tensors(folder / "model.safetensors")


def test_same_seed_same_weights(tiny_dataset, tmp_path):
    a = train(train_config(tiny_dataset, tmp_path / "a", steps=4))
    b = train(train_config(tiny_dataset, tmp_path / "b", steps=4))
    c = train(train_config(tiny_dataset, tmp_path / "c", steps=4, seed=1))
    wa, wb, wc = _weights(a), _weights(b), _weights(c)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert not all(torch.equal(wa[k], wc[k]) for k in wa)


def test_resume_equals_uninterrupted(tiny_dataset, tmp_path):
    straight = Trainer(train_config(tiny_dataset, tmp_path / "straight", steps=6))
    straight.run()
    # Interrupted run: stop after 3 steps with a checkpoint, then a fresh process-like Trainer resumes.
    first = Trainer(train_config(tiny_dataset, tmp_path / "resumed", steps=6))
    for _ in range(3):
        first.train_step()
    first.save_checkpoint()
    del first
    second = Trainer(train_config(tiny_dataset, tmp_path / "resumed", steps=6))
    assert second.try_resume() and second.step == 3
    for _ in range(3):
        second.train_step()
    for k, v in straight.model.state_dict().items():
        assert torch.equal(v, second.model.state_dict()[k]), k
    for k, v in straight.ema.items():
        assert torch.equal(v, second.ema[k]), k
    assert straight.sampler.state() == second.sampler.state()


def test_task_balanced_sampler_gives_every_task_an_equal_share_and_resumes():
    # 10 frames of task 0 against 90 of task 1: uniform sampling draws task 0 a tenth of the time.
    indices, groups = np.arange(100), np.array([0] * 10 + [1] * 90)
    uniform = EpochSampler(indices, 20, seed=0)
    drawn = np.concatenate([uniform.next() for _ in range(5)])  # exactly one epoch
    assert np.bincount(groups[drawn]).tolist() == [10, 90]
    balanced = EpochSampler(indices, 20, seed=0, groups=groups)
    drawn = np.concatenate([balanced.next() for _ in range(9)])  # one epoch: 2 tasks x 90 draws
    assert np.bincount(groups[drawn]).tolist() == [90, 90]
    # the minority task's frames are cycled evenly (each 9 times), the majority's each drawn once
    assert set(np.bincount(drawn[groups[drawn] == 0]).tolist()) == {9}
    assert len(np.unique(drawn[groups[drawn] == 1])) == 90
    # deterministic for the seed, and a restored state continues the same stream
    again = EpochSampler(indices, 20, seed=0, groups=groups)
    assert np.array_equal(np.concatenate([again.next() for _ in range(9)]), drawn)
    straight = [balanced.next() for _ in range(4)]
    restored = EpochSampler(indices, 20, seed=0, groups=groups)
    restored.load({"epoch": 1, "cursor": 0})
    assert all(np.array_equal(a, b) for a, b in zip(straight, [restored.next() for _ in range(4)]))


def test_task_weights_scale_the_shares_and_bad_weights_are_refused():
    indices, groups = np.arange(100), np.array([0] * 10 + [1] * 90)
    weighted = EpochSampler(indices, 10, seed=0, groups=groups, weights=np.array([2.0, 1.0]))
    drawn = np.concatenate([weighted.next() for _ in range(27)])  # one epoch: 180 + 90 draws
    assert np.bincount(groups[drawn]).tolist() == [180, 90]
    names, instructions = ("reach-v3", "push-v3", "pick-place-v3"), ("reach it", "push it", "pick it")
    assert resolve_task_weights(("reach-v3=2.5", "pick it=0.5"), instructions, names).tolist() == [2.5, 1.0, 0.5]
    assert resolve_task_weights(("1=3",), instructions).tolist() == [1.0, 3.0, 1.0]  # by index, no env names
    for bad, message in [(("reach=2",), "unknown task 'reach'"), (("reach-v3",), "not task=weight"),
                         (("reach-v3=x",), "not a number"), (("reach-v3=0",), "positive"),
                         (("reach-v3=1", "0=2"), "weighted twice")]:
        with pytest.raises(WamError, match=message):
            resolve_task_weights(bad, instructions, names)
    with pytest.raises(WamError, match="no meaning with --sampling frames"):
        TrainConfig(steps=1, sampling="frames", task_weights=("reach-v3=2",))


def test_task_balanced_training_is_recorded_and_bad_sampling_is_refused(tiny_dataset, tmp_path):
    out = train(train_config(tiny_dataset, tmp_path / "balanced", steps=2, sampling="tasks"))
    info = json.loads((out / "config.json").read_text())
    assert info["train"]["train_config"]["sampling"] == "tasks"
    with pytest.raises(WamError, match="unknown sampling 'episodes'"):
        TrainConfig(dataset=tiny_dataset, out=tmp_path / "x", steps=1, sampling="episodes")
    assert TrainConfig(dataset=tiny_dataset, out=tmp_path / "x", steps=1).sampling == "tasks"  # the default
    # resuming under the other sampling would change the batches after the resume point: refused
    with pytest.raises(WamError, match="trained with sampling='tasks', not 'frames'"):
        train(train_config(tiny_dataset, tmp_path / "balanced", steps=4, sampling="frames"))
    # task weights are recorded and part of the resume check too
    with pytest.raises(WamError, match="trained with task_weights"):
        train(train_config(tiny_dataset, tmp_path / "balanced", steps=4, task_weights=("0=2",)))
    weighted = train(train_config(tiny_dataset, tmp_path / "weighted", steps=2, task_weights=("0=2",)))
    assert json.loads((weighted / "config.json").read_text())["train"]["train_config"]["task_weights"] == ["0=2"]


def test_checkpoint_round_trip_is_bit_exact(tiny_checkpoint, tmp_path):
    model, meta = load_model(tiny_checkpoint)
    save_model(model, tmp_path / "copy", meta["train"])
    again, _ = load_model(tmp_path / "copy")
    for k, v in model.state_dict().items():
        assert torch.equal(v, again.state_dict()[k])
    obs = {
        "image": torch.randint(0, 255, (2, 2, 64, 64, 3), dtype=torch.uint8),
        "state": torch.randn(2, 2, 4),
        "task_index": torch.tensor([0, 1]),
    }
    a = model.act(obs, generator=torch.Generator().manual_seed(3))
    b = again.act(obs, generator=torch.Generator().manual_seed(3))
    assert a.shape == (2, 4, 4) and torch.equal(a, b)
    assert meta["anatomy"]["coupling"] == "none" and meta["schema_version"] == 1


def test_checkpoint_mismatch_and_corruption_fail_loudly(tiny_checkpoint, tmp_path):
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(tiny_checkpoint, bad)
    meta = json.loads((bad / "config.json").read_text())
    meta["config"]["width"] = 128  # tensors no longer fit the config
    (bad / "config.json").write_text(json.dumps(meta))
    with pytest.raises(WamError, match="shape"):
        load_model(bad)
    shutil.copyfile(tiny_checkpoint / "config.json", bad / "config.json")
    (bad / "model.safetensors").write_bytes(b"\x00" * 64)
    with pytest.raises(WamError, match="corrupt"):
        load_model(bad)
    with pytest.raises(WamError, match="not found"):
        load_model(tmp_path / "missing")
    tensors = load_tensors(tiny_checkpoint / "model.safetensors")
    tensors["head.action_norm.scale"] = torch.full_like(tensors["head.action_norm.scale"], float("nan"))
    from safetensors.torch import save_file

    save_file(tensors, str(bad / "model.safetensors"))
    with pytest.raises(WamError, match="NaN"):
        load_model(bad)


def test_label_mask_is_deterministic_and_served_labels_are_withheld(tiny_dataset):
    cache = TrainingCache(tiny_dataset)
    m1 = label_mask(cache, fraction=0.34, seed=0)
    m2 = label_mask(cache, fraction=0.34, seed=0)
    np.testing.assert_array_equal(m1, m2)
    labelled_eps = np.unique(cache.episode_index[m1])
    assert len(labelled_eps) == 2  # one of three per task
    per_task = label_mask(cache, per_task=2, seed=0)
    assert len(np.unique(cache.episode_index[per_task])) == 4
    idx = np.flatnonzero(~m1)[:8]
    batch = cache.batch(idx, __import__("wam.data.cache", fromlist=["WindowSpec"]).WindowSpec(chunk=4), m1)
    assert not batch["labelled"].any() and float(batch["action"].abs().sum()) == 0.0
    with pytest.raises(WamError, match=r"\(0, 1\]"):
        label_mask(cache, fraction=1.5)


def test_unlabelled_samples_contribute_no_action_loss(tiny_dataset, tmp_path):
    trainer = Trainer(train_config(tiny_dataset, tmp_path / "r", steps=1))
    cache, model = trainer.cache, trainer.model
    batch = cache.batch(np.arange(8), model.window)
    batch["labelled"][:] = False
    loss, _ = model.loss(batch)
    loss.backward()
    assert float(loss.detach()) == 0.0
    assert all(p.grad is None or float(p.grad.abs().sum()) == 0.0 for p in model.parameters())


def test_policy_refuses_dataset_without_labels(tiny_dataset, tmp_path, monkeypatch):
    original = TrainingCache._load

    def all_action_free(self):
        original(self)
        self.episode_labelled[:] = False

    monkeypatch.setattr(TrainingCache, "_load", all_action_free)
    with pytest.raises(WamError, match="needs action-labelled episodes"):
        Trainer(train_config(tiny_dataset, tmp_path / "r", steps=1))


def test_data_parallel_with_two_gloo_processes(tiny_dataset, tmp_path):
    """`torchrun --nproc_per_node 2` runs the unchanged trainer; logs state the global batch."""
    import socket

    with socket.socket() as sock:  # a free port, so parallel test runs cannot collide
        sock.bind(("127.0.0.1", 0))
        port = str(sock.getsockname()[1])
    out = tmp_path / "ddp"
    overrides = [f"{k}={v}" for k, v in TINY.items()]
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", port,
        "-m", "wam.cli", "train", "--dataset", str(tiny_dataset), "--out", str(out), "--steps", "3",
        "--batch-size", "4", "--threads", "1", "--log-every", "1", "--model-overrides", *overrides,
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    log = (out / "train.log").read_text()
    assert "global batch 8 (2 process(es) x 4)" in log
    meta = json.loads((out / "model" / "config.json").read_text())
    assert meta["train"]["world_size"] == 2 and meta["train"]["global_batch"] == 8

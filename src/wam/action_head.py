"""The action expert shared by the policy and the WAMs: a flow-matching head over action chunks.

Given a conditioning vector (whatever the coupling feeds it: observation features, a predicted
future, both), it learns p(a_{t:t+K} | cond) with a FiLM residual MLP as the velocity field over the
flattened, min-max normalised chunk (K x A), and samples with Euler steps. Unlabelled samples
contribute exactly zero to its loss.
"""

from __future__ import annotations

import torch
from torch import nn

from wam.backbones.mlp import FiLMResMLP
from wam.data.normalize import Normalizer
from wam.objectives.flow_matching import euler_sample, flow_matching_loss


class ActionFlowHead(nn.Module):
    def __init__(self, action_dim: int, chunk: int, cond_dim: int, width: int, depth: int, noise_samples: int):
        super().__init__()
        self.action_dim, self.chunk, self.noise_samples = action_dim, chunk, noise_samples
        self.action_norm = Normalizer(action_dim, "min_max")
        self.velocity = FiLMResMLP(chunk * action_dim, chunk * action_dim, cond_dim, width=width, depth=depth)

    def loss(self, cond: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Flow-matching loss over labelled samples (scalar); `noise_samples` draws per sample reuse
        one conditioning vector (the encoder runs once)."""
        labelled = batch["labelled"].float()
        x1 = self.action_norm(batch["action"]).flatten(1)  # (B, K*A)
        weight = (~batch["action_is_pad"]).float().repeat_interleave(self.action_dim, dim=1)
        n = self.noise_samples
        per_sample = flow_matching_loss(
            lambda x, t: self.velocity(x, t, cond.repeat_interleave(n, 0)),
            x1.repeat_interleave(n, 0),
            weight=weight.repeat_interleave(n, 0),
        ).view(-1, n).mean(1)  # (B,)
        return (per_sample * labelled).sum() / labelled.sum().clamp_min(1.0)

    @torch.no_grad()
    def sample(
        self, cond: torch.Tensor, steps: int, generator: torch.Generator | None = None, noise_scale: float = 1.0
    ) -> torch.Tensor:
        """(B, cond_dim) -> action chunk (B, K, A) in the dataset's units.

        `noise_scale` < 1 starts the flow from a narrower prior (a lower sampling temperature;
        0 integrates from the prior's mode, deterministically)."""
        b = cond.shape[0]
        noise = noise_scale * torch.randn(b, self.chunk * self.action_dim, generator=generator).to(cond.device)
        x1 = euler_sample(lambda x, t: self.velocity(x, t, cond), noise, steps)
        return self.action_norm.inverse(x1.view(b, self.chunk, self.action_dim))

"""A DiT-style transformer with adaLN-Zero conditioning (Peebles & Xie 2023), per-token.

Joint video-action models (UWM, PAD, UVA) denoise several streams in one sequence, each at its own
noise level. So the conditioning here is per stream, (B, S, D), with `token_stream` (L,) saying
which stream each token belongs to: each token is modulated by the shared context (observation,
task) plus the time embedding of *its* stream. The modulation is computed once per stream and then
gathered to the tokens (per-token modulation would cost 6*D^2 per token per block). With one
stream it is the ordinary DiT. Every residual branch starts at zero, so a fresh block is the identity.

Shapes: B batch, L tokens, S streams, D width.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from wam.errors import require


class AdaLNBlock(nn.Module):
    def __init__(self, width: int, heads: int, mlp_ratio: float = 4.0):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
        self.qkv = nn.Linear(width, 3 * width)
        self.attn_out = nn.Linear(width, width)
        self.norm2 = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
        hidden = int(width * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(width, hidden), nn.GELU(approximate="tanh"), nn.Linear(hidden, width))
        # shift/scale/gate for attention and MLP, from the per-token conditioning
        self.modulation = nn.Sequential(nn.SiLU(), nn.Linear(width, 6 * width))
        nn.init.zeros_(self.modulation[-1].weight)
        nn.init.zeros_(self.modulation[-1].bias)

    def forward(self, x: torch.Tensor, cond: torch.Tensor, token_stream: torch.Tensor) -> torch.Tensor:
        """x (B, L, D), cond (B, S, D), token_stream (L,) in 0..S-1."""
        modulation = self.modulation(cond).index_select(1, token_stream)  # (B, L, 6D)
        shift1, scale1, gate1, shift2, scale2, gate2 = modulation.chunk(6, dim=-1)
        h = self.norm1(x) * (1 + scale1) + shift1
        b, n, d = h.shape
        q, k, v = self.qkv(h).view(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        attn = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, n, d)
        x = x + gate1 * self.attn_out(attn)
        h = self.norm2(x) * (1 + scale2) + shift2
        return x + gate2 * self.mlp(h)


class DiT(nn.Module):
    """(tokens (B, L, D), cond (B, S, D) or (B, D), token_stream (L,)) -> (B, L, D), bidirectional.

    Token embedding, positional embedding and output heads belong to the model that owns the
    streams (it knows what each token is); this module is the shared trunk.
    """

    def __init__(self, width: int = 256, depth: int = 6, heads: int = 4, mlp_ratio: float = 4.0):
        super().__init__()
        require(width % heads == 0, f"DiT width ({width}) must be divisible by heads ({heads})")
        require(depth >= 1, f"DiT depth must be >= 1, got {depth}")
        self.width = width
        self.blocks = nn.ModuleList(AdaLNBlock(width, heads, mlp_ratio) for _ in range(depth))
        self.final_norm = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
        self.final_modulation = nn.Sequential(nn.SiLU(), nn.Linear(width, 2 * width))
        nn.init.zeros_(self.final_modulation[-1].weight)
        nn.init.zeros_(self.final_modulation[-1].bias)

    def forward(self, tokens: torch.Tensor, cond: torch.Tensor, token_stream: torch.Tensor | None = None) -> torch.Tensor:
        if cond.dim() == 2:  # one stream
            cond = cond[:, None, :]
        if token_stream is None:
            require(cond.shape[1] == 1, "token_stream is needed with several conditioning streams")
            token_stream = torch.zeros(tokens.shape[1], dtype=torch.long, device=tokens.device)
        x = tokens
        for block in self.blocks:
            x = block(x, cond, token_stream)
        shift, scale = self.final_modulation(cond).index_select(1, token_stream).chunk(2, dim=-1)
        return self.final_norm(x) * (1 + scale) + shift


def patchify(maps: torch.Tensor, patch: int) -> torch.Tensor:
    """(N, C, h, w) -> (N, (h/p)*(w/p), C*p*p) tokens, row-major over patches."""
    n, c, h, w = maps.shape
    x = maps.reshape(n, c, h // patch, patch, w // patch, patch).permute(0, 2, 4, 1, 3, 5)
    return x.reshape(n, (h // patch) * (w // patch), c * patch * patch)


def unpatchify(tokens: torch.Tensor, channels: int, height: int, width: int, patch: int) -> torch.Tensor:
    """Inverse of `patchify`: (N, P, C*p*p) -> (N, C, h, w)."""
    n = tokens.shape[0]
    x = tokens.reshape(n, height // patch, width // patch, channels, patch, patch).permute(0, 3, 1, 4, 2, 5)
    return x.reshape(n, channels, height, width)

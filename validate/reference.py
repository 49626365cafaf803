"""Attention in float32 with PyTorch: the reference every kernel output is judged against.

Written from the definition, not from FlashAttention's code: softmax(scale · Q Kᵀ + mask) V,
computed on the kernel's own (already rounded) bf16/fp16 inputs upcast to float32. Conventions
the kernels follow and the reference must share:
- GQA/MQA: query head h reads key/value head h // (q_heads / kv_heads).
- causal with seqlen_q ≠ seqlen_k is aligned bottom-right: query i sees key j iff
  j ≤ i + seqlen_k − seqlen_q (the last query sees every key).
- a query row that may see no key at all outputs zeros.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch


def expand_kv_heads(x: torch.Tensor, q_heads: int) -> torch.Tensor:
    """(..., s, kv_heads, d) → (..., s, q_heads, d): each KV head serves q_heads/kv_heads query heads."""
    kv_heads = x.shape[-2]
    if q_heads % kv_heads:
        raise ValueError(f"{q_heads} query heads are not a multiple of {kv_heads} kv heads")
    return x.repeat_interleave(q_heads // kv_heads, dim=-2)


def causal_allowed(seqlen_q: int, seqlen_k: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """Bool (seqlen_q, seqlen_k): bottom-right aligned causal visibility."""
    rows = torch.arange(seqlen_q, device=device)[:, None]
    cols = torch.arange(seqlen_k, device=device)[None, :]
    return cols <= rows + (seqlen_k - seqlen_q)


def _one_sequence(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *, causal: bool, scale: float,
                  allowed: torch.Tensor | None, want_probs: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    """q (sq, hq, d), k/v (sk, hkv, d) → out (sq, hq, dv) float32 [, P (hq, sq, sk)]."""
    hq = q.shape[-2]
    qf = q.float().transpose(0, 1)  # (hq, sq, d)
    kf = expand_kv_heads(k.float(), hq).transpose(0, 1)
    vf = expand_kv_heads(v.float(), hq).transpose(0, 1)
    scores = torch.matmul(qf, kf.transpose(-1, -2)) * scale  # (hq, sq, sk)
    mask = torch.ones(scores.shape[-2:], dtype=torch.bool, device=scores.device)
    if causal:
        mask = mask & causal_allowed(scores.shape[-2], scores.shape[-1], scores.device)
    if allowed is not None:
        mask = mask & allowed.to(scores.device)  # broadcasts over heads when (sq, sk)
    scores = scores.masked_fill(~mask, float("-inf"))
    probs = torch.softmax(scores, dim=-1)
    probs = torch.nan_to_num(probs, nan=0.0)  # rows that see no key: all -inf → NaN → 0
    out = torch.matmul(probs, vf).transpose(0, 1)
    return out, (probs if want_probs else None)


def attention_ref(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *, causal: bool = False,
                  softmax_scale: float | None = None, seqlens_k: Sequence[int] | None = None,
                  allowed: torch.Tensor | None = None) -> torch.Tensor:
    """Batched reference: q (b, sq, hq, d), k/v (b, sk, hkv, d) → float32 (b, sq, hq, dv).

    `seqlens_k[i]` (like FA's seqused_k) limits batch i to its first keys, and the causal
    alignment uses that length. `allowed` (b, hq or 1, sq, sk) further restricts visibility.
    """
    scale = softmax_scale if softmax_scale is not None else 1.0 / math.sqrt(q.shape[-1])
    outs = []
    for i in range(q.shape[0]):
        length = k.shape[1] if seqlens_k is None else int(seqlens_k[i])
        mask = None if allowed is None else allowed[i][..., :length]
        out, _ = _one_sequence(q[i], k[i, :length], v[i, :length], causal=causal, scale=scale,
                               allowed=mask, want_probs=False)
        outs.append(out)
    return torch.stack(outs)


def attention_probs(q: torch.Tensor, k: torch.Tensor, *, causal: bool = False,
                    softmax_scale: float | None = None) -> torch.Tensor:
    """P = softmax(scale · Q Kᵀ) in float32, (b, hq, sq, sk): what dropout acts on."""
    scale = softmax_scale if softmax_scale is not None else 1.0 / math.sqrt(q.shape[-1])
    dummy_v = torch.zeros(k.shape[:-1] + (1,), dtype=k.dtype, device=k.device)
    return torch.stack([
        _one_sequence(q[i], k[i], dummy_v[i], causal=causal, scale=scale, allowed=None, want_probs=True)[1]
        for i in range(q.shape[0])
    ])


def varlen_ref(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, cu_seqlens_q: Sequence[int],
               cu_seqlens_k: Sequence[int], *, causal: bool = False,
               softmax_scale: float | None = None) -> torch.Tensor:
    """Packed sequences: q (total_q, hq, d), k/v (total_k, hkv, d) → float32 (total_q, hq, dv)."""
    scale = softmax_scale if softmax_scale is not None else 1.0 / math.sqrt(q.shape[-1])
    cu_q, cu_k = [int(x) for x in cu_seqlens_q], [int(x) for x in cu_seqlens_k]
    outs = []
    for i in range(len(cu_q) - 1):
        out, _ = _one_sequence(q[cu_q[i]:cu_q[i + 1]], k[cu_k[i]:cu_k[i + 1]], v[cu_k[i]:cu_k[i + 1]],
                               causal=causal, scale=scale, allowed=None, want_probs=False)
        outs.append(out)
    return torch.cat(outs)


def block_mask_to_allowed(block_mask: torch.Tensor, block_q: int, block_k: int, seqlen_q: int,
                          seqlen_k: int) -> torch.Tensor:
    """Bool (b, h, n_qblocks, n_kblocks) → (b, h, seqlen_q, seqlen_k): every token of a kept block."""
    rows = block_mask.repeat_interleave(block_q, dim=-2)[..., :seqlen_q, :]
    return rows.repeat_interleave(block_k, dim=-1)[..., :seqlen_k]


def gather_pages(cache: torch.Tensor, page_table: torch.Tensor) -> torch.Tensor:
    """Paged cache (num_pages, page_size, h, d) + table (b, pages_per_seq) → dense (b, pages·size, h, d)."""
    b, pages = page_table.shape
    gathered = cache[page_table.long()]  # (b, pages, page_size, h, d)
    return gathered.reshape(b, pages * cache.shape[1], *cache.shape[2:])

"""The 64-configuration attention matrix: head layouts of real models × layouts × dtypes × masks.

    4 head layouts  MHA 16/16, GQA as in Qwen3 (Qwen3-14B: 40 q heads / 8 kv, ratio 5),
                    GQA as in LLaMA 3 (Llama-3-8B: 32 / 8, ratio 4), MQA 16/1
  × 2 layouts       dense (b = 2, seqlen 512) and varlen (3 packed sequences of unequal q and k
                    lengths, none a multiple of a tile, q ≤ k so causal is bottom-right aligned)
  × 2 dtypes        bf16, fp16
  × 2 masks         non-causal, causal
  × 2 head dims     64 and 128 (the SM120 forward picks a different tile for each)
  = 64 cases, every one batched.

Qwen3's ratio 5 matters: a q-heads-per-kv-head that does not divide the tile is the case that
broke SM120's packed-GQA path. Pure data: no torch here, so the composition is testable anywhere.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class HeadLayout:
    name: str
    model: str
    q_heads: int
    kv_heads: int

    @property
    def ratio(self) -> int:
        return self.q_heads // self.kv_heads


HEAD_LAYOUTS = (
    HeadLayout("mha", "multi-head attention", 16, 16),
    HeadLayout("gqa-qwen3", "Qwen3-14B", 40, 8),
    HeadLayout("gqa-llama3", "Llama-3-8B", 32, 8),
    HeadLayout("mqa", "multi-query attention", 16, 1),
)
LAYOUTS = ("dense", "varlen")
DTYPES = ("bfloat16", "float16")
CAUSAL = (False, True)
HEAD_DIMS = (64, 128)

DENSE_BATCH = 2
DENSE_SEQLEN = 512
VARLEN_SEQLENS_Q = (128, 300, 77)
VARLEN_SEQLENS_K = (128, 512, 200)


@dataclass(frozen=True)
class GqaConfig:
    heads: HeadLayout
    layout: str
    dtype: str
    causal: bool
    head_dim: int

    @property
    def name(self) -> str:
        short = {"bfloat16": "bf16", "float16": "fp16"}[self.dtype]
        mask = "causal" if self.causal else "full"
        return f"{self.heads.name}-{self.layout}-{short}-{mask}-d{self.head_dim}"

    def params(self) -> dict:
        data = asdict(self)
        data["heads"] = asdict(self.heads)
        if self.layout == "dense":
            data.update(batch=DENSE_BATCH, seqlen_q=DENSE_SEQLEN, seqlen_k=DENSE_SEQLEN)
        else:
            data.update(seqlens_q=list(VARLEN_SEQLENS_Q), seqlens_k=list(VARLEN_SEQLENS_K))
        return data


def gqa_matrix() -> list[GqaConfig]:
    return [
        GqaConfig(heads, layout, dtype, causal, head_dim)
        for heads, layout, dtype, causal, head_dim in itertools.product(HEAD_LAYOUTS, LAYOUTS, DTYPES, CAUSAL, HEAD_DIMS)
    ]

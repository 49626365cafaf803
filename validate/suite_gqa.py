"""`gqa`: the 64-configuration matrix of `gqa_matrix` (head layouts of real models, dense and
varlen, bf16/fp16, causal or not, d 64/128), each against the float32 reference."""

from __future__ import annotations

import torch

from stacker.validation_model import Case, CaseResult

from .checks import dtype_of, generator, judge_output, randn
from .gqa_matrix import gqa_matrix
from .reference import attention_ref, varlen_ref

NAME = "gqa"


def cases(context) -> list[Case]:
    return [Case(NAME, config.name, config.params()) for config in gqa_matrix()]


def run(case: Case, session) -> list[CaseResult]:
    p = case.params
    dtype, gen = dtype_of(p["dtype"]), generator(case, device=session.device)
    hq, hkv, d = p["heads"]["q_heads"], p["heads"]["kv_heads"], p["head_dim"]
    causal = p["causal"]
    if p["layout"] == "dense":
        b, sq, sk = p["batch"], p["seqlen_q"], p["seqlen_k"]
        q = randn((b, sq, hq, d), dtype, gen)
        k, v = (randn((b, sk, hkv, d), dtype, gen) for _ in range(2))
        out, kernels = session.fa.forward(q, k, v, causal=causal)
        ref = attention_ref(q, k, v, causal=causal)
        shape = f"b={b} s={sq}"
    else:
        lq, lk = p["seqlens_q"], p["seqlens_k"]
        cu_q = torch.tensor([0, *torch.tensor(lq).cumsum(0).tolist()], dtype=torch.int32, device=session.device)
        cu_k = torch.tensor([0, *torch.tensor(lk).cumsum(0).tolist()], dtype=torch.int32, device=session.device)
        q = randn((sum(lq), hq, d), dtype, gen)
        k, v = (randn((sum(lk), hkv, d), dtype, gen) for _ in range(2))
        out, kernels = session.fa.forward(q, k, v, causal=causal, cu_seqlens_q=cu_q, cu_seqlens_k=cu_k,
                                          max_seqlen_q=max(lq), max_seqlen_k=max(lk))
        ref = varlen_ref(q, k, v, cu_q.tolist(), cu_k.tolist(), causal=causal)
        shape = f"seqlens q={lq} k={lk}"
    verdict = judge_output(case, out, ref, p["dtype"], kernels,
                           extra=f"{hq}/{hkv} heads ({p['heads']['model']}), {shape}")
    return [session.require_sm120(verdict, kernels)]

"""`tma`: the SM120 TMA forward kernel (`FlashAttentionForwardSm120Tma`, #2349), dense bf16.

Each case checks that the dispatch really ran the TMA kernel (the kernel spy says which class
ran), judges it against float32, and reports how far it is from the CpAsync kernel on the same
inputs (forced in a compile cache of its own). Maintainer's number: max_diff 0.0078.
"""

from __future__ import annotations

import itertools

from stacker.validation_model import Case, CaseResult, Status

from .checks import dtype_of, error_stats, generator, judge_output, randn, result, unavailable
from .reference import attention_ref

NAME = "tma"
TMA_CLASS = "FlashAttentionForwardSm120Tma"


def cases(context) -> list[Case]:
    out = [Case(NAME, f"bf16-{'causal' if causal else 'full'}-d{d}-s1024",
                {"causal": causal, "head_dim": d, "seqlen": 1024, "q_heads": 8, "kv_heads": 8})
           for causal, d in itertools.product((False, True), (64, 128))]
    out.append(Case(NAME, "bf16-causal-d128-s1000-gqa40/8",
                    {"causal": True, "head_dim": 128, "seqlen": 1000, "q_heads": 40, "kv_heads": 8}))
    return out


def run(case: Case, session) -> list[CaseResult]:
    fa = session.fa
    if fa.tma_class is None:
        return [unavailable(case, f"flash_attn.cute.interface has no {TMA_CLASS} (PR #2349 adds it)")]
    p = case.params
    gen = generator(case, device=session.device)
    d, s = p["head_dim"], p["seqlen"]
    q = randn((2, s, p["q_heads"], d), dtype_of("bfloat16"), gen)
    k, v = (randn((2, s, p["kv_heads"], d), dtype_of("bfloat16"), gen) for _ in range(2))
    out, kernels = fa.forward(q, k, v, causal=p["causal"])
    if TMA_CLASS not in kernels:
        return [result(case, Status.FAIL, detail=f"the SM120 dispatch ran {kernels}, not {TMA_CLASS}")]
    ref = attention_ref(q, k, v, causal=p["causal"])
    with fa.forced_cpasync():
        cp_out, cp_kernels = fa.forward(q, k, v, causal=p["causal"])
    versus = ""
    if TMA_CLASS not in cp_kernels:
        diff, _, _ = error_stats(out, cp_out.float())
        versus = f"max |TMA − CpAsync ({', '.join(cp_kernels)})| = {diff:.3g}"
    return [judge_output(case, out, ref, "bfloat16", kernels, extra=versus)]

"""`plain`: the SM120 forward on dense MHA inputs, bf16/fp16 × causal or not × d 64/128.

Two sequence lengths: 1024 (whole tiles) and 1000 (a ragged last tile in both q and k). Each
case: max |out − ref| against the float32 reference, next to the dtype's tolerance.
"""

from __future__ import annotations

import itertools

from stacker.validation_model import Case, CaseResult

from .checks import dtype_of, generator, judge_output, randn, short_dtype
from .reference import attention_ref

NAME = "plain"
BATCH, HEADS = 2, 8


def cases(context) -> list[Case]:
    out = []
    for dtype, causal, head_dim, seqlen in itertools.product(("bfloat16", "float16"), (False, True), (64, 128),
                                                            (1024, 1000)):
        name = f"{short_dtype(dtype)}-{'causal' if causal else 'full'}-d{head_dim}-s{seqlen}"
        out.append(Case(NAME, name, {"dtype": dtype, "causal": causal, "head_dim": head_dim, "seqlen": seqlen}))
    return out


def run(case: Case, session) -> list[CaseResult]:
    p = case.params
    dtype, gen = dtype_of(p["dtype"]), generator(case, device=session.device)
    shape = (BATCH, p["seqlen"], HEADS, p["head_dim"])
    q, k, v = (randn(shape, dtype, gen) for _ in range(3))
    out, kernels = session.fa.forward(q, k, v, causal=p["causal"])
    ref = attention_ref(q, k, v, causal=p["causal"])
    verdict = judge_output(case, out, ref, p["dtype"], kernels)
    return [session.require_sm120(verdict, kernels)]

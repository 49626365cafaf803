"""`paged`: paged KV through `page_table` + `seqused_k` (#2348), bf16, causal.

Page sizes 16/32/64 × d 64/128 × MHA and GQA. Pages are scattered (a random permutation) and the
sequence lengths are no multiple of a page, so an addressing mistake cannot hide. Each case gives
two verdicts: against float32 (maintainer: 0.0039 at page size 16), and bit-identity with the
same kernel on the dense equivalent (the pages gathered into one contiguous K/V, same
`seqused_k`; the CpAsync kernel is forced for it, since paged KV runs on CpAsync).

`@native` cases run the same construction on the device's own FA4 path (on an H100: SM90),
which supports paged KV in FA4 main: they check this suite's harness where the SM120 path
refuses paged KV, and are skipped on SM120 hardware where native is the SM120 path.
"""

from __future__ import annotations

import itertools
import math

import torch

from stacker.validation_model import Case, CaseResult, Status

from .checks import dtype_of, error_stats, generator, judge_output, randn, result, unavailable
from .fa_adapter import Refused
from .reference import attention_ref, gather_pages

NAME = "paged"
SEQUSED_K = (300, 517, 161)
SEQLEN_Q = 128
HEADS = {"mha": (8, 8), "gqa": (32, 8)}


def cases(context) -> list[Case]:
    out = [Case(NAME, f"ps{ps}-d{d}-{heads}", {"page_size": ps, "head_dim": d, "heads": heads, "path": "sm120"})
           for ps, d, heads in itertools.product((16, 32, 64), (64, 128), ("mha", "gqa"))]
    out += [Case(NAME, f"ps{ps}-d{d}-{heads}@native", {"page_size": ps, "head_dim": d, "heads": heads, "path": "native"})
            for ps, d, heads in ((16, 128, "gqa"), (64, 64, "mha"))]
    return out


def run(case: Case, session) -> list[CaseResult]:
    p = case.params
    native = p["path"] == "native"
    if native and session.native_is_kernel_path:
        return [result(case, Status.SKIP, detail="the device's native path is the SM120 path (cases above)")]
    fa, gen = session.fa, generator(case, device=session.device)
    dtype = dtype_of("bfloat16")
    hq, hkv = HEADS[p["heads"]]
    ps, d, b = p["page_size"], p["head_dim"], len(SEQUSED_K)
    pages_per_seq = math.ceil(max(SEQUSED_K) / ps)
    num_pages = b * pages_per_seq + 5  # spare pages that no table entry uses
    table = torch.randperm(num_pages, generator=gen, device=session.device)[: b * pages_per_seq]
    table = table.view(b, pages_per_seq).to(torch.int32).contiguous()
    k_cache, v_cache = (randn((num_pages, ps, hkv, d), dtype, gen) for _ in range(2))
    q = randn((b, SEQLEN_Q, hq, d), dtype, gen)
    seqused = torch.tensor(SEQUSED_K, dtype=torch.int32, device=session.device)
    arch = session.native_arch if native else None
    try:
        out, kernels = fa.forward(q, k_cache, v_cache, page_table=table, seqused_k=seqused, causal=True, arch=arch)
    except Refused as refused:
        return [unavailable(case, f"the tree refuses: {refused}")]
    k_dense, v_dense = gather_pages(k_cache, table), gather_pages(v_cache, table)
    ref = attention_ref(q, k_dense, v_dense, causal=True, seqlens_k=SEQUSED_K)
    where = f"page_size {ps}, {hq}/{hkv} heads, seqused_k {list(SEQUSED_K)}, {num_pages} pages shuffled"
    verdicts = [judge_output(case, out, ref, "bfloat16", kernels, name=f"{case.name} vs float32", extra=where)]
    if native:
        dense_out, dense_kernels = fa.forward(q, k_dense, v_dense, seqused_k=seqused, causal=True, arch=arch)
        diff, _, _ = error_stats(out, dense_out.float())
        verdicts[0].detail += f"; max |paged − dense ({', '.join(dense_kernels)})| = {diff:.3g} (not judged)"
        return verdicts
    verdicts[0] = session.require_sm120(verdicts[0], kernels)
    with fa.forced_cpasync():
        dense_out, dense_kernels = fa.forward(q, k_dense, v_dense, seqused_k=seqused, causal=True)
    same_kernel = set(dense_kernels) == set(kernels)
    identical = bool(torch.equal(out, dense_out)) if torch.isfinite(out).all() else False
    diff, _, _ = error_stats(out, dense_out.float())
    if not same_kernel:
        status, why = Status.FAIL, f"dense ran {dense_kernels}, paged ran {kernels}: not comparable"
    else:
        status = Status.PASS if identical else Status.FAIL
        why = "bit-identical" if identical else "differs from the dense equivalent"
    verdicts.append(result(case, status, name=f"{case.name} vs dense", metric="max|paged−dense|", value=diff,
                           tolerance=0.0, detail=f"{why}; kernel {', '.join(dict.fromkeys(kernels))}"))
    return verdicts

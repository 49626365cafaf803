"""`block-sparse`: the block-sparse forward (#2389) on the SM120 path, with a random block mask.

The mask keeps about half of the (q block, k block) pairs, always the diagonal one so that no
row is empty, all as "full" blocks (no mask_mod): the float32 reference masks exactly the tokens
of the dropped blocks. The block size must match the kernel's tile (128 × tile_n on SM120); the
suite tries the tile sizes FA4 uses and records the one the tree accepted.
`@native` runs the same construction on the device's own path as a harness check (FA4 main
supports block sparsity on SM90), skipped on SM120 hardware.
"""

from __future__ import annotations

import math

import torch

from stacker.validation_model import Case, CaseResult, Status

from .checks import dtype_of, generator, judge_output, randn, result, unavailable
from .fa_adapter import Refused
from .reference import attention_ref, block_mask_to_allowed

NAME = "block-sparse"
BATCH, HEADS, SEQLEN = 2, 4, 1024
BLOCK_SIZES = ((128, 128), (128, 64), (256, 128), (256, 64), (128, 112), (128, 176), (64, 64))


def cases(context) -> list[Case]:
    return [
        Case(NAME, "bf16-full-d128", {"dtype": "bfloat16", "head_dim": 128, "path": "sm120"}),
        Case(NAME, "bf16-full-d64", {"dtype": "bfloat16", "head_dim": 64, "path": "sm120"}),
        Case(NAME, "fp16-full-d128", {"dtype": "float16", "head_dim": 128, "path": "sm120"}),
        Case(NAME, "bf16-full-d128@native", {"dtype": "bfloat16", "head_dim": 128, "path": "native"}),
    ]


def block_tensors(keep: torch.Tensor, block_size: tuple[int, int], tensors_type):
    """FA's block-sparse tensors for a bool block mask (b, h, m_blocks, n_blocks), all blocks full."""
    b, h, mb, nb = keep.shape
    order = torch.arange(nb, device=keep.device)
    # kept block indices first, ascending; the rest of each row is padding the kernel does not read
    index = torch.argsort((~keep).int() * nb + order, dim=-1).to(torch.int32).contiguous()
    return tensors_type(
        mask_block_cnt=torch.zeros((b, h, mb), dtype=torch.int32, device=keep.device),
        mask_block_idx=torch.zeros((b, h, mb, nb), dtype=torch.int32, device=keep.device),
        full_block_cnt=keep.sum(-1).to(torch.int32).contiguous(),
        full_block_idx=index,
        block_size=block_size,
    )


def run(case: Case, session) -> list[CaseResult]:
    p = case.params
    native = p["path"] == "native"
    if native and session.native_is_kernel_path:
        return [result(case, Status.SKIP, detail="the device's native path is the SM120 path (cases above)")]
    try:
        from flash_attn.cute.block_sparsity import BlockSparseTensorsTorch
    except ImportError as exc:
        return [unavailable(case, f"flash_attn.cute.block_sparsity: {exc}")]
    gen = generator(case, device=session.device)
    dtype = dtype_of(p["dtype"])
    shape = (BATCH, SEQLEN, HEADS, p["head_dim"])
    q, k, v = (randn(shape, dtype, gen) for _ in range(3))
    arch = session.native_arch if native else None
    tried = []
    for bq, bkv in BLOCK_SIZES:
        mb, nb = math.ceil(SEQLEN / bq), math.ceil(SEQLEN / bkv)
        keep = torch.rand((BATCH, HEADS, mb, nb), generator=gen, device=session.device) < 0.5
        rows = torch.arange(mb, device=session.device)
        keep[:, :, rows, (rows * bq // bkv).clamp(max=nb - 1)] = True
        tensors = block_tensors(keep, (bq, bkv), BlockSparseTensorsTorch)
        try:
            out, kernels = session.fa.forward(q, k, v, block_sparse_tensors=tensors, arch=arch)
        except Refused as refused:
            return [unavailable(case, f"the tree refuses: {refused}")]
        except ValueError as exc:  # block size does not match this path's tiles: try the next
            tried.append(f"{bq}x{bkv}: {str(exc).splitlines()[0][:120]}")
            continue
        allowed = block_mask_to_allowed(keep, bq, bkv, SEQLEN, SEQLEN)
        ref = attention_ref(q, k, v, allowed=allowed)
        density = float(keep.float().mean())
        verdict = judge_output(case, out, ref, p["dtype"], kernels,
                               extra=f"blocks {bq}x{bkv}, {density:.0%} kept")
        return [verdict if native else session.require_sm120(verdict, kernels)]
    return [result(case, Status.ERROR, detail="no block size accepted: " + " | ".join(tried))]

"""The FA4 suites' own logic, run on CPU against a fake FlashAttention that computes in PyTorch.

The fake is right by construction (it is the reference, plus simulated dropout with an 8-bit
threshold like #2439), so every judged case must pass; variants that refuse a feature, run the
wrong kernel, or drop without rescaling must be reported as unavailable or failed. This is how
the suites that FA4 main cannot exercise (tma, paged, dropout, block-sparse) were checked before a
bundle existed.
"""

from __future__ import annotations

import math
import sys
from contextlib import contextmanager
from types import SimpleNamespace

import pytest
import torch

from stacker.validation_model import Case, Status
from validate import suite_block_sparse, suite_dropout, suite_gqa, suite_paged, suite_plain, suite_tma
from validate.fa_adapter import Refused
from validate.gqa_matrix import gqa_matrix
from validate.reference import attention_probs, attention_ref, block_mask_to_allowed, expand_kv_heads, gather_pages, varlen_ref
from validate.session import FlashAttentionSession


class FakeFlashAttention:
    def __init__(self, *, tma=True, refuse=(), rescale=True, seed_matters=True):
        self.tma = tma
        self.refuse = set(refuse)
        self.rescale = rescale
        self.seed_matters = seed_matters
        self.forcing = False
        self.threshold = None

    @property
    def tma_class(self):
        return object() if self.tma else None

    def has(self, name):
        return name == "dropout_p"

    @contextmanager
    def forced_cpasync(self):
        self.forcing = True
        try:
            yield self.tma
        finally:
            self.forcing = False

    def kernel_for_last_call(self, kernels):
        return SimpleNamespace(p_keep_uint8=self.threshold) if self.threshold is not None else None

    def forward(self, q, k, v, *, arch=None, causal=False, cu_seqlens_q=None, cu_seqlens_k=None, max_seqlen_q=None,
                max_seqlen_k=None, page_table=None, seqused_k=None, block_sparse_tensors=None, dropout_p=0.0,
                dropout_seed=None):
        if page_table is not None and "paged" in self.refuse and arch is None:
            raise Refused("Paged KV not supported on SM 12.0 in this PR")
        if block_sparse_tensors is not None:
            if "block_sparse" in self.refuse and arch is None:
                raise Refused("Block sparsity not supported on SM 12.0")
            if block_sparse_tensors.block_size[1] != 64 or block_sparse_tensors.block_size[0] != 128:
                raise ValueError("Block sparsity requires sparse_block_size[1]=64 to match tile_n.")
        dense = cu_seqlens_q is None and page_table is None
        if arch == 90:
            kernel = "FlashAttentionForwardSm90"
        elif self.tma and dense and not self.forcing and not dropout_p:
            kernel = "FlashAttentionForwardSm120Tma"
        else:
            kernel = "FlashAttentionForwardSm120"
        if cu_seqlens_q is not None:
            out = varlen_ref(q, k, v, cu_seqlens_q.tolist(), cu_seqlens_k.tolist(), causal=causal)
        elif page_table is not None:
            out = attention_ref(q, gather_pages(k, page_table), gather_pages(v, page_table), causal=causal,
                                seqlens_k=seqused_k.tolist())
        elif seqused_k is not None:
            out = attention_ref(q, k, v, causal=causal, seqlens_k=seqused_k.tolist())
        elif block_sparse_tensors is not None:
            t = block_sparse_tensors
            keep = torch.zeros(t.full_block_idx.shape, dtype=torch.bool)
            for index in torch.nonzero(torch.ones_like(t.full_block_cnt)).tolist():
                b, h, m = index
                keep[b, h, m, t.full_block_idx[b, h, m, : t.full_block_cnt[b, h, m]].long()] = True
            allowed = block_mask_to_allowed(keep, *t.block_size, q.shape[1], k.shape[1])
            out = attention_ref(q, k, v, allowed=allowed)
        elif dropout_p:
            self.threshold = int(255 * (1 - dropout_p))
            gen = torch.Generator().manual_seed(dropout_seed if self.seed_matters else 0)
            probs = attention_probs(q, k, causal=causal).double()
            draws = torch.randint(0, 65536, probs.shape, generator=gen)
            mask = draws <= self.threshold * 257
            dropped = probs * mask / ((1 - dropout_p) if self.rescale else 1.0)
            vv = expand_kv_heads(v, q.shape[2]).double().permute(0, 2, 1, 3)
            out = torch.matmul(dropped, vv).permute(0, 2, 1, 3)
        else:
            out = attention_ref(q, k, v, causal=causal)
        return out.to(q.dtype), [kernel]


def session(**kwargs):
    fake = SimpleNamespace(fa=FakeFlashAttention(**kwargs), device="cpu", native_arch=90, native_sm="sm_90",
                           native_is_kernel_path=False, kernel_capability=(12, 0))
    fake.require_sm120 = lambda verdict, kernels: FlashAttentionSession.require_sm120(fake, verdict, kernels)
    return fake


def statuses(results):
    return {r.name: r.status for r in results}


def test_plain_and_tma_pass_and_name_their_kernels():
    plain = suite_plain.run(Case("plain", "x", {"dtype": "float16", "causal": True, "head_dim": 64, "seqlen": 100}),
                            session(tma=False))
    assert plain[0].status is Status.PASS and "FlashAttentionForwardSm120" in plain[0].detail
    tma = suite_tma.run(Case("tma", "t", {"causal": True, "head_dim": 64, "seqlen": 100, "q_heads": 4,
                                          "kv_heads": 2}), session())
    assert tma[0].status is Status.PASS and "TMA − CpAsync" in tma[0].detail
    assert suite_tma.run(Case("tma", "t", {}), session(tma=False))[0].status is Status.UNAVAILABLE


def test_a_result_from_a_non_sm120_kernel_does_not_pass():
    fake = session(tma=False)
    fake.fa.forward = lambda *a, **k: (attention_ref(a[0], a[1], a[2]).to(a[0].dtype), ["FlashAttentionForwardSm90"])
    result = suite_plain.run(Case("plain", "x", {"dtype": "bfloat16", "causal": False, "head_dim": 32, "seqlen": 64}),
                             fake)[0]
    assert result.status is Status.FAIL and "not an SM120 kernel" in result.detail


@pytest.mark.parametrize("name", ["gqa-qwen3-varlen-bf16-causal-d64", "mqa-dense-fp16-full-d128"])
def test_gqa_cases_pass(name):
    config = next(c for c in gqa_matrix() if c.name == name)
    params = config.params()
    if config.layout == "dense":
        params.update(seqlen_q=64, seqlen_k=64)
    result = suite_gqa.run(Case("gqa", name, params), session())[0]
    assert result.status is Status.PASS, result.detail
    assert result.tolerance == (2 ** -6 if "bf16" in name else 2 ** -9)


def test_paged_gives_two_verdicts_or_says_unavailable():
    results = suite_paged.run(Case("paged", "p", {"page_size": 16, "head_dim": 32, "heads": "gqa", "path": "sm120"}),
                              session())
    assert [r.status for r in results] == [Status.PASS, Status.PASS]
    assert results[1].metric == "max|paged−dense|" and results[1].value == 0 and "bit-identical" in results[1].detail
    refused = suite_paged.run(Case("paged", "p", {"page_size": 16, "head_dim": 32, "heads": "mha", "path": "sm120"}),
                              session(refuse={"paged"}))
    assert refused[0].status is Status.UNAVAILABLE and "Paged KV not supported" in refused[0].detail
    native = suite_paged.run(Case("paged", "n", {"page_size": 64, "head_dim": 32, "heads": "mha", "path": "native"}),
                             session(refuse={"paged"}))
    assert [r.status for r in native] == [Status.PASS] and "FlashAttentionForwardSm90" in native[0].detail


@pytest.fixture
def block_sparsity_module(monkeypatch):
    """FA's torch-side container, as `flash_attn.cute.block_sparsity` would provide it."""
    from typing import NamedTuple

    class BlockSparseTensorsTorch(NamedTuple):
        mask_block_cnt: torch.Tensor
        mask_block_idx: torch.Tensor
        full_block_cnt: torch.Tensor | None = None
        full_block_idx: torch.Tensor | None = None
        block_size: tuple[int, int] | None = None

    module = SimpleNamespace(BlockSparseTensorsTorch=BlockSparseTensorsTorch)
    for name in ("flash_attn", "flash_attn.cute"):
        monkeypatch.setitem(sys.modules, name, SimpleNamespace())
    monkeypatch.setitem(sys.modules, "flash_attn.cute.block_sparsity", module)


def test_block_sparse_finds_the_tile_and_passes(block_sparsity_module):
    result = suite_block_sparse.run(Case("block-sparse", "b", {"dtype": "bfloat16", "head_dim": 32, "path": "sm120"}),
                                    session())[0]
    assert result.status is Status.PASS and "blocks 128x64" in result.detail
    refused = suite_block_sparse.run(Case("block-sparse", "b", {"dtype": "bfloat16", "head_dim": 32, "path": "sm120"}),
                                     session(refuse={"block_sparse"}))[0]
    assert refused.status is Status.UNAVAILABLE


SMALL_DROPOUT = {
    "seed42-bf16-causal": {"batch": 1, "heads": 2, "seqlen": 64, "head_dim": 32},
    "probe-full": {"batch": 2, "heads": 4, "seqlen_q": 256, "head_dim": 64, "causal": False},
    "probe-causal": {"batch": 4, "heads": 4, "seqlen_q": 64, "head_dim": 64, "causal": True},
    "mean-64-seeds": {"batch": 1, "heads": 2, "seqlen": 64, "head_dim": 32, "seeds": 64},
}


def run_dropout(**kwargs):
    fake = session(**kwargs)
    return {r.name: r for name, params in SMALL_DROPOUT.items()
            for r in suite_dropout.run(Case("dropout", name, params), fake)}


def test_dropout_checks_pass_on_right_dropout():
    results = run_dropout()
    assert len(results) == 4 + 4 + 5 + 1
    failing = {n: r.detail for n, r in results.items() if r.status is not Status.PASS}
    assert not failing
    kept = results["probe-full kept fraction"]
    assert "(229·257 + 1)/65536 = 0.898041" in kept.detail


def test_dropout_checks_catch_a_missing_rescale_and_an_ignored_seed():
    no_rescale = run_dropout(rescale=False)
    assert no_rescale["probe-full probe is 0/1"].status is Status.FAIL
    assert no_rescale["mean-64-seeds T"].status is Status.FAIL
    same_mask = run_dropout(seed_matters=False)
    assert same_mask["seed42-bf16-causal other seed differs"].status is Status.FAIL
    assert same_mask["probe-full two seeds"].status is Status.FAIL
    assert same_mask["mean-64-seeds T"].status is Status.FAIL
    assert not math.isnan(same_mask["mean-64-seeds T"].value)


def test_dropout_unavailable_without_the_parameter():
    fake = session()
    fake.fa.has = lambda name: False
    result = suite_dropout.run(Case("dropout", "probe-full", SMALL_DROPOUT["probe-full"]), fake)[0]
    assert result.status is Status.UNAVAILABLE and "PR #2439" in result.detail

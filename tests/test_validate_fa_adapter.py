"""The FA4 adapter against a fake `interface` module: which kernel ran, forcing a path, refusals."""

from __future__ import annotations

import types

import pytest
import torch

from stacker.validation_model import Case, Status
from validate.checks import judge_output
from validate.fa_adapter import FlashAttention, Refused, refusal

FAKE_INTERFACE = '''
class FlashAttentionForwardSm120:
    p_keep_uint8 = 229

class FlashAttentionForwardSm120Tma:
    @staticmethod
    def can_implement(*args, **kwargs):
        return True

def _flash_attn_fwd(q, k, v, causal=False, out=None, _arch=None, page_table=None, half=False):
    if page_table is not None:
        raise AssertionError("Paged KV not supported on SM 12.0 in this PR")
    key = (causal, _arch)
    if key not in _flash_attn_fwd.compile_cache:
        use_tma = FlashAttentionForwardSm120Tma.can_implement()
        kernel = FlashAttentionForwardSm120Tma() if use_tma else FlashAttentionForwardSm120()
        _flash_attn_fwd.compile_cache[key] = cute.compile(kernel, q)
    _flash_attn_fwd.compile_cache[key](q)
    if half:
        out[: out.shape[0] // 2] = q[: q.shape[0] // 2]
    else:
        out.copy_(q)
    return out, None, None, None

_flash_attn_fwd.compile_cache = {}
'''


@pytest.fixture
def interface():
    module = types.ModuleType("fake_interface")
    compiled = []

    def compile_(kernel, *args, **kwargs):
        compiled.append(type(kernel).__name__)
        return lambda *call_args: None

    module.cute = types.SimpleNamespace(compile=compile_, runtime="real runtime")
    exec(FAKE_INTERFACE, module.__dict__)
    module.compiled = compiled
    return module


def test_spy_names_the_kernel_that_ran_and_keeps_the_cache(interface):
    fa = FlashAttention(interface)
    q = torch.randn(4, 3)
    out, kernels = fa.forward(q, q, q, causal=True)
    assert kernels == ["FlashAttentionForwardSm120Tma"] and torch.equal(out, q)
    _, kernels = fa.forward(q, q, q, causal=True)
    assert kernels == ["FlashAttentionForwardSm120Tma"]
    assert interface.compiled == ["FlashAttentionForwardSm120Tma"]  # compiled once, reused
    assert interface.cute.runtime == "real runtime"  # everything else is the real module's


def test_forcing_cpasync_uses_its_own_cache_and_restores(interface):
    fa = FlashAttention(interface)
    q = torch.randn(4, 3)
    fa.forward(q, q, q, causal=True)
    with fa.forced_cpasync() as forced:
        assert forced
        _, kernels = fa.forward(q, q, q, causal=True)
    assert kernels == ["FlashAttentionForwardSm120"]
    _, kernels = fa.forward(q, q, q, causal=True)
    assert kernels == ["FlashAttentionForwardSm120Tma"]
    assert interface.FlashAttentionForwardSm120Tma.can_implement() is True
    assert fa.kernel_for_last_call(["FlashAttentionForwardSm120"]).p_keep_uint8 == 229


def test_forcing_without_a_tma_kernel_says_so(interface):
    del interface.FlashAttentionForwardSm120Tma
    fa = FlashAttention(interface)
    with fa.forced_cpasync() as forced:
        assert not forced


def test_arch_is_passed_through(interface):
    fa = FlashAttention(interface)
    q = torch.randn(2, 2)
    fa.forward(q, q, q, arch=90)
    assert (False, 90) in interface._flash_attn_fwd.compile_cache


def test_the_trees_refusal_becomes_refused(interface):
    fa = FlashAttention(interface)
    q = torch.randn(2, 2)
    with pytest.raises(Refused, match="Paged KV not supported on SM 12.0"):
        fa.forward(q, q, q, page_table=q)
    assert refusal(ValueError("Block sparsity not supported on SM 12.0")) is not None
    assert refusal(AssertionError("shape mismatch")) is None
    assert refusal(RuntimeError("not supported on SM 12.0")) is None  # only the tree's own asserts/limits


def test_unwritten_output_stays_nan_and_fails(interface):
    fa = FlashAttention(interface)
    q = torch.randn(4, 3)
    out, kernels = fa.forward(q, q, q, half=True)
    verdict = judge_output(Case("plain", "x"), out, q.float(), "bfloat16", kernels)
    assert verdict.status is Status.FAIL and "6 of 12 output elements are NaN" in verdict.detail

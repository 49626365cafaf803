"""The cuobjdump parsers, on output of a real cuobjdump run (FA4 main, SM120 forward for sm_121a)."""

from __future__ import annotations

from pathlib import Path

import pytest

from stacker import cubin
from tests.kernels.conftest import FIXTURES

FWD_KERNEL = ("kernel_cutlass_kernel_flash_attncuteflash_fwd_sm120FlashAttentionForwardSm120_object_at__"
              "tensorptrbf16gmemalign16oi64div81i64div8i64div8_tensorptrbf16gmemalign16oi64div81i64div8i64div8_te_0")


def test_res_usage_of_one_kernel():
    parsed = cubin.parse_res_usage((FIXTURES / "res_usage_sm121a_fwd.txt").read_text())
    assert list(parsed) == [FWD_KERNEL]
    fields = parsed[FWD_KERNEL]
    assert (fields["REG"], fields["STACK"], fields["SHARED"], fields["LOCAL"]) == (255, 208, 1024, 0)
    assert fields["CONSTANT[0]"] == 1116


def test_res_usage_of_several_cubins_keeps_every_function():
    parsed = cubin.parse_res_usage((FIXTURES / "res_usage_sm90a_bwd.txt").read_text())
    assert [fields["REG"] for fields in parsed.values()] == [39, 46, 168]
    assert any("FlashAttentionBackwardPreprocess" in name for name in parsed)


def test_sass_spills_equal_what_ptxas_reported():
    # ptxas -v on this kernel (CUTE_DSL_COMPILER_OPT="remarks{ptx}"): "208 bytes stack frame,
    # 312 bytes spill stores, 288 bytes spill loads"; the SASS excerpt keeps every STL/LDL line.
    summary = cubin.parse_sass((FIXTURES / "sass_sm121a_fwd_excerpt.txt").read_text())
    assert summary == {FWD_KERNEL: cubin.SassSummary(arch="sm_121a", spill_store_bytes=312, spill_load_bytes=288)}


def test_sass_widths_predicates_and_functions():
    text = """
\tcode for sm_90a
\t\tFunction : first
        /*0000*/                   STL.128 [R1], R4 ;
        /*0010*/              @!P0 STL.64 [R1+0x10], R8 ;
        /*0020*/               @P1 LDL.LU.U8 R2, [R1+0x3] ;
        /*0030*/                   LDL.S16 R3, [R1+0x4] ;
        /*0040*/                   STS [R5], R6 ;
        /*0050*/                   LDL R7, [R1+0x8] ;
\t\tFunction : second
        /*0000*/                   EXIT ;
"""
    summary = cubin.parse_sass(text)
    assert summary["first"] == cubin.SassSummary("sm_90a", 16 + 8, 1 + 2 + 4)
    assert summary["second"] == cubin.SassSummary("sm_90a", 0, 0)


def test_combine_and_ceiling():
    res = cubin.parse_res_usage((FIXTURES / "res_usage_sm121a_fwd.txt").read_text())
    sass = cubin.parse_sass((FIXTURES / "sass_sm121a_fwd_excerpt.txt").read_text())
    [kernel] = cubin.combine(res, sass, cubin="x.sm_121a.cubin", cubin_sha256="ab")
    assert (kernel.registers, kernel.stack, kernel.shared, kernel.sass_arch) == (255, 208, 1024, "sm_121a")
    assert (kernel.spill_store_bytes, kernel.spill_load_bytes) == (312, 288)
    assert kernel.at_register_ceiling
    assert cubin.KernelResources.from_dict(kernel.to_dict()) == kernel


def test_function_missing_from_sass_has_no_arch():
    [kernel] = cubin.combine({"k": {"REG": 10}}, {})
    assert kernel.sass_arch is None and kernel.spill_store_bytes == 0


def test_cuobjdump_from_environment(tmp_path: Path, monkeypatch):
    tool = tmp_path / "cuobjdump"
    tool.write_text("")
    monkeypatch.setenv("STACKER_CUOBJDUMP", str(tool))
    assert cubin.find_cuobjdump() == tool
    monkeypatch.setenv("STACKER_CUOBJDUMP", str(tmp_path / "missing"))
    with pytest.raises(cubin.ToolMissing, match="STACKER_CUOBJDUMP"):
        cubin.find_cuobjdump()

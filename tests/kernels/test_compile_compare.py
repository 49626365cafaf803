"""Comparing a matrix compiled from two trees: flags, notes and deltas."""

from __future__ import annotations

from stacker.compile_compare import (
    BROKE,
    FIXED,
    KERNEL_CHANGED,
    LOST,
    NEW,
    REG_CEILING,
    SPILLS_NEW,
    SPILLS_UP,
    compare,
    compare_one,
)
from stacker.compile_result import FAILED, OK, SKIPPED, CompileResult
from stacker.cubin import KernelResources


def kernel(name="kernel_mod_ClassA_object_at__t_0", regs=128, stack=0, st=0, ld=0, shared=1024) -> KernelResources:
    return KernelResources(name=name, sass_arch="sm_121a", registers=regs, stack=stack, shared=shared, local=0,
                           spill_store_bytes=st, spill_load_bytes=ld)


def result(status=OK, *kernels: KernelResources, id="v") -> CompileResult:
    return CompileResult(id=id, title="", target="sm_121a", status=status,
                         kernels=kernels if status == OK else (), error=None if status == OK else "why")


def test_unchanged_variant_has_no_flags_and_zero_deltas():
    change = compare_one(result(OK, kernel(st=8, ld=8)), result(OK, kernel(st=8, ld=8)))
    assert change.flags == () and change.notes == ()
    assert change.delta("registers") == 0 and change.delta("spill_stores") == 0


def test_broke_and_lost():
    assert compare_one(result(OK, kernel()), result(FAILED)).flags == (BROKE,)
    assert compare_one(result(OK, kernel()), result(SKIPPED)).flags == (LOST,)
    assert compare_one(result(FAILED), result(FAILED)).flags == ()
    assert compare_one(result(SKIPPED), result(FAILED)).flags == ()


def test_new_and_fixed_are_notes():
    assert compare_one(result(SKIPPED), result(OK, kernel())).notes == (NEW,)
    assert compare_one(None, result(OK, kernel())).notes == (NEW,)
    assert compare_one(result(FAILED), result(OK, kernel())).notes == (FIXED,)


def test_spills_new_and_up():
    assert compare_one(result(OK, kernel()), result(OK, kernel(st=4))).flags == (SPILLS_NEW,)
    assert compare_one(result(OK, kernel(st=8, ld=8)), result(OK, kernel(st=8, ld=12))).flags == (SPILLS_UP,)
    assert compare_one(result(OK, kernel(st=8, ld=8)), result(OK, kernel(st=4, ld=4))).flags == ()


def test_spills_are_summed_over_a_variants_kernels():
    before = result(OK, kernel("a", st=8), kernel("b"))
    after = result(OK, kernel("a", st=8), kernel("b", st=4))
    change = compare_one(before, after)
    assert change.flags == (SPILLS_UP,) and change.delta("spill_stores") == 4


def test_register_ceiling_counts_kernels_at_255():
    assert compare_one(result(OK, kernel(regs=254)), result(OK, kernel(regs=255))).flags == (REG_CEILING,)
    assert compare_one(result(OK, kernel(regs=255)), result(OK, kernel(regs=255))).flags == ()
    two = compare_one(result(OK, kernel("a", regs=255), kernel("b", regs=200)),
                      result(OK, kernel("a", regs=255), kernel("b", regs=255)))
    assert two.flags == (REG_CEILING,) and two.delta("registers") == 0


def test_kernel_changed_ignores_argument_mangling():
    same = compare_one(result(OK, kernel("kernel_mod_ClassA_object_at__tensorA_0")),
                       result(OK, kernel("kernel_mod_ClassA_object_at__tensorB_0")))
    assert KERNEL_CHANGED not in same.notes
    other = compare_one(result(OK, kernel("kernel_mod_ClassA_object_at__t_0")),
                        result(OK, kernel("kernel_mod_ClassATma_object_at__t_0", regs=168)))
    assert other.notes == (KERNEL_CHANGED,) and other.delta("registers") == 40


def test_compare_matches_by_id_and_reports_unknown_ones():
    comparison = compare([result(OK, kernel(), id="a")], [result(OK, kernel(st=4), id="a"),
                                                           result(OK, kernel(), id="b")], "main (727eed3c)")
    assert [c.id for c in comparison.changes] == ["a", "b"]
    assert comparison.changes[1].before is None
    assert [c.id for c in comparison.flagged([SPILLS_NEW])] == ["a"]
    data = comparison.to_dict()
    assert data["reference"] == "main (727eed3c)" and data["variants"][0]["delta"]["spill_stores"] == 4

"""CW14: cutlass.cast(x, T) -> T(x)."""

from __future__ import annotations

from resolutions.sm100_dropout_uint32 import Sm100DropoutUint32
from tests.resolutions.harness import assert_leaves, assert_rewrites, dedent

PATH = "flash_attn/cute/flash_fwd_sm100.py"
BEFORE = dedent("""
    class Fwd:
        def softmax_loop(self, lo, hi):
            fn = partial(
                drop,
                seed_lo=cutlass.cast(lo, cutlass.Uint32),
                seed_hi=cutlass.cast(hi, cutlass.Uint32),
            )
""")
AFTER = BEFORE.replace("cutlass.cast(lo, cutlass.Uint32)", "cutlass.Uint32(lo)").replace(
    "cutlass.cast(hi, cutlass.Uint32)", "cutlass.Uint32(hi)")


def test_cast_becomes_a_constructor_call():
    assert_rewrites(Sm100DropoutUint32(), {PATH: BEFORE}, {PATH: AFTER})


def test_satisfied_and_absent():
    assert_leaves(Sm100DropoutUint32(), {PATH: AFTER}, "satisfied")
    assert_leaves(Sm100DropoutUint32(), {PATH: None}, "absent")

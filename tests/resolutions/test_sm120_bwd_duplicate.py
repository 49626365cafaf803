"""CW11: the repeated constant assignment in the SM120 backward config."""

from __future__ import annotations

from resolutions.sm120_bwd_duplicate import Sm120BackwardDuplicate
from tests.resolutions.harness import assert_leaves, assert_rewrites, dedent

IFACE = "flash_attn/cute/interface.py"
BEFORE = dedent("""
    def _flash_attn_bwd(q, arch):
        if arch // 10 == 12:
            tile = 64
            single_wg = False
            threads = 128
            single_wg = False
            assert q is not None
        elif arch // 10 == 9:
            single_wg = True
""")
AFTER = BEFORE.replace("        threads = 128\n        single_wg = False\n", "        threads = 128\n")


def test_the_repeat_is_dropped():
    assert_rewrites(Sm120BackwardDuplicate(), {IFACE: BEFORE}, {IFACE: AFTER})


def test_a_reassignment_after_a_use_is_not_a_repeat():
    used = BEFORE.replace("        threads = 128\n", "        threads = 128 if single_wg else 64\n")
    assert_leaves(Sm120BackwardDuplicate(), {IFACE: used}, "satisfied")


def test_not_applicable_without_the_branch():
    assert_leaves(Sm120BackwardDuplicate(), {IFACE: BEFORE.replace("arch // 10 == 12", "arch // 10 == 11")}, "absent")

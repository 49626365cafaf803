"""CW10: Pack-GQA off with dropout on arch 8.x/12.x."""

from __future__ import annotations

from resolutions.dropout_no_pack_gqa import GUARD, DropoutNoPackGqa
from tests.resolutions.harness import assert_leaves, assert_rewrites, dedent

IFACE = "flash_attn/cute/interface.py"
BEFORE = dedent("""
    def _flash_attn_fwd(q, heads, kv_heads, pack_gqa=None, dropout_p=0.0):
        arch = get_arch()
        ratio = heads // kv_heads
        if pack_gqa is None:
            pack_gqa = ratio > 1

        cfg = pick(pack_gqa=pack_gqa)
""")
AFTER = BEFORE.replace("        pack_gqa = ratio > 1\n", "        pack_gqa = ratio > 1\n" + "".join(
    "    " + line for line in GUARD.splitlines(keepends=True)))


def test_guard_goes_right_after_the_default():
    assert_rewrites(DropoutNoPackGqa(), {IFACE: BEFORE}, {IFACE: AFTER})
    assert "    if dropout_p > 0.0 and arch // 10 in [8, 12]:\n" in AFTER


def test_guard_after_a_use_does_not_count():
    late = BEFORE + "".join("    " + line for line in GUARD.splitlines(keepends=True))
    assert DropoutNoPackGqa().inspect(_tree({IFACE: late})).status == "needed"


def _tree(files):
    from stacker.resolution import SourceTree
    return SourceTree(files=dict(files))


def test_satisfied_and_not_applicable():
    assert_leaves(DropoutNoPackGqa(), {IFACE: AFTER}, "satisfied")
    assert_leaves(DropoutNoPackGqa(), {IFACE: BEFORE.replace(", dropout_p=0.0", "")}, "absent")
    assert_leaves(DropoutNoPackGqa(), {IFACE: BEFORE.replace("if pack_gqa is None:", "if pack_gqa:")}, "absent")

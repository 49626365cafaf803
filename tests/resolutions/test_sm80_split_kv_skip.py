"""sm80-split-kv-only-skip (CW3): the epilogue gate before #2389 (kernel top level) and after the
block-sparse resolution (inside the dense flow)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from stacker.plugins import load_stack_module
from stacker.resolution import SourceTree
from tests.resolutions import sm80_shapes as shapes
from tests.resolutions.harness import assert_leaves, assert_rewrites

skip = load_stack_module(Path(__file__).resolve().parents[2] / "resolutions" / "sm80_split_kv_skip.py",
                         namespace="stacker_resolution")

COMMENT = """\
# Only split-KV may skip a tile with no K blocks: out_partial / lse_partial start at 0 /
# -inf for the combine. Without split-KV the epilogue must run, so rows that see no key
# (causal, seqlen_q > seqlen_k) get O=0 and LSE=-inf.
"""
FIX = COMMENT + """\
if const_expr(self.is_split_kv):
    has_n_blocks = n_block_max > n_block_min
else:
    has_n_blocks = cutlass.Boolean(True)
if has_n_blocks:
"""


def fixed(text: str, indent: str, gate: str = "if n_block_max > n_block_min:\n") -> str:
    assert text.count(indent + gate) == 1
    return text.replace(indent + gate, textwrap.indent(FIX, indent))


def test_fixes_the_gate_at_the_kernels_top_level():
    after = fixed(shapes.SPLIT, " " * 8)
    assert_rewrites(skip.SplitKVOnlySkip(), {shapes.PATH: shapes.SPLIT}, {shapes.PATH: after})


def test_fixes_the_gate_inside_the_dense_flow():
    after = fixed(shapes.MERGED, " " * 12)
    assert_rewrites(skip.SplitKVOnlySkip(), {shapes.PATH: shapes.MERGED}, {shapes.PATH: after})


def test_fixes_a_gate_fed_by_an_unconditional_assignment():
    before = shapes.SPLIT.replace("        if n_block_max > n_block_min:\n",
                                  "        has_blocks = n_block_max > n_block_min\n        if has_blocks:\n")
    after = before.replace("        has_blocks = n_block_max > n_block_min\n", textwrap.indent(
        COMMENT + "if const_expr(self.is_split_kv):\n    has_blocks = n_block_max > n_block_min\n"
        "else:\n    has_blocks = cutlass.Boolean(True)\n", " " * 8))
    assert_rewrites(skip.SplitKVOnlySkip(), {shapes.PATH: before}, {shapes.PATH: after})


def test_already_satisfied_when_the_skip_is_split_kv_only():
    verdict = assert_leaves(skip.SplitKVOnlySkip(), {shapes.PATH: fixed(shapes.MERGED, " " * 12)}, "satisfied")
    assert "is_split_kv" in verdict.reason


def test_not_applicable_without_the_gate():
    resolution = skip.SplitKVOnlySkip()
    assert_leaves(resolution, {shapes.PATH: shapes.BASE}, "absent")
    assert_leaves(resolution, {shapes.PATH: shapes.SPARSE}, "absent")
    # a runtime gate around the epilogue that is not about K blocks is not this bug
    other = shapes.BASE.replace("        self.epilogue(acc, out_tile, mO)\n",
                                "        if tidx < 128:\n            self.epilogue(acc, out_tile, mO)\n")
    assert_leaves(resolution, {shapes.PATH: other}, "absent")
    assert_leaves(resolution, {}, "absent")


def test_stops_when_the_file_cannot_spell_a_traced_true():
    no_cutlass = shapes.SPLIT.replace("import cutlass\n", "")
    tree = SourceTree(files={shapes.PATH: no_cutlass})
    resolution = skip.SplitKVOnlySkip()
    assert resolution.inspect(tree).status == "needed"
    with pytest.raises(ValueError, match="traced True"):
        resolution.rewrite(tree)


def test_spells_boolean_as_imported():
    from_import = shapes.SPLIT.replace("import cutlass\n", "from cutlass import Boolean\n")
    tree = SourceTree(files={shapes.PATH: from_import})
    skip.SplitKVOnlySkip().rewrite(tree)
    assert "has_n_blocks = Boolean(True)" in tree.text(shapes.PATH)

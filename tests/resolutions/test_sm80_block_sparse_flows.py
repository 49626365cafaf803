"""sm80-block-sparse-flows (D3): the claim that builds two compile-time flows from the conflict,
the rename rule, and the transform's "already satisfied" check."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import libcst as cst
import pytest

from stacker.codified import CodifiedLayer
from stacker.cstedit import find_definition
from stacker.filemerge import FileVersions, merge_file
from stacker.linemerge import line_merge, resolve_trivial
from stacker.plugins import load_stack_module
from stacker.resolution import ConflictContext, SourceTree
from tests.resolutions import sm80_shapes as shapes
from tests.resolutions.harness import assert_leaves, assert_rewrites, dedent, run

RESOLUTIONS = Path(__file__).resolve().parents[2] / "resolutions"
flows = load_stack_module(RESOLUTIONS / "sm80_block_sparse_flows.py", namespace="stacker_resolution")
skip = load_stack_module(RESOLUTIONS / "sm80_split_kv_skip.py", namespace="stacker_resolution")
statement_key = load_stack_module(RESOLUTIONS / "_sm80_kernel.py", namespace="stacker_resolution").statement_key


def merge(base: str, ours: str, theirs: str, step: int = 2389, bundle: frozenset[int] = frozenset({2348})):
    """The real chain for one file (git's merge, then the codified layer with this resolution)."""
    versions = FileVersions(shapes.PATH, base, ours, theirs)
    layer = CodifiedLayer([flows.BlockSparseDenseFlows()], step, bundle, {shapes.PATH: versions})
    return merge_file(versions, [layer])


def test_git_alone_leaves_the_kernel_conflicted():
    result = merge_file(FileVersions(shapes.PATH, shapes.BASE, shapes.SPLIT, shapes.SPARSE), [])
    assert not result.is_clean


def test_claim_builds_the_two_flows():
    result = merge(shapes.BASE, shapes.SPLIT, shapes.SPARSE)
    assert result.is_clean
    assert result.text == shapes.MERGED
    [action] = [a for a in result.actions if a.layer == "codified"]
    assert action.resolution_id == "sm80-block-sparse-flows"
    assert action.location == "FlashAttentionForwardSm80.kernel"
    assert len(action.hunks) == result.initial_conflicts


def test_claim_is_the_same_when_the_split_pr_merges_second():
    result = merge(shapes.BASE, shapes.SPARSE, shapes.SPLIT, step=2348, bundle=frozenset({2389}))
    assert result.is_clean
    assert result.text == shapes.MERGED


def test_claim_keeps_a_gate_fixed_before_the_merge_and_commutes_with_the_gate_fix():
    split_fixed = run(skip.SplitKVOnlySkip(), {shapes.PATH: shapes.SPLIT})[1][shapes.PATH]
    assert "has_n_blocks" in split_fixed
    claimed_after_fix = merge(shapes.BASE, split_fixed, shapes.SPARSE)
    fixed_after_claim = run(skip.SplitKVOnlySkip(), {shapes.PATH: shapes.MERGED})[1][shapes.PATH]
    assert claimed_after_fix.is_clean
    assert claimed_after_fix.text == fixed_after_claim


def test_an_edit_the_sparse_pr_makes_to_shared_code_reaches_both_flows():
    sparse = shapes.SPARSE.replace("scale = softmax.finalize()", "scale = softmax.finalize(final=True)")
    result = merge(shapes.BASE, shapes.SPLIT, sparse)
    assert result.is_clean
    assert result.text == shapes.MERGED.replace("scale = softmax.finalize()", "scale = softmax.finalize(final=True)")


def test_claim_declines_when_both_prs_edit_the_same_shared_statement():
    sparse = shapes.SPARSE.replace("self.epilogue(acc, out_tile, mO)", "self.epilogue(acc, out_tile, mO, lse)")
    assert not merge(shapes.BASE, shapes.SPLIT, sparse).is_clean


def test_claim_declines_other_shapes():
    # the PR edits the flow but has no block-sparse switch
    other = shapes.BASE.replace("prefetch(n_block)", "prefetch(n_block, eager=True)")
    assert not merge(shapes.BASE, shapes.SPLIT, other).is_clean
    # a `bs_` name already taken: the rename would collide
    taken = shapes.SPARSE.replace("step_bs = partial(", "bs_mask = 0\n        step_bs = partial(")
    assert not merge(shapes.BASE, shapes.SPLIT, taken).is_clean


def test_claim_needs_the_original_versions():
    # The views lost the lines #2348 re-indented (a clean deletion on their side): the claim must
    # read the originals, and declines without them.
    merged, _ = resolve_trivial(line_merge(shapes.BASE, shapes.SPLIT, shapes.SPARSE))
    views = merged.views()
    theirs_kernel = find_definition(cst.parse_module(views[2]), "FlashAttentionForwardSm80.kernel")
    top_level = [statement_key(s) for s in theirs_kernel.body.body]
    assert "mask = Mask(seqlen)" not in top_level  # git moved it into #2389's `else:` in this view
    context = ConflictContext(path=shapes.PATH, qualname="FlashAttentionForwardSm80.kernel",
                              hunk=merged.conflicts[0], views=views, step_pr=2389, bundle_prs=frozenset({2348}))
    resolution = flows.BlockSparseDenseFlows()
    assert resolution.claim(context) is None
    node = resolution.claim(replace(context, originals=(shapes.BASE, shapes.SPLIT, shapes.SPARSE)))
    assert node.qualname == "FlashAttentionForwardSm80.kernel"
    assert "bs_mask = Mask(seqlen)" in node.source


# --- the rename rule --------------------------------------------------------------------------------------------

def statements(source: str) -> list[cst.BaseStatement]:
    return list(cst.parse_module(dedent(source)).body)


def test_rename_set_is_every_local_both_flows_bind_in_the_sparse_flows_order():
    bs_flow = statements("""
        mask = Mask(seqlen)
        out = run(mask)
        only_sparse = 1
        for blk in blocks:
            pass
    """)
    [dense_gate] = statements("""
        if n_block_max > n_block_min:
            def helper():
                blk = 0
            out = dense()
            mask = Mask(seqlen)
            only_dense = 2
    """)
    assert flows.rename_set(bs_flow, dense_gate, outer=set()) == ["mask", "out", "blk"]


def test_rename_set_leaves_names_bound_before_the_flows():
    bs_flow = statements("n_block = 3\nacc = acc * 2\nrow = 1\n")
    [dense_gate] = statements("if n_block_max > n_block_min:\n    n_block = 4\n    acc = acc * 3\n    row = 2\n")
    assert flows.rename_set(bs_flow, dense_gate, outer={"n_block", "acc"}) == ["row"]


def test_rename_set_ignores_the_dense_flows_statements_outside_its_runtime_if():
    bs_flow = statements("has_n_blocks = True\nrow = 1\n")
    dense = statements("""
        has_n_blocks = n_block_max > n_block_min
        if has_n_blocks:
            row = 2
    """)
    assert flows.rename_set(bs_flow, dense[1], outer=set()) == ["row"]


def test_prefixed_refuses_a_name_the_flow_reads_before_binding_it():
    bs_flow = statements("mask = mask.narrow()\n")
    assert flows.prefixed(bs_flow, ["mask"], taken=set()) is None
    assert flows.prefixed(statements("mask = Mask()\nuse(mask)\n"), ["mask"], taken={"bs_mask"}) is None
    [renamed_a, renamed_b] = flows.prefixed(statements("mask = Mask()\nuse(mask)\n"), ["mask"], taken=set())
    assert cst.Module(body=[renamed_a, renamed_b]).code == "bs_mask = Mask()\nuse(bs_mask)\n"


def test_the_flow_comment_lists_the_renamed_locals():
    result = merge(shapes.BASE, shapes.SPLIT, shapes.SPARSE)
    assert flows.rename_set  # the comment above the flow lists what was renamed, in binding order
    assert "thr_q, packer, q_view, mask, mask_fn, scale,\n        # out_tile." in result.text


# --- the transform ----------------------------------------------------------------------------------------------

TWO_NAME_RENAME = shapes.MERGED
for _name in ("thr_q", "packer", "q_view", "mask_fn", "mask"):
    TWO_NAME_RENAME = TWO_NAME_RENAME.replace(f"bs_{_name}", _name)


def test_transform_is_satisfied_by_the_two_flows():
    verdict = assert_leaves(flows.BlockSparseDenseFlows(), {shapes.PATH: shapes.MERGED}, "satisfied")
    assert "self.use_block_sparsity" in verdict.reason


def test_transform_completes_a_partial_rename():
    # The 2026 log renamed only two locals; the transform renames the rest.
    assert "bs_scale" in TWO_NAME_RENAME and "bs_mask" not in TWO_NAME_RENAME
    assert_rewrites(flows.BlockSparseDenseFlows(), {shapes.PATH: TWO_NAME_RENAME}, {shapes.PATH: shapes.MERGED})


def test_transform_is_not_applicable_without_both_prs_shapes():
    resolution = flows.BlockSparseDenseFlows()
    assert_leaves(resolution, {shapes.PATH: shapes.BASE}, "absent")
    assert_leaves(resolution, {shapes.PATH: shapes.SPARSE}, "absent")  # no runtime gate to collide with
    assert_leaves(resolution, {}, "absent")


def test_transform_stops_on_a_shape_it_cannot_build():
    # a block-sparse switch beside a runtime-gated epilogue, but not as the two flows: there is no
    # conflict here to rebuild them from, so the build must stop rather than guess
    mixed = shapes.SPARSE + "        if n_block_max > n_block_min:\n            self.epilogue(acc, out_tile, mO)\n"
    resolution = flows.BlockSparseDenseFlows()
    tree = SourceTree(files={shapes.PATH: mixed})
    assert resolution.inspect(tree).status == "needed"
    with pytest.raises(ValueError, match="restructure them by hand"):
        resolution.rewrite(tree)

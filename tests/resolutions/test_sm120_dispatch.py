"""D1 (sm120_dispatch): the two claims and the clause-by-clause transform, on a synthetic dispatch."""

from __future__ import annotations

import textwrap

import pytest

from resolutions.sm120_dispatch import Sm120Dispatch
from stacker.resolution import SourceTree
from tests.resolutions.harness import assert_leaves, assert_rewrites, claim, dedent, run

PATH = "flash_attn/cute/interface.py"
ALL = {2348, 2349, 2389, 2439}

MODULE = dedent('''
    def _flash_attn_fwd(q, page_table=None, seqused_k=None, cu_q=None, dropout_p=0.0):
        is_varlen = cu_q is not None or seqused_k is not None
        if key not in cache:
            if arch // 10 == 9:
                fa_fwd = KernelSm90(q)
            elif arch // 10 == 12:
    <BODY>
            else:
                raise ValueError(arch)
    ''')


def module(body: str, *, main_is_varlen: bool = True) -> str:
    text = MODULE.replace("<BODY>\n", textwrap.indent(dedent(body), " " * 12))
    if not main_is_varlen:
        text = text.replace("    is_varlen = cu_q is not None or seqused_k is not None\n", "")
    return text


# The arm right after the step-#2349 claim: #2348's guard, #2349's dispatch with #2348's CpAsync call.
CLAIMED = '''
    # SM120 arm
    assert not use_block_sparsity, "no bs"
    if page_table is not None:
        assert seqused_k is not None, "paged needs seqused_k"
    # TMA when possible
    is_varlen = cu_q is not None
    use_tma_sm120 = (page_table is None and not is_varlen)
    if use_tma_sm120 and Sm120Tma.can_implement(q):
        fa_fwd = FlashAttentionForwardSm120Tma(
            q,
            is_causal=causal,
        )
    else:
        fa_fwd = FlashAttentionForwardSm120(
            q,
            is_causal=causal,
            is_split_kv=is_split_kv,
            num_stages=2,
        )
    '''

AFTER_2349 = '''
    # SM120 arm
    assert not use_block_sparsity, "no bs"
    if page_table is not None:
        assert seqused_k is not None, "paged needs seqused_k"
    # TMA when possible
    use_tma_sm120 = (
        page_table is None  # paged KV runs on the CpAsync kernel (#2348)
        and not is_varlen  # main's is_varlen: cu_seqlens or seqused -> CpAsync kernel
        and not is_split_kv  # the TMA kernel has no split-KV epilogue (#2348)
    )
    if use_tma_sm120 and Sm120Tma.can_implement(q):
        fa_fwd = FlashAttentionForwardSm120Tma(
            q,
            is_causal=causal,
        )
    else:
        fa_fwd = FlashAttentionForwardSm120(
            q,
            is_causal=causal,
            is_split_kv=is_split_kv,
            # D1: 2 stages for paged KV only (#2348 uses 2 always; 1 keeps occupancy otherwise)
            num_stages=2 if page_table is not None else 1,
        )
    '''

AFTER_ALL = '''
    # SM120 arm
    if use_block_sparsity:
        # Block sparsity runs on the CpAsync kernel (#2389): its block-sparse mainloop ignores the
        # split-KV range and loads K/V without the paged-KV loaders (#2348).
        assert not is_split_kv, "Block sparsity with SplitKV not supported on SM 12.0"
        assert page_table is None, "Block sparsity with paged KV not supported on SM 12.0"
    if page_table is not None:
        assert seqused_k is not None, "paged needs seqused_k"
    # TMA when possible
    use_tma_sm120 = (
        page_table is None  # paged KV runs on the CpAsync kernel (#2348)
        and not is_varlen  # main's is_varlen: cu_seqlens or seqused -> CpAsync kernel
        and not is_split_kv  # the TMA kernel has no split-KV epilogue (#2348)
        and not use_block_sparsity  # block sparsity runs on the CpAsync kernel (#2389)
        and dropout_p == 0.0  # the TMA kernel has no dropout (#2439)
    )
    if use_tma_sm120 and Sm120Tma.can_implement(q):
        fa_fwd = FlashAttentionForwardSm120Tma(
            q,
            is_causal=causal,
        )
    else:
        fa_fwd = FlashAttentionForwardSm120(
            q,
            is_causal=causal,
            is_split_kv=is_split_kv,
            # D1: 2 stages for paged KV only (#2348 uses 2 always; 1 keeps occupancy otherwise)
            num_stages=2 if page_table is not None else 1,
            p_dropout=dropout_p,
        )
    '''


def test_step_2349_clauses_are_applied_and_logged() -> None:
    verdict = assert_rewrites(Sm120Dispatch(), {PATH: module(CLAIMED)}, {PATH: module(AFTER_2349)}, {2348, 2349})
    assert "main-is-varlen" in verdict.reason and "gate:not is_split_kv" in verdict.reason
    assert "cpasync-num-stages" in verdict.reason
    assert "already in place — paged-kv, gate:page_table is None, gate:not is_varlen, cpasync-split-kv" \
        in verdict.reason
    assert "block-sparsity (needs #2389)" in verdict.reason and "cpasync-dropout (needs #2439)" in verdict.reason


def test_later_prs_add_their_clauses_to_the_arm() -> None:
    verdict = assert_rewrites(Sm120Dispatch(), {PATH: module(AFTER_2349)}, {PATH: module(AFTER_ALL)}, ALL)
    for key in ("block-sparsity", "gate:not use_block_sparsity", "gate:dropout_p == 0.0", "cpasync-dropout"):
        assert f"{key}:" in verdict.reason
    assert "tma-no-dropout" in verdict.reason.split("already in place")[1]


def test_all_at_once_equals_step_by_step() -> None:
    assert_rewrites(Sm120Dispatch(), {PATH: module(CLAIMED)}, {PATH: module(AFTER_ALL)}, ALL)


def test_target_arm_is_already_satisfied() -> None:
    verdict = assert_leaves(Sm120Dispatch(), {PATH: module(AFTER_ALL)}, "satisfied", ALL)
    assert "needed" not in verdict.reason


def test_dropout_on_the_tma_constructor_moves_to_the_cpasync_one() -> None:
    wrong = AFTER_ALL.replace("            is_causal=causal,\n        )\n    else:",
                              "            is_causal=causal,\n            p_dropout=dropout_p,\n        )\n    else:")
    assert wrong != AFTER_ALL
    verdict = assert_rewrites(Sm120Dispatch(), {PATH: module(wrong)}, {PATH: module(AFTER_ALL)}, ALL)
    assert verdict.reason.startswith("needed — tma-no-dropout")


def test_main_refusals_go_when_2348_is_stacked() -> None:
    base_arm = '''
        assert not use_block_sparsity, "no bs"
        assert page_table is None, "Paged KV not supported on SM 12.0 in this PR"
        assert not is_split_kv, "SplitKV not supported on SM 12.0 in this PR"
        use_tma_sm120 = page_table is None and not is_varlen and not is_split_kv
        if use_tma_sm120:
            fa_fwd = FlashAttentionForwardSm120Tma(q)
        else:
            fa_fwd = FlashAttentionForwardSm120(q, is_split_kv=is_split_kv, num_stages=2 if page_table is not None else 1)
        '''
    after = '''
        assert not use_block_sparsity, "no bs"
        if page_table is not None:
            assert seqused_k is not None, "Paged KV on SM120 requires seqused_k"
        use_tma_sm120 = page_table is None and not is_varlen and not is_split_kv
        if use_tma_sm120:
            fa_fwd = FlashAttentionForwardSm120Tma(q)
        else:
            fa_fwd = FlashAttentionForwardSm120(q, is_split_kv=is_split_kv, num_stages=2 if page_table is not None else 1)
        '''
    verdict = assert_rewrites(Sm120Dispatch(), {PATH: module(base_arm)}, {PATH: module(after)}, {2348, 2349})
    assert verdict.reason.startswith("needed — paged-kv")


def test_without_2348_only_2349s_clauses_apply() -> None:
    arm = '''
        assert not use_block_sparsity, "no bs"
        assert page_table is None, "Paged KV not supported on SM 12.0 in this PR"
        use_tma_sm120 = page_table is None and not is_varlen
        if use_tma_sm120:
            fa_fwd = FlashAttentionForwardSm120Tma(q)
        else:
            fa_fwd = FlashAttentionForwardSm120(q, num_stages=1)
        '''
    verdict = assert_leaves(Sm120Dispatch(), {PATH: module(arm)}, "satisfied", {2349})
    assert "paged-kv (needs #2348)" in verdict.reason and "gate:not is_split_kv (needs #2348)" in verdict.reason


def test_local_is_varlen_stays_when_main_has_none() -> None:
    arm = '''
        is_varlen = cu_q is not None
        use_tma_sm120 = page_table is None and not is_varlen
        if use_tma_sm120:
            fa_fwd = FlashAttentionForwardSm120Tma(q)
        else:
            fa_fwd = FlashAttentionForwardSm120(q)
        '''
    verdict = assert_leaves(Sm120Dispatch(), {PATH: module(arm, main_is_varlen=False)}, "satisfied", {2349})
    assert "main-is-varlen (main binds no is_varlen of its own before the dispatch)" in verdict.reason


def test_block_sparsity_without_2348_just_lifts_mains_assert() -> None:
    arm = '''
        # SM120 arm
        assert not use_block_sparsity, "no bs"
        use_tma_sm120 = page_table is None and not is_varlen and not use_block_sparsity
        if use_tma_sm120:
            fa_fwd = FlashAttentionForwardSm120Tma(q)
        else:
            fa_fwd = FlashAttentionForwardSm120(q)
        '''
    after = '''
        # SM120 arm
        use_tma_sm120 = page_table is None and not is_varlen and not use_block_sparsity
        if use_tma_sm120:
            fa_fwd = FlashAttentionForwardSm120Tma(q)
        else:
            fa_fwd = FlashAttentionForwardSm120(q)
        '''
    assert_rewrites(Sm120Dispatch(), {PATH: module(arm)}, {PATH: module(after)}, {2349, 2389})


def test_no_sm120_arm_is_not_applicable() -> None:
    text = module(AFTER_ALL).replace("arch // 10 == 12", "arch // 10 == 11")
    verdict = assert_leaves(Sm120Dispatch(), {PATH: text}, "absent", ALL)
    assert "arch // 10 == 12" in verdict.reason


def test_a_lost_tma_dispatch_stops_instead_of_guessing() -> None:
    arm = '''
        fa_fwd = FlashAttentionForwardSm120(q, is_split_kv=is_split_kv, num_stages=2 if page_table is not None else 1)
        if page_table is not None:
            assert seqused_k is not None
        '''
    verdict = Sm120Dispatch().inspect(SourceTree(files={PATH: module(arm)}, prs=frozenset({2348, 2349})))
    assert verdict.status == "needed" and "gate:page_table is None" in verdict.reason
    with pytest.raises(ValueError, match="use_tma_sm120"):
        run(Sm120Dispatch(), {PATH: module(arm)}, {2348, 2349})


# --- the claims ---------------------------------------------------------------------------------------------------

BASE_HUNK = '''\
            assert page_table is None, "no paged"
            assert not is_split_kv, "no split"
            fa_fwd = FlashAttentionForwardSm120(
                q,
                is_causal=causal,
                num_stages=1,
            )
'''
OURS_HUNK = '''\
            if page_table is not None:
                assert seqused_k is not None, "paged needs seqused_k"
            fa_fwd = FlashAttentionForwardSm120(
                q,
                is_causal=causal,
                is_split_kv=is_split_kv,
                # two stages hide the page-table lookups
                num_stages=2,
            )
'''
THEIRS_HUNK = '''\
            # TMA when possible
            is_varlen = cu_q is not None
            use_tma_sm120 = (page_table is None and not is_varlen)
            if use_tma_sm120:
                fa_fwd = FlashAttentionForwardSm120Tma(q)
            else:
                fa_fwd = FlashAttentionForwardSm120(
                    q,
                    is_causal=causal,
                    is_split_kv=is_split_kv,
                    num_stages=1,
                    tile_n=tile_n,
                )
'''
MERGED_HUNK = '''\
            if page_table is not None:
                assert seqused_k is not None, "paged needs seqused_k"
            # TMA when possible
            is_varlen = cu_q is not None
            use_tma_sm120 = (page_table is None and not is_varlen)
            if use_tma_sm120:
                fa_fwd = FlashAttentionForwardSm120Tma(q)
            else:
                fa_fwd = FlashAttentionForwardSm120(
                    q,
                    is_causal=causal,
                    is_split_kv=is_split_kv,
                    # two stages hide the page-table lookups
                    num_stages=2,
                    tile_n=tile_n,
                )
'''


def offer(base: str, ours: str, theirs: str, step: int, bundle: set[int]) -> str | None:
    return claim(Sm120Dispatch(), PATH, "_flash_attn_fwd", base, ours, theirs, step, bundle)


def test_step_2349_claim_puts_2348s_guard_and_constructor_into_2349s_dispatch() -> None:
    assert offer(BASE_HUNK, OURS_HUNK, THEIRS_HUNK, 2349, {2348}) == MERGED_HUNK


def test_step_2349_claim_declines_when_both_change_one_keyword() -> None:
    theirs = THEIRS_HUNK.replace("num_stages=1", "num_stages=3")
    assert offer(BASE_HUNK, OURS_HUNK, theirs, 2349, {2348}) is None


def test_step_2349_claim_declines_partial_statements() -> None:
    assert offer(BASE_HUNK, OURS_HUNK, THEIRS_HUNK.replace("            )\n", ""), 2349, {2348}) is None


STEP4_BASE = '''\
            assert not use_block_sparsity, "no bs"
            fa_fwd = FlashAttentionForwardSm120(
                q,
                has_aux_tensors=aux is not None,
'''
STEP4_OURS = '''\
            if use_block_sparsity:
                assert not is_split_kv, "no split"
            use_tma_sm120 = (
                page_table is None
'''


def test_step_2439_claim_keeps_the_bundles_arm_when_2439_only_adds_p_dropout() -> None:
    theirs = STEP4_BASE + "                p_dropout=dropout_p,\n"
    assert offer(STEP4_BASE, STEP4_OURS, theirs, 2439, {2348, 2349, 2389}) == STEP4_OURS


def test_step_2439_claim_declines_any_other_edit() -> None:
    theirs = STEP4_BASE.replace('"no bs"', '"no block sparsity"') + "                p_dropout=dropout_p,\n"
    assert offer(STEP4_BASE, STEP4_OURS, theirs, 2439, {2348, 2349, 2389}) is None
    assert offer(STEP4_BASE, STEP4_OURS, STEP4_BASE + "                p_dropout=dropout_p,\n", 2500,
                 {2348, 2349}) is None


def test_claims_leave_other_hunks_of_the_function_alone() -> None:
    assert offer("x = 1\n", "x = 2\n", "x = 3\n", 2439, ALL) is None
    kwargs = "                    seqlen_k_per_split=seqlen_k_per_split,\n"
    assert offer("", kwargs, "                    p_dropout=dropout_p,\n", 2439, ALL) is None

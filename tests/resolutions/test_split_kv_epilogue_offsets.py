"""CW1 (split_kv_epilogue_offsets): the shared epilogue keeps main's offsets unless it splits."""

from __future__ import annotations

from resolutions.split_kv_epilogue_offsets import SplitKvEpilogueMainOffsets
from tests.resolutions.harness import assert_leaves, assert_rewrites, dedent

PATH = "flash_attn/cute/flash_fwd.py"

PR_EPILOGUE = dedent('''
    class FlashAttentionForwardBase:
        def epilogue(self, mO, mLSE, seqlen, head_idx, batch_idx, split_idx=0):
            if const_expr(mLSE is not None):
                if const_expr(not seqlen.has_cu_seqlens_q):
                    if const_expr(self.is_split_kv):
                        mLSE_cur = mLSE[None, head_idx, batch_idx, split_idx]
                    else:
                        mLSE_cur = mLSE[None, head_idx, batch_idx]
                else:
                    offset = seqlen.offset_q
                    if const_expr(self.is_split_kv):
                        mLSE_cur = cute.domain_offset((offset,), mLSE[None, head_idx, split_idx])
                    else:
                        mLSE_cur = cute.domain_offset((offset,), mLSE[None, head_idx])
                store(mLSE_cur)

            # pick the O view
            if const_expr(not seqlen.has_cu_seqlens_q):
                if const_expr(self.is_split_kv):
                    mO_cur = mO[None, None, head_idx, batch_idx, split_idx]
                else:
                    mO_cur = mO[None, None, head_idx, batch_idx]
            else:
                offset = seqlen.offset_q
                if const_expr(self.is_split_kv):
                    mO_cur = cute.domain_offset((offset, 0), mO[None, None, head_idx, split_idx])
                else:
                    mO_cur = cute.domain_offset((offset, 0), mO[None, None, head_idx])
            store(mO_cur)
    ''')

FIXED = dedent('''
    class FlashAttentionForwardBase:
        def epilogue(self, mO, mLSE, seqlen, head_idx, batch_idx, split_idx=0):
            if const_expr(mLSE is not None):
                if const_expr(not self.is_split_kv):
                    mLSE_cur = seqlen.offset_batch_Q(mLSE, batch_idx, dim=2)[None, head_idx]
                elif const_expr(not seqlen.has_cu_seqlens_q):
                    mLSE_cur = mLSE[None, head_idx, batch_idx, split_idx]
                else:
                    offset = seqlen.offset_q
                    mLSE_cur = cute.domain_offset((offset,), mLSE[None, head_idx, split_idx])
                store(mLSE_cur)

            # pick the O view
            if const_expr(not self.is_split_kv):
                # Non-split: main's offsets, incl. the ragged TMA-O layout SM90 varlen needs.
                ragged = self.use_tma_O and (seqlen.has_cu_seqlens_q or seqlen.has_seqused_q)
                mO_cur = seqlen.offset_batch_Q(mO, batch_idx, dim=3, ragged=ragged)[None, None, head_idx]
            elif const_expr(not seqlen.has_cu_seqlens_q):
                mO_cur = mO[None, None, head_idx, batch_idx, split_idx]
            else:
                offset = seqlen.offset_q
                mO_cur = cute.domain_offset((offset, 0), mO[None, None, head_idx, split_idx])
            store(mO_cur)
    ''')

MAIN = dedent('''
    class FlashAttentionForwardBase:
        def epilogue(self, mO, mLSE, seqlen, head_idx, batch_idx):
            if const_expr(mLSE is not None):
                mLSE_cur = seqlen.offset_batch_Q(mLSE, batch_idx, dim=2)[None, head_idx]
                store(mLSE_cur)
            ragged = self.use_tma_O and (seqlen.has_cu_seqlens_q or seqlen.has_seqused_q)
            mO_cur = seqlen.offset_batch_Q(mO, batch_idx, dim=3, ragged=ragged)[None, None, head_idx]
            store(mO_cur)
    ''')


def test_non_split_path_gets_mains_offsets_back() -> None:
    verdict = assert_rewrites(SplitKvEpilogueMainOffsets(), {PATH: PR_EPILOGUE}, {PATH: FIXED})
    assert verdict.reason.startswith("non-split mLSE_cur and mO_cur use #2348's indexing")


def test_only_the_o_view_wrong() -> None:
    lse_fixed = FIXED[: FIXED.index("        # pick the O view")] + PR_EPILOGUE[PR_EPILOGUE.index("        # pick the O view"):]
    verdict = assert_rewrites(SplitKvEpilogueMainOffsets(), {PATH: lse_fixed}, {PATH: FIXED})
    assert verdict.reason.startswith("non-split mO_cur use")


def test_mains_own_epilogue_is_satisfied() -> None:
    assert_leaves(SplitKvEpilogueMainOffsets(), {PATH: MAIN}, "satisfied")


def test_o_without_ragged_is_not_mains() -> None:
    no_ragged = FIXED.replace("dim=3, ragged=ragged)", "dim=3)")
    verdict = assert_leaves(SplitKvEpilogueMainOffsets(), {PATH: no_ragged}, "satisfied")
    assert "mLSE_cur" in verdict.reason and "mO_cur" not in verdict.reason
    only_o = no_ragged.replace("mLSE_cur = seqlen.offset_batch_Q(", "mLSE_cur = other_offsets(")
    verdict = assert_leaves(SplitKvEpilogueMainOffsets(), {PATH: only_o}, "absent")
    assert "neither" in verdict.reason


def test_unrelated_nesting_is_left_alone() -> None:
    other = PR_EPILOGUE.replace("mLSE_cur = mLSE[None, head_idx, batch_idx]", "other = mLSE[None, head_idx, batch_idx]")
    marker = "        # pick the O view"
    fixed_o = other[: other.index(marker)] + FIXED[FIXED.index(marker):]
    verdict = assert_rewrites(SplitKvEpilogueMainOffsets(), {PATH: other}, {PATH: fixed_o})
    assert "mLSE_cur" not in verdict.reason

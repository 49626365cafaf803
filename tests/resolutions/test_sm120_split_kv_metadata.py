"""CW4 (sm120_split_kv_metadata): main's dynamic-split metadata stays with the SM100 family."""

from __future__ import annotations

from resolutions.sm120_split_kv_metadata import Sm120SplitKvSchedulerMetadata
from tests.resolutions.harness import assert_leaves, assert_rewrites, dedent

PATH = "flash_attn/cute/interface.py"

BEFORE = dedent('''
    def _flash_attn_fwd(q, scheduler_metadata=None, num_splits=1):
        is_split_kv = num_splits > 1
        if (
            is_split_kv
            and is_varlen_q
            and scheduler_metadata is None
        ):
            scheduler_metadata = _get_scheduler_metadata(q, num_splits)
        has_scheduler_metadata = scheduler_metadata is not None
        if key not in cache:
            if arch // 10 == 12:
                # SM120 arm
                assert not use_block_sparsity, "no bs"
                if page_table is not None:
                    assert seqused_k is not None
                fa_fwd = FlashAttentionForwardSm120(q, is_split_kv=is_split_kv)
    ''')

AFTER = dedent('''
    def _flash_attn_fwd(q, scheduler_metadata=None, num_splits=1):
        is_split_kv = num_splits > 1
        if (
            is_split_kv
            and is_varlen_q
            and scheduler_metadata is None
            # SM100 family only: SM120 split-KV (#2348) splits statically, ignores this metadata
            and arch // 10 in [10, 11]
        ):
            scheduler_metadata = _get_scheduler_metadata(q, num_splits)
        has_scheduler_metadata = scheduler_metadata is not None
        if key not in cache:
            if arch // 10 == 12:
                # SM120 arm
                assert not use_block_sparsity, "no bs"
                assert not (is_split_kv and has_scheduler_metadata), (
                    "SplitKV scheduler_metadata (dynamic splits) not supported on SM 12.0"
                )
                if page_table is not None:
                    assert seqused_k is not None
                fa_fwd = FlashAttentionForwardSm120(q, is_split_kv=is_split_kv)
    ''')


def test_both_parts_are_applied() -> None:
    verdict = assert_rewrites(Sm120SplitKvSchedulerMetadata(), {PATH: BEFORE}, {PATH: AFTER})
    assert "lacks `arch // 10 in [10, 11]`" in verdict.reason and "lacks `assert not (is_split_kv" in verdict.reason


def test_refusal_goes_after_the_block_sparsity_guard() -> None:
    before = BEFORE.replace('                assert not use_block_sparsity, "no bs"\n',
                            "                if use_block_sparsity:\n                    assert not is_split_kv\n")
    after = AFTER.replace('                assert not use_block_sparsity, "no bs"\n',
                          "                if use_block_sparsity:\n                    assert not is_split_kv\n")
    assert_rewrites(Sm120SplitKvSchedulerMetadata(), {PATH: before}, {PATH: after})


def test_one_part_missing_is_still_needed() -> None:
    limit = ("        # SM100 family only: SM120 split-KV (#2348) splits statically, ignores this metadata\n"
             "        and arch // 10 in [10, 11]\n")
    assert limit in AFTER
    verdict = assert_rewrites(Sm120SplitKvSchedulerMetadata(), {PATH: AFTER.replace(limit, "")}, {PATH: AFTER})
    assert verdict.reason == "the metadata condition lacks `arch // 10 in [10, 11]`"


def test_already_limited_is_satisfied() -> None:
    done = AFTER.replace("arch // 10 in [10, 11]", "arch // 10 in (10, 11)")
    assert_leaves(Sm120SplitKvSchedulerMetadata(), {PATH: done}, "satisfied")


def test_main_without_split_metadata_is_not_applicable() -> None:
    old_main = BEFORE.replace("_get_scheduler_metadata", "_other")
    verdict = assert_leaves(Sm120SplitKvSchedulerMetadata(), {PATH: old_main}, "absent")
    assert "predates a19e1c6f" in verdict.reason

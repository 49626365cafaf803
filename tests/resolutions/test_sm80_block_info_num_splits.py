"""sm80-block-info-num-splits (CW2): BlockInfo gets the split count the kernel passes around."""

from __future__ import annotations

from pathlib import Path

from stacker.plugins import load_stack_module
from tests.resolutions import sm80_shapes as shapes
from tests.resolutions.harness import assert_leaves, assert_rewrites

splits = load_stack_module(Path(__file__).resolve().parents[2] / "resolutions" / "sm80_block_info_num_splits.py",
                           namespace="stacker_resolution")

CALL = "block_info = BlockInfo(self.tile_m, self.tile_n)"
FIXED = "block_info = BlockInfo(self.tile_m, self.tile_n, num_splits=num_splits)"


def files(kernel: str, block_info: str | None = shapes.BLOCK_INFO) -> dict[str, str]:
    out = {shapes.PATH: kernel}
    if block_info is not None:
        out[shapes.BLOCK_INFO_PATH] = block_info
    return out


def test_passes_the_split_count_to_block_info():
    assert_rewrites(splits.BlockInfoNumSplits(), files(shapes.SPLIT),
                    {shapes.PATH: shapes.SPLIT.replace(CALL, FIXED)})


def test_uses_whatever_the_kernel_passes_to_get_n_block_min_max():
    kernel = shapes.SPLIT.replace("split_idx, num_splits)", "split_idx, num_splits=self.splits)")
    assert_rewrites(splits.BlockInfoNumSplits(), files(kernel),
                    {shapes.PATH: kernel.replace(CALL, CALL[:-1] + ", num_splits=self.splits)")})


def test_already_satisfied_by_keyword_or_position():
    resolution = splits.BlockInfoNumSplits()
    assert_leaves(resolution, files(shapes.SPLIT.replace(CALL, FIXED)), "satisfied")
    positional = CALL[:-1] + ", self.is_causal, num_splits)"  # tile_m, tile_n, is_causal, num_splits
    assert_leaves(resolution, files(shapes.SPLIT.replace(CALL, positional)), "satisfied")


def test_not_applicable_without_split_kv_or_without_the_field():
    resolution = splits.BlockInfoNumSplits()
    assert_leaves(resolution, files(shapes.BASE), "absent")  # no split count anywhere
    old_block_info = shapes.BLOCK_INFO.replace("    num_splits: int = 1\n", "")
    verdict = assert_leaves(resolution, files(shapes.SPLIT, old_block_info), "absent")
    assert "no num_splits field" in verdict.reason
    assert_leaves(resolution, files(shapes.SPLIT, None), "absent")
    assert_leaves(resolution, {}, "absent")

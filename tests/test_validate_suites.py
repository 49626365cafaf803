"""The FA4 suites' plans and pure helpers (no GPU): case counts, names, block tensors, sampling."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import torch

from stacker.validation_plugin import RunContext, load_validation_plugin
from validate.suite_block_sparse import block_tensors
from validate.suite_timing import flops
from validate.suite_upstream import _functions, sample

ROOT = Path(__file__).resolve().parent.parent


def context(tree: Path, **options: str) -> RunContext:
    plugin = load_validation_plugin(ROOT / "validate")
    return RunContext(target="sm90a", label="SM120 paths on sm_90a", compile_arch="sm_90a", tree=str(tree),
                      suites=tuple(plugin.suites()), options=options)


def fake_tree(tmp_path: Path) -> Path:
    tests = tmp_path / "tests" / "cute"
    tests.mkdir(parents=True)
    (tests / "test_flash_attn.py").write_text("def test_a():\n    pass\n\ndef helper():\n    pass\n\n"
                                              "def test_b(x):\n    pass\n")
    return tmp_path


def test_plan_of_every_suite(tmp_path):
    plugin = load_validation_plugin(ROOT / "validate")
    assert plugin.suites() == ["plain", "gqa", "tma", "paged", "dropout", "block-sparse", "upstream", "timing"]
    cases = plugin.cases(context(fake_tree(tmp_path)))
    counts = Counter(case.suite for case in cases)
    assert counts == {"plain": 16, "gqa": 64, "tma": 5, "paged": 14, "dropout": 4, "block-sparse": 4,
                      "upstream": 2, "timing": 12}
    assert len({case.id for case in cases}) == len(cases)
    targets = plugin.targets()
    assert targets["sm90a"].label == "SM120 paths on sm_90a"
    assert targets["sm90a"].environment()["FLASH_ATTENTION_ARCH"] == "sm_120"


def test_upstream_options_and_missing_files(tmp_path):
    plugin = load_validation_plugin(ROOT / "validate")
    tree = fake_tree(tmp_path)
    ctx = context(tree, upstream_functions="test_b", upstream_per_function="all")
    upstream = [c for c in plugin.cases(ctx) if c.suite == "upstream"]
    assert [c.name for c in upstream] == ["test_flash_attn::test_b"]
    assert upstream[0].params["per_function"] == "all"
    ctx = context(tree, upstream_files="tests/cute/test_nope.py")
    assert [c.params for c in plugin.cases(ctx) if c.suite == "upstream"] == [
        {"file": "tests/cute/test_nope.py", "missing": True}]
    assert _functions(tree / "tests/cute/test_flash_attn.py") == ["test_a", "test_b"]


def test_sample_is_even_and_deterministic():
    items = list(range(10))
    assert sample(items, "all") == items
    assert sample(items, "1") == [5]
    assert sample(items, "3") == [0, 4, 9]  # round(4.5) is 4 (banker's rounding)
    assert sample(items, "20") == items
    assert sample(items, "0") == []


def test_block_tensors_list_kept_blocks_first_in_order():
    keep = torch.tensor([[[[False, True, False, True], [True, False, False, False]]]])

    class Tensors:
        def __init__(self, **kwargs):
            self.__dict__.update(kwargs)

    t = block_tensors(keep, (128, 64), Tensors)
    assert t.full_block_cnt.tolist() == [[[2, 1]]]
    assert t.full_block_idx[0, 0, 0, :2].tolist() == [1, 3] and t.full_block_idx[0, 0, 1, 0] == 0
    assert t.mask_block_cnt.sum() == 0 and t.full_block_idx.dtype == torch.int32 and t.block_size == (128, 64)


def test_timing_flops():
    p = {"batch": 1, "q_heads": 2, "seqlen": 4, "head_dim": 8, "causal": False}
    assert flops(p) == 4 * 2 * 4 * 4 * 8
    assert flops({**p, "causal": True}) == flops(p) / 2

"""CW2: the Sm80 forward kernel must give `BlockInfo` the split count.

main a19e1c6f (#2559) made `BlockInfo` read the number of splits from its own `num_splits` field
(or the scheduler's packed `split_idx`); the `num_splits` argument of `get_n_block_min_max` is
shadowed and ignored since. #2348 was written before that and passes the split count only to the
call, so on today's main every split believes there is one split: split 0 does every K block, the
others none. The result is still correct through the combine kernel, the split-KV speed-up is
gone. Git merges this cleanly; nothing but a reading of both sides finds it.
"""

from __future__ import annotations

from pathlib import Path

import libcst as cst

from stacker.cstedit import calls_to, find_definition, keyword, set_keyword
from stacker.plugins import load_stack_module
from stacker.resolution import Resolution, SourceTree, Verdict

_k = load_stack_module(Path(__file__).with_name("_sm80_kernel.py"), namespace="stacker_resolution")

BLOCK_INFO_PATH = "flash_attn/cute/block_info.py"
FIELD = "num_splits"
_SPLIT_ARG_POSITION = 3  # get_n_block_min_max(seqlen, m_block, split_idx, num_splits)


def dataclass_fields(module: cst.Module, name: str) -> list[str] | None:
    """The annotated fields of class `name`, in order (a dataclass's constructor parameters)."""
    cls = find_definition(module, name)
    if not isinstance(cls, cst.ClassDef):
        return None
    return [s.body[0].target.value for s in cls.body.body
            if isinstance(s, cst.SimpleStatementLine) and isinstance(s.body[0], cst.AnnAssign)
            and isinstance(s.body[0].target, cst.Name)]


def split_count(kernel: cst.FunctionDef) -> cst.BaseExpression | None:
    """What the kernel passes as the split count to `get_n_block_min_max`, if anything."""
    for call in calls_to(kernel, "get_n_block_min_max"):
        arg = keyword(call, FIELD)
        if arg is not None:
            return arg.value
        positional = [a for a in call.args if a.keyword is None]
        if len(positional) > _SPLIT_ARG_POSITION:
            return positional[_SPLIT_ARG_POSITION].value
    return None


class BlockInfoNumSplits(Resolution):
    id = "sm80-block-info-num-splits"
    title = "Sm80 forward: pass num_splits to BlockInfo (main moved the split count there)"
    kind = "bug"
    found_in = 2348
    prs = (2348,)
    location = f"{_k.PATH}::{_k.KERNEL}"
    sides = {
        "#2348": "passes the split count to `block_info.get_n_block_min_max(seqlen, m_block, split_idx, num_splits)`",
        "main": "a19e1c6f (#2559) reads it from `BlockInfo.num_splits` (or the packed split_idx); the method's "
                "`num_splits` argument is ignored",
    }
    resolution = "`BlockInfo(..., num_splits=<the split count>)` in the Sm80 kernel, as main's Sm100 forward does"
    backport = "#2348, when rebased onto main >= a19e1c6f: add `num_splits=num_splits` to the `BlockInfo(...)` call"

    def inspect(self, tree: SourceTree) -> Verdict:
        module = tree.module(_k.PATH)
        kernel = find_definition(module, _k.KERNEL) if module is not None else None
        if not isinstance(kernel, cst.FunctionDef):
            return Verdict.absent(f"no `{_k.KERNEL}` in {_k.PATH}")
        count = split_count(kernel)
        if count is None:
            return Verdict.absent("the Sm80 kernel passes no split count to get_n_block_min_max (no split-KV)")
        block_info = tree.module(BLOCK_INFO_PATH)
        fields = dataclass_fields(block_info, "BlockInfo") if block_info is not None else None
        if fields is None or FIELD not in fields:
            return Verdict.absent("BlockInfo has no num_splits field: get_n_block_min_max's argument still counts")
        calls = calls_to(kernel, "BlockInfo")
        if len(calls) != 1:
            return Verdict.absent(f"expected one BlockInfo(...) in the Sm80 kernel, found {len(calls)}")
        call = calls[0]
        positional = [a for a in call.args if a.keyword is None]
        if keyword(call, FIELD) is not None or len(positional) > fields.index(FIELD):
            return Verdict.satisfied("BlockInfo(...) in the Sm80 kernel gets num_splits")
        return Verdict.needed("BlockInfo(...) lacks num_splits, so every split computes its K range as if "
                              "there were one split")

    def rewrite(self, tree: SourceTree) -> None:
        module = tree.module(_k.PATH)
        kernel = find_definition(module, _k.KERNEL)
        call = calls_to(kernel, "BlockInfo")[0]
        fixed = set_keyword(call, FIELD, split_count(kernel).deep_clone())
        tree.write(_k.PATH, module.deep_replace(call, fixed))

"""CW1 — #2348's split-KV epilogue must keep main's O/LSE offsets for the non-split path.

`FlashAttentionForwardBase.epilogue` is shared by the Sm80/SM120 and the SM90 forward. #2348 replaced
main's `seqlen.offset_batch_Q(mO, batch_idx, dim=3, ragged=ragged)` (and the LSE one) with hand-written
indexing so that it can add a split index. That indexing is right for split-KV, but for SM90 varlen
it drops the ragged TMA-O layout: the SM90 varlen forward no longer compiles ("expects coord and shape
of view are weakly congruent"), on #2348's own head too. Textually clean, so git never says a word.
"""

from __future__ import annotations

import libcst as cst

from stacker.cstedit import calls_to, find_definition, keyword, normalized, walk
from stacker.resolution import Resolution, SourceTree, Verdict

FLASH_FWD = "flash_attn/cute/flash_fwd.py"
EPILOGUE = "FlashAttentionForwardBase.epilogue"

NOT_VARLEN = normalized("const_expr(not seqlen.has_cu_seqlens_q)")
SPLIT = normalized("const_expr(self.is_split_kv)")
NOT_SPLIT = "const_expr(not self.is_split_kv)"

# What main computes for the non-split path, per tensor the epilogue selects.
MAIN_OFFSETS = {
    "mLSE_cur": ("mLSE_cur = seqlen.offset_batch_Q(mLSE, batch_idx, dim=2)[None, head_idx]\n",),
    "mO_cur": ("# Non-split: main's offsets, incl. the ragged TMA-O layout SM90 varlen needs.\n"
               "ragged = self.use_tma_O and (seqlen.has_cu_seqlens_q or seqlen.has_seqused_q)\n",
               "mO_cur = seqlen.offset_batch_Q(mO, batch_idx, dim=3, ragged=ragged)[None, None, head_idx]\n"),
}


def _statements(block: cst.BaseSuite) -> list[cst.BaseStatement]:
    return list(block.body) if isinstance(block, cst.IndentedBlock) else []


def _target(statement: cst.BaseStatement) -> str | None:
    if (isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1
            and isinstance(statement.body[0], cst.Assign) and len(statement.body[0].targets) == 1
            and isinstance(statement.body[0].targets[0].target, cst.Name)):
        return statement.body[0].targets[0].target.value
    return None


def _split_choice(statements: list[cst.BaseStatement]) -> tuple[cst.If, str] | None:
    """The trailing `if const_expr(self.is_split_kv): X = ... else: X = ...` of an arm, and X."""
    if not statements or not isinstance(statements[-1], cst.If):
        return None
    last = statements[-1]
    if normalized(last.test) != SPLIT or not isinstance(last.orelse, cst.Else):
        return None
    split, plain = _statements(last.body), _statements(last.orelse.body)
    if len(split) != 1 or len(plain) != 1 or _target(split[0]) is None or _target(split[0]) != _target(plain[0]):
        return None
    return last, _target(split[0])


def pr_shaped(node: cst.CSTNode) -> str | None:
    """X if `node` is #2348's `if const_expr(not seqlen.has_cu_seqlens_q): <split choice of X> else:
    <prefix> <split choice of X>` for a tensor main offsets with `offset_batch_Q`."""
    if not isinstance(node, cst.If) or normalized(node.test) != NOT_VARLEN or not isinstance(node.orelse, cst.Else):
        return None
    first, second = _split_choice(_statements(node.body)), _split_choice(_statements(node.orelse.body))
    if first is None or second is None or first[1] != second[1] or first[1] not in MAIN_OFFSETS:
        return None
    if len(_statements(node.body)) != 1:
        return None
    return first[1]


def _offsets_like_main(statement: cst.CSTNode, target: str) -> bool:
    if _target(statement) != target:
        return False
    calls = calls_to(statement, "offset_batch_Q")
    return bool(calls) and (target != "mO_cur" or keyword(calls[0], "ragged") is not None)


def main_shaped(function: cst.FunctionDef, target: str) -> bool:
    """The non-split path selects `target` with main's `offset_batch_Q` (O: with `ragged=`): either
    unconditionally (main, no split-KV) or under `if const_expr(not self.is_split_kv):`."""
    for node in walk(function.body):
        if isinstance(node, cst.If) and normalized(node.test) == normalized(NOT_SPLIT):
            if any(_offsets_like_main(s, target) for s in _statements(node.body)):
                return True
    split_tests = [n for n in walk(function.body) if isinstance(n, cst.If)
                   and normalized(n.test) in (SPLIT, normalized(NOT_SPLIT))]
    return any(_offsets_like_main(n, target) for n in walk(function.body)
               if not any(n is x for t in split_tests for x in walk(t)))


def restructured(node: cst.If, target: str) -> cst.If:
    """`if not split: <main's offsets> elif not varlen: <#2348's split indexing> else: <its varlen split indexing>`."""
    first, _ = _split_choice(_statements(node.body))
    prefix = _statements(node.orelse.body)[:-1]
    second, _ = _split_choice(_statements(node.orelse.body))
    main = [cst.parse_statement(s) for s in MAIN_OFFSETS[target]]
    varlen_split = cst.Else(body=cst.IndentedBlock(body=[*prefix, *_statements(second.body)]))
    plain_split = cst.If(test=node.test, body=cst.IndentedBlock(body=_statements(first.body)), orelse=varlen_split)
    return cst.If(test=cst.parse_expression(NOT_SPLIT), body=cst.IndentedBlock(body=main), orelse=plain_split,
                  leading_lines=node.leading_lines)


class SplitKvEpilogueMainOffsets(Resolution):
    id = "split-kv-epilogue-main-offsets"
    title = "#2348's split-KV epilogue drops main's ragged O offsets: SM90 varlen stops compiling (CW1)"
    kind = "bug"
    found_in = 2348
    prs = (2348,)
    location = f"{FLASH_FWD}::{EPILOGUE}"
    sides = {
        "main": "the shared epilogue selects O with seqlen.offset_batch_Q(mO, batch_idx, dim=3, ragged=ragged) "
                "(ragged = TMA-O with varlen, SM90) and LSE with offset_batch_Q(mLSE, ..., dim=2)",
        "#2348 (+#2336)": "replaces both with hand-written indexing by has_cu_seqlens_q, each with a nested "
                          "is_split_kv choice adding split_idx; no ragged layout",
    }
    resolution = ("non-split: main's offset_batch_Q (with ragged for O); split-KV: #2348's indexing, i.e. "
                  "`if const_expr(not self.is_split_kv): <main> elif const_expr(not seqlen.has_cu_seqlens_q): "
                  "<#2348 split> else: <#2348 varlen split>`, for LSE and for O")
    backport = "#2348: keep main's offset_batch_Q for the non-split epilogue and branch to its indexing only for split-KV"

    def inspect(self, tree: SourceTree) -> Verdict:
        function = self._epilogue(tree.module(FLASH_FWD))
        if function is None:
            return Verdict.absent(f"no {EPILOGUE} in {FLASH_FWD}")
        wrong = sorted({t for n in walk(function.body) if (t := pr_shaped(n))})
        if wrong:
            return Verdict.needed("non-split " + " and ".join(wrong) + " use #2348's indexing instead of main's "
                                  "offset_batch_Q (SM90 varlen needs its ragged O)")
        like_main = [t for t in MAIN_OFFSETS if main_shaped(function, t)]
        if like_main:
            return Verdict.satisfied("the non-split epilogue selects " + " and ".join(like_main)
                                     + " with main's offset_batch_Q (O: ragged)")
        return Verdict.absent("the epilogue selects O/LSE neither like #2348's head nor like main")

    def rewrite(self, tree: SourceTree) -> None:
        module = tree.module(FLASH_FWD)
        while True:
            function = self._epilogue(module)
            node = next((n for n in walk(function.body) if pr_shaped(n)), None)
            if node is None:
                break
            module = module.deep_replace(node, restructured(node, pr_shaped(node)))
        tree.write(FLASH_FWD, module)

    @staticmethod
    def _epilogue(module: cst.Module | None) -> cst.FunctionDef | None:
        node = find_definition(module, EPILOGUE) if module is not None else None
        return node if isinstance(node, cst.FunctionDef) else None

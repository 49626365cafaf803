"""CW11: `dQ_single_wg = False` set twice in the SM120 backward config (the same fix made twice).

main 2821c89d (#2671) set `dQ_single_wg = False` in `_flash_attn_bwd`'s SM120 branch; #2439 added the
same assignment three lines lower. git merges both copies cleanly. Harmless, but the bundle should
not carry the same fix twice.
"""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from stacker.cstedit import find_definition, statement_code, walk
from stacker.resolution import Resolution, SourceTree, Verdict

INTERFACE = "flash_attn/cute/interface.py"
FUNCTION = "_flash_attn_bwd"

_SM120 = m.If(test=m.Comparison(
    left=m.BinaryOperation(left=m.Name("arch"), operator=m.FloorDivide(), right=m.Integer("10")),
    comparisons=[m.ComparisonTarget(operator=m.Equal(), comparator=m.Integer("12"))]))
_CONSTANT = m.SimpleStatementLine(body=[m.Assign(targets=[m.AssignTarget(m.Name())],
                                                 value=m.Name("True") | m.Name("False") | m.Integer())])


def _branch(tree: SourceTree) -> tuple[cst.Module, cst.If] | tuple[None, None]:
    module = tree.module(INTERFACE)
    function = find_definition(module, FUNCTION) if module else None
    if not isinstance(function, cst.FunctionDef):
        return None, None
    branch = next((n for n in walk(function) if m.matches(n, _SM120)), None)
    return (module, branch) if branch is not None else (None, None)


def _repeats(body) -> list[int]:
    """Indexes of constant assignments that repeat an earlier one with nothing about the name between."""
    out = []
    for i, statement in enumerate(body):
        if not m.matches(statement, _CONSTANT):
            continue
        name = statement.body[0].targets[0].target.value
        for j in range(i - 1, -1, -1):
            earlier = body[j]
            if statement_code(earlier) == statement_code(statement):
                out.append(i)
                break
            if any(isinstance(n, cst.Name) and n.value == name for n in walk(earlier)):
                break
    return out


class Sm120BackwardDuplicate(Resolution):
    id = "sm120-bwd-duplicate-assignment"
    title = "`dQ_single_wg = False` only once in the SM120 backward config"
    kind = "minor"
    prs = (2439,)
    location = f"{INTERFACE}::{FUNCTION}"
    sides = {
        "main (2821c89d #2671)": "sets `dQ_single_wg = False` in the SM120 backward config",
        "#2439": "adds the same assignment a few lines lower (textually clean duplicate)",
    }
    resolution = "keep main's line, drop the repeat"
    backport = "#2439: drop its `dQ_single_wg = False` (main has it)"

    def inspect(self, tree: SourceTree) -> Verdict:
        module, branch = _branch(tree)
        if module is None:
            return Verdict.absent(f"no SM120 branch in {FUNCTION}")
        repeats = _repeats(branch.body.body)
        if repeats:
            names = ", ".join(statement_code(branch.body.body[i]) for i in repeats)
            return Verdict.needed(f"SM120 backward config repeats: {names}")
        return Verdict.satisfied("no assignment repeated in the SM120 backward config")

    def rewrite(self, tree: SourceTree) -> None:
        module, branch = _branch(tree)
        drop = set(_repeats(branch.body.body))
        body = [s for i, s in enumerate(branch.body.body) if i not in drop]
        tree.write(INTERFACE, module.deep_replace(branch, branch.with_changes(body=branch.body.with_changes(body=body))))

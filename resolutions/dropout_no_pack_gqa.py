"""CW10: no Pack-GQA with dropout on the SM80/SM120 forward.

#2439's SM80/SM120 dropout keys its Philox stream on (batch * nheads + head, lane, 16-row group,
32-column group) of the *unpacked* forward tile, and the backward (always unpacked) regenerates the
mask the same way. #2439 was written when the Sm80 forward ran GQA unpacked; main 80b79f0b (#2656)
made Pack-GQA effective on that path, where `head` is the kv-head and rows are packed (q-head,
seqlen) pairs. Merged textually cleanly, GQA/MQA + dropout would then draw different masks in the
forward and the backward: silently wrong gradients.
"""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from stacker.cstedit import find_definition, param_names, statement_position, statements, walk, with_block_body
from stacker.resolution import Resolution, SourceTree, Verdict

INTERFACE = "flash_attn/cute/interface.py"
FUNCTION = "_flash_attn_fwd"
GUARD = """\
if dropout_p > 0.0 and arch // 10 in [8, 12]:
    # #2439's SM80/SM120 dropout keys its Philox stream on (batch, q-head, 16-row group)
    # of the unpacked layout, which the backward (always unpacked) regenerates; Pack-GQA
    # on the Sm80 path (main 80b79f0b) would key it on packed rows / kv-heads instead.
    pack_gqa = False
"""

_DEFAULT = m.If(test=m.Comparison(left=m.Name("pack_gqa"), comparisons=[m.ComparisonTarget(
    operator=m.Is(), comparator=m.Name("None"))]))
_OFF = m.SimpleStatementLine(body=[m.Assign(targets=[m.AssignTarget(m.Name("pack_gqa"))], value=m.Name("False"))])


def _is_guard(node: cst.CSTNode) -> bool:
    return isinstance(node, cst.If) and any(isinstance(n, cst.Name) and n.value == "dropout_p"
                                            for n in walk(node.test)) and \
        any(m.matches(s, _OFF) for s in node.body.body)


def _reads_pack_gqa(node: cst.CSTNode) -> bool:
    return any(isinstance(n, cst.Name) and n.value == "pack_gqa" for n in walk(node))


class DropoutNoPackGqa(Resolution):
    id = "dropout-no-pack-gqa"
    title = "No Pack-GQA with dropout on the SM80/SM120 forward (the dropout mask is keyed on the unpacked layout)"
    kind = "conflict"
    prs = (2439,)
    location = f"{INTERFACE}::{FUNCTION}"
    sides = {
        "main (80b79f0b #2656)": "Pack-GQA on the SM80/SM120 forward (`pack_gqa` defaults to `qhead_per_kvhead > 1`)",
        "#2439": "dropout masks keyed on (batch*nheads+head, lane, 16-row group, 32-col group) of the unpacked "
                 "forward tile, regenerated unpacked by the backward",
    }
    resolution = ("`pack_gqa = False` when `dropout_p > 0` on arch 8.x/12.x, right after `pack_gqa`'s default and "
                  "before anything reads it")
    backport = "#2439: key the SM80/SM120 dropout mask on unpacked coordinates under Pack-GQA, or refuse the combination"

    def _place(self, tree: SourceTree):
        module = tree.module(INTERFACE)
        function = find_definition(module, FUNCTION) if module else None
        if not isinstance(function, cst.FunctionDef) or "dropout_p" not in param_names(function):
            return None, None, None, f"no `dropout_p` in {FUNCTION}"
        default = next((n for n in walk(function) if m.matches(n, _DEFAULT)), None)
        if default is None:
            return None, None, None, f"{FUNCTION} has no `if pack_gqa is None:` default (no Pack-GQA choice)"
        return module, function, default, ""

    def inspect(self, tree: SourceTree) -> Verdict:
        module, function, default, why = self._place(tree)
        if module is None:
            return Verdict.absent(why)
        block, index = statement_position(function, default)
        for statement in block.body[index + 1:]:
            if _is_guard(statement):
                return Verdict.satisfied("Pack-GQA is off with dropout on arch 8.x/12.x before it is used")
            if _reads_pack_gqa(statement):
                break
        return Verdict.needed("Pack-GQA stays on for GQA + dropout on the SM80/SM120 forward")

    def rewrite(self, tree: SourceTree) -> None:
        module, function, default, _ = self._place(tree)
        block, index = statement_position(function, default)
        assigned_before = {n.target.value for s in block.body[:index] for n in walk(s)
                           if isinstance(n, cst.AssignTarget) and isinstance(n.target, cst.Name)}
        if "arch" not in assigned_before and "arch" not in param_names(function):
            raise ValueError(f"`arch` is not known where {FUNCTION} defaults pack_gqa")
        body = list(block.body)
        body.insert(index + 1, statements(GUARD)[0])
        tree.write(INTERFACE, module.deep_replace(function, with_block_body(function, block, body)))

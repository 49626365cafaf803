"""D6 (+ CW15's forward half): `p_dropout` reaches only the SM100 class that takes it.

main (a19e1c6f) builds one `fa_fwd_kwargs = dict(...)` for two classes: `FlashAttentionForwardSm100` and
the dedicated head_dim=256 kernel `BlackwellFusedMultiHeadAttentionForward`, whose `__init__` has no
`p_dropout`. #2439 added `p_dropout=dropout_p` where the dict stands today. The union of both sides
puts it in the shared dict, and every head_dim=256 call then fails with "unexpected keyword argument
'p_dropout'". The kwarg belongs in main's own `if not use_dedicated_hd256_kernel:` block, and the hd256
path refuses dropout like its other unsupported features.
"""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from stacker.cstedit import (
    code,
    find_definition,
    keyword,
    param_names,
    remove_keyword,
    statement_position,
    statements,
    walk,
    with_block_body,
)
from stacker.resolution import ConflictContext, Resolution, SourceTree, Verdict

INTERFACE = "flash_attn/cute/interface.py"
FUNCTION = "_flash_attn_fwd"
KWARGS = "fa_fwd_kwargs"
HD256 = "use_dedicated_hd256_kernel"
ASSERT = 'assert dropout_p == 0.0, "SM100 forward with head_dim=256 does not support dropout"\n'
KWARG_LINE = f'{KWARGS}["p_dropout"] = dropout_p\n'


def _kwargs_dict(function: cst.FunctionDef) -> cst.SimpleStatementLine | None:
    for node in walk(function):
        if m.matches(node, m.SimpleStatementLine(body=[m.Assign(targets=[m.AssignTarget(m.Name(KWARGS))],
                                                                   value=m.Call(func=m.Name("dict")))])):
            return node
    return None


def _is_guard(node: cst.CSTNode, negated: bool) -> bool:
    test = m.UnaryOperation(operator=m.Not(), expression=m.Name(HD256)) if negated else m.Name(HD256)
    return m.matches(node, m.If(test=test))


def _sets_p_dropout(node: cst.CSTNode) -> bool:
    return m.matches(node, m.SimpleStatementLine(body=[m.Assign(targets=[m.AssignTarget(
        m.Subscript(value=m.Name(KWARGS), slice=[m.SubscriptElement(m.Index(m.SimpleString()))]))])])) and \
        "p_dropout" in code(node.body[0].targets[0].target)


def _refuses_dropout(node: cst.CSTNode) -> bool:
    return m.matches(node, m.SimpleStatementLine(body=[m.Assert(test=m.Comparison(left=m.Name("dropout_p")))]))


class Sm100DropoutKwarg(Resolution):
    id = "sm100-dropout-kwarg"
    title = "`p_dropout` only for `FlashAttentionForwardSm100`, not the shared SM100 kwargs dict"
    kind = "conflict"
    prs = (2439,)
    location = f"{INTERFACE}::{FUNCTION}"
    sides = {
        "main (a19e1c6f #2559)": "built the SM100 constructor arguments as one `fa_fwd_kwargs = dict(...)` shared by "
                                 "`FlashAttentionForwardSm100` and the head_dim=256 "
                                 "`BlackwellFusedMultiHeadAttentionForward` (added `seqlen_k_per_split=` to it)",
        "#2439": "passed `p_dropout=dropout_p` to the SM100 constructor, at the place of today's dict",
    }
    resolution = (f"not in the dict: `{KWARGS}[\"p_dropout\"] = dropout_p` inside the following "
                  f"`if not {HD256}:` block; the hd256 path asserts `dropout_p == 0.0` beside its other "
                  "unsupported features")
    backport = "#2439: set p_dropout only for FlashAttentionForwardSm100 and refuse dropout for head_dim=256"

    def claim(self, conflict: ConflictContext) -> str | None:
        hunk = conflict.hunk
        if conflict.qualname != FUNCTION or hunk.base or hunk.theirs.strip() != "p_dropout=dropout_p,":
            return None
        inside = {line.strip() for line in self._dict_text(conflict.views[1]).splitlines()}
        if not hunk.ours.strip() or not all(line.strip() in inside for line in hunk.ours.splitlines()):
            return None
        return hunk.ours  # the transform puts p_dropout where only the Sm100 class sees it

    @staticmethod
    def _dict_text(source: str) -> str:
        try:
            module = cst.parse_module(source)
        except cst.ParserSyntaxError:
            return ""
        function = find_definition(module, FUNCTION)
        found = _kwargs_dict(function) if isinstance(function, cst.FunctionDef) else None
        return module.code_for_node(found) if found is not None else ""

    def _parts(self, tree: SourceTree):
        module = tree.module(INTERFACE)
        function = find_definition(module, FUNCTION) if module else None
        if not isinstance(function, cst.FunctionDef) or "dropout_p" not in param_names(function):
            return None, None, None, "no `dropout_p` in _flash_attn_fwd"
        assign = _kwargs_dict(function)
        if assign is None:
            return None, None, None, f"no shared `{KWARGS} = dict(...)` in _flash_attn_fwd"
        if not any(isinstance(n, cst.Name) and n.value == HD256 for n in walk(function)):
            return None, None, None, f"no `{HD256}`: the SM100 kwargs are not shared with a head_dim=256 kernel"
        return module, function, assign, ""

    def inspect(self, tree: SourceTree) -> Verdict:
        module, function, assign, why = self._parts(tree)
        if module is None:
            return Verdict.absent(why)
        problems = []
        if keyword(assign.body[0].value, "p_dropout") is not None:
            problems.append(f"`p_dropout` is in the shared `{KWARGS}` dict")
        block, index = statement_position(function, assign)
        after = block.body[index + 1:]
        guarded = [s for s in after if _is_guard(s, negated=True) and any(_sets_p_dropout(x) for x in s.body.body)]
        if not guarded:
            problems.append(f"no `{KWARGS}[\"p_dropout\"] = dropout_p` under `if not {HD256}:`")
        hd256 = [s for s in block.body[:index] if _is_guard(s, negated=False)]
        if hd256 and not any(_refuses_dropout(x) for x in hd256[-1].body.body):
            problems.append("the head_dim=256 path does not refuse dropout")
        if problems:
            return Verdict.needed("; ".join(problems))
        return Verdict.satisfied(f"p_dropout is set under `if not {HD256}:` only, and head_dim=256 refuses dropout")

    def rewrite(self, tree: SourceTree) -> None:
        module, function, assign, _ = self._parts(tree)
        call = assign.body[0].value
        new_assign = assign.deep_replace(call, remove_keyword(call, "p_dropout"))
        new_function = function.deep_replace(assign, new_assign)
        block, index = statement_position(new_function, new_assign)
        body = list(block.body)
        # p_dropout under main's `if not use_dedicated_hd256_kernel:` after the dict (or a new one)
        following = next((i for i in range(index + 1, len(body)) if _is_guard(body[i], negated=True)), None)
        setter = statements(KWARG_LINE)[0].with_changes(leading_lines=[cst.EmptyLine(comment=cst.Comment(
            "# #2439: only FlashAttentionForwardSm100 takes p_dropout (hd256 asserts 0 above)"))])
        if following is not None and not any(_sets_p_dropout(x) for x in body[following].body.body):
            guard = body[following]
            body[following] = guard.with_changes(body=guard.body.with_changes(body=[*guard.body.body, setter]))
        elif following is None:
            guard = statements(f"if not {HD256}:\n    pass\n")[0]
            body.insert(index + 1, guard.with_changes(body=guard.body.with_changes(body=[setter])))
        # the hd256 path refuses dropout, after its other asserts
        hd256 = [i for i in range(index) if _is_guard(body[i], negated=False)]
        if hd256 and not any(_refuses_dropout(x) for x in body[hd256[-1]].body.body):
            guard = body[hd256[-1]]
            inner = list(guard.body.body)
            last_assert = max((i for i, s in enumerate(inner) if m.matches(s, m.SimpleStatementLine(
                body=[m.Assert()]))), default=-1)
            inner.insert(last_assert + 1, statements(ASSERT)[0])
            body[hd256[-1]] = guard.with_changes(body=guard.body.with_changes(body=inner))
        new_function = with_block_body(new_function, block, body)
        tree.write(INTERFACE, module.deep_replace(function, new_function))

"""Shapes of FA4's `FlashAttentionForwardSm80.kernel` that this bundle's Sm80 resolutions share.

The kernel ends in one flow: prologue (Q load, K/V prefetch) -> mainloop -> finalize -> epilogue.
Two PRs reshape that flow: #2348 (split-KV / paged KV) puts it under a *runtime* gate
`if n_block_max > n_block_min:` so a split with no K blocks skips its tile, and #2389
(block sparsity) forks parts of it on a *compile-time* switch `if const_expr(self.use_block_sparsity):`.
The CuTe DSL decides `const_expr` tests while tracing and turns every other `if` into staged
control flow whose joins need type-stable locals; that difference is what the resolutions here
are about. Helpers only: no `Resolution` subclass lives in this module.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

import libcst as cst

from stacker.cstedit import code, find_definition
from stacker.cstnames import read_names

PATH = "flash_attn/cute/flash_fwd.py"
KERNEL = "FlashAttentionForwardSm80.kernel"
EPILOGUE = "epilogue"  # the kernel's epilogue is `self.epilogue(...)`: it ends every flow


# --- tests of `if` statements ------------------------------------------------------------------

def const_expr_arg(test: cst.BaseExpression) -> cst.BaseExpression | None:
    """X for a test `const_expr(X)` / `cutlass.const_expr(X)`, else None."""
    if isinstance(test, cst.Call) and len(test.args) == 1 and test.args[0].keyword is None:
        func = test.func
        name = func.value if isinstance(func, cst.Name) else func.attr.value if isinstance(func, cst.Attribute) else ""
        if name == "const_expr":
            return test.args[0].value
    return None


def is_runtime_if(node: cst.CSTNode) -> bool:
    return isinstance(node, cst.If) and const_expr_arg(node.test) is None


def mentions_block_sparsity(expr: cst.BaseExpression) -> bool:
    text = code(expr)
    return "sparsity" in text or "blocksparse" in text


def negated(expr: cst.BaseExpression) -> cst.BaseExpression:
    """`not expr`, written the way a person would (`a is None` for `a is not None`)."""
    if isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, cst.Not):
        return expr.expression.with_changes(lpar=(), rpar=())
    if isinstance(expr, cst.Comparison) and len(expr.comparisons) == 1:
        target = expr.comparisons[0]
        flip = {cst.Is: cst.IsNot, cst.IsNot: cst.Is, cst.In: cst.NotIn, cst.NotIn: cst.In}
        if type(target.operator) in flip:
            op = flip[type(target.operator)]()
            return expr.with_changes(comparisons=[target.with_changes(operator=op)])
    if isinstance(expr, (cst.Name, cst.Attribute, cst.Call, cst.Subscript)):
        return cst.UnaryOperation(operator=cst.Not(), expression=expr)
    return cst.UnaryOperation(operator=cst.Not(), expression=expr.with_changes(
        lpar=[cst.LeftParen()], rpar=[cst.RightParen()]))


def switch_value(test: cst.BaseExpression, switch: str) -> bool | None:
    """True / False if `test` is `const_expr(switch)` / `const_expr(not switch)`, else None."""
    arg = const_expr_arg(test)
    if arg is None:
        return None
    if code(arg) == switch:
        return True
    if code(negated(arg)) == switch:
        return False
    return None


def calls_method(node: cst.CSTNode, method: str) -> bool:
    """Whether `self.<method>(...)` is called anywhere under `node`."""
    stack = [node]
    while stack:
        current = stack.pop()
        if (isinstance(current, cst.Call) and isinstance(current.func, cst.Attribute)
                and isinstance(current.func.value, cst.Name) and current.func.value.value == "self"
                and current.func.attr.value == method):
            return True
        stack.extend(current.children)
    return False


# --- statements as comparable units ----------------------------------------------------------------

def statement_key(statement: cst.BaseStatement) -> str:
    """A statement's code without the comments and blank lines above it, blank lines and trailing
    spaces dropped: two versions with the same key differ only in the comment block above."""
    text = code(statement.with_changes(leading_lines=()))
    return "\n".join(line.rstrip() for line in text.splitlines() if line.strip())


def leading_key(statement: cst.BaseStatement) -> tuple[str, ...]:
    return tuple(line.comment.value.rstrip() for line in statement.leading_lines if line.comment is not None)


def kernel_body(module: cst.Module) -> list[cst.BaseStatement] | None:
    kernel = find_definition(module, KERNEL)
    if not isinstance(kernel, cst.FunctionDef) or not isinstance(kernel.body, cst.IndentedBlock):
        return None
    return list(kernel.body.body)


def without_leading_blank(statements: Sequence[cst.BaseStatement]) -> list[cst.BaseStatement]:
    """The statements with blank lines above the first one removed (it opens a new block)."""
    out = list(statements)
    if out:
        lines = list(out[0].leading_lines)
        while lines and lines[0].comment is None:
            lines.pop(0)
        out[0] = out[0].with_changes(leading_lines=lines)
    return out


def comment_lines(text: str) -> list[cst.EmptyLine]:
    return [cst.EmptyLine(comment=cst.Comment("# " + line if line else "#")) for line in text.splitlines()]


def wrap(words: Sequence[str], width: int = 88, first: str = "") -> str:
    """Words joined by spaces into lines of at most `width` characters (a comment body)."""
    lines, line = [], first
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    if line:
        lines.append(line)
    return "\n".join(lines)


# --- the compile-time switch, resolved ---------------------------------------------------------------

@dataclass(frozen=True)
class Specialized:
    """Statements with a compile-time switch decided; `from_branch[i]` says whether statement i came
    out of one of the switch's branches (rather than the code shared by both settings)."""

    statements: list[cst.BaseStatement]
    from_branch: list[bool]


class _Decide(cst.CSTTransformer):
    """Replaces every nested `if const_expr(switch)` by the branch `value` selects."""

    def __init__(self, switch: str, value: bool) -> None:
        self.switch, self.value = switch, value

    def leave_If(self, original_node: cst.If, updated_node: cst.If):
        branch = _branch(updated_node, self.switch, self.value)
        if branch is None:
            return updated_node
        return cst.FlattenSentinel(branch) if branch else cst.RemoveFromParent()


def _branch(node: cst.If, switch: str, value: bool) -> list[cst.BaseStatement] | None:
    """The statements that replace `node` once `switch` is known, or None if it tests something else."""
    decided = switch_value(node.test, switch)
    if decided is None:
        return None
    if decided == value:
        return list(node.body.body)
    if node.orelse is None:
        return []
    if isinstance(node.orelse, cst.If):  # elif: the rest of the chain stays an `if`
        return [node.orelse]
    return list(node.orelse.body.body)


def specialize(statements: Sequence[cst.BaseStatement], switch: str, value: bool) -> Specialized:
    """The statements as they run when `const_expr(switch)` is `value`. The comments above a
    top-level switch go with its `else` side: a PR that wraps existing code in
    `if const_expr(new): ... else: <old code>` leaves the old code's comment above the `if`."""
    out: list[cst.BaseStatement] = []
    origin: list[bool] = []
    for statement in statements:
        branch = _branch(statement, switch, value) if isinstance(statement, cst.If) else None
        if branch is None:
            out.append(statement.visit(_Decide(switch, value)))
            origin.append(False)
            continue
        branch = [s.visit(_Decide(switch, value)) for s in branch]
        if branch and not value:
            branch[0] = branch[0].with_changes(
                leading_lines=[*statement.leading_lines, *branch[0].leading_lines])
        out.extend(branch)
        origin.extend([True] * len(branch))
    return Specialized(out, origin)


def drop_unused_defs(statements: Sequence[cst.BaseStatement]) -> list[cst.BaseStatement]:
    """The statements without nested `def`s that nothing after them calls (a flow that lost the
    code using a helper loses the helper too)."""
    out = list(statements)
    for index in range(len(out) - 1, -1, -1):
        statement = out[index]
        if isinstance(statement, cst.FunctionDef) and statement.name.value not in read_names(out[index + 1:]):
            del out[index]
    return out


# --- three-way merge of statement lists ---------------------------------------------------------------

Resolver = Callable[[list[cst.BaseStatement], list[cst.BaseStatement], list[cst.BaseStatement], range],
                    list[cst.BaseStatement] | None]


@dataclass(frozen=True)
class _Hunk:
    i1: int
    i2: int
    j1: int
    j2: int


def _head(key: str) -> str:
    """What a statement is about, before its arguments: `x = f`, `for i in range`, `self.epilogue`."""
    return key.split("\n", 1)[0].split("(", 1)[0]


def _hunks(a: list[str], b: list[str]) -> list[_Hunk]:
    """The changed stretches from `a` to `b`. A replaced stretch is split further where statements
    keep their head (`scale = ...` edited in place beside a replaced loop is its own change)."""
    hunks: list[_Hunk] = []
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        if tag != "replace":
            hunks.append(_Hunk(i1, i2, j1, j2))
            continue
        heads = SequenceMatcher(None, [_head(k) for k in a[i1:i2]], [_head(k) for k in b[j1:j2]], autojunk=False)
        for sub, x1, x2, y1, y2 in heads.get_opcodes():
            if sub == "equal":
                hunks += [_Hunk(i1 + x1 + n, i1 + x1 + n + 1, j1 + y1 + n, j1 + y1 + n + 1) for n in range(x2 - x1)]
            else:
                hunks.append(_Hunk(i1 + x1, i1 + x2, j1 + y1, j1 + y2))
    return hunks


def _overlap(a: _Hunk, b: _Hunk) -> bool:
    """Whether two changes touch the same statements (an insertion conflicts with an insertion at
    the same place or with a change around its place; changes to neighbouring statements do not)."""
    if a.i1 == a.i2 and b.i1 == b.i2:
        return a.i1 == b.i1
    if a.i1 == a.i2:
        return b.i1 < a.i1 < b.i2
    if b.i1 == b.i2:
        return a.i1 < b.i1 < a.i2
    return a.i1 < b.i2 and b.i1 < a.i2


def merge_statements(base: Sequence[cst.BaseStatement], ours: Sequence[cst.BaseStatement],
                     theirs: Sequence[cst.BaseStatement], resolve: Resolver | None) -> list[cst.BaseStatement] | None:
    """diff3 on statements (compared by `statement_key`): a stretch only one side changed takes that
    side's statements; a stretch both changed goes to `resolve(base, ours, theirs, theirs_range)`,
    and None from it (or no resolver) makes the whole merge None. A statement no side changed keeps
    ours' node, with theirs' comment block above it where only theirs changed that."""
    kb, ko, kt = ([statement_key(s) for s in side] for side in (base, ours, theirs))
    tagged = sorted([(h, "o") for h in _hunks(kb, ko)] + [(h, "t") for h in _hunks(kb, kt)],
                    key=lambda item: (item[0].i1, item[0].i2))
    regions: list[list[tuple[_Hunk, str]]] = []
    for hunk, side in tagged:
        if regions and any(_overlap(hunk, h) for h, _ in regions[-1]):
            regions[-1].append((hunk, side))
        else:
            regions.append([(hunk, side)])
    out: list[cst.BaseStatement] = []
    position, off_o, off_t = 0, 0, 0
    for region in regions:
        lo = min(h.i1 for h, _ in region)
        hi = max(h.i2 for h, _ in region)
        for q in range(position, lo):
            out.append(_unchanged(base[q], ours[q + off_o], theirs[q + off_t]))
        o_lo, o_hi = _side_range([h for h, s in region if s == "o"], lo, hi, off_o)
        t_lo, t_hi = _side_range([h for h, s in region if s == "t"], lo, hi, off_t)
        sides = {s for _, s in region}
        if sides == {"o"}:
            out.extend(_with_comments(base[lo:hi], ours[o_lo:o_hi], theirs[t_lo:t_hi]))
        elif sides == {"t"}:
            out.extend(_with_comments(base[lo:hi], theirs[t_lo:t_hi], ours[o_lo:o_hi]))
        elif ko[o_lo:o_hi] == kt[t_lo:t_hi]:  # the same change on both sides
            out.extend(ours[o_lo:o_hi])
        else:
            merged = resolve(list(base[lo:hi]), list(ours[o_lo:o_hi]), list(theirs[t_lo:t_hi]),
                             range(t_lo, t_hi)) if resolve else None
            if merged is None:
                return None
            out.extend(merged)
        position, off_o, off_t = hi, o_hi - hi, t_hi - hi
    for q in range(position, len(base)):
        out.append(_unchanged(base[q], ours[q + off_o], theirs[q + off_t]))
    return out


def _side_range(hunks: list[_Hunk], lo: int, hi: int, offset: int) -> tuple[int, int]:
    if not hunks:
        return lo + offset, hi + offset
    first, last = min(hunks, key=lambda h: h.i1), max(hunks, key=lambda h: h.i2)
    return first.j1 - (first.i1 - lo), last.j2 + (hi - last.i2)


def _unchanged(base: cst.BaseStatement, ours: cst.BaseStatement, theirs: cst.BaseStatement) -> cst.BaseStatement:
    return _with_comments([base], [ours], [theirs])[0]


def _with_comments(base: Sequence[cst.BaseStatement], chosen: Sequence[cst.BaseStatement],
                   other: Sequence[cst.BaseStatement]) -> list[cst.BaseStatement]:
    """`chosen` (the side whose code wins here), with the other side's comment block above a
    statement where only the other side changed that block. Statements pair up by position when
    the stretch kept its length (an in-place edit); otherwise `chosen` stays as it is."""
    if not (len(base) == len(chosen) == len(other)):
        return list(chosen)
    out = []
    for b, c, o in zip(base, chosen, other, strict=True):
        if leading_key(o) != leading_key(b) and leading_key(c) == leading_key(b):
            c = c.with_changes(leading_lines=o.leading_lines)
        out.append(c)
    return out


# --- #2348's runtime gate around the epilogue -------------------------------------------------------------

def epilogue_gates(body: Sequence[cst.BaseStatement]) -> list[tuple[tuple[int, ...], cst.If]]:
    """Runtime `if`s (no else) whose body calls the epilogue: at the kernel's top level or directly
    inside a top-level `if const_expr(...)`. Each with its path: (index,) at the top level,
    (outer index, inner index) inside a compile-time `if`'s body."""
    found: list[tuple[tuple[int, ...], cst.If]] = []
    for i, statement in enumerate(body):
        if is_gate(statement):
            found.append(((i,), statement))
        elif isinstance(statement, cst.If) and const_expr_arg(statement.test) is not None:
            for j, inner in enumerate(statement.body.body):
                if is_gate(inner):
                    found.append(((i, j), inner))
    return found


def is_gate(statement: cst.CSTNode) -> bool:
    return is_runtime_if(statement) and statement.orelse is None and calls_method(statement.body, EPILOGUE)

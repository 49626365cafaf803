"""D5: the autograd `backward`s return one gradient per `forward` input, after #2439 added two inputs.

`torch.autograd.Function.backward` must return at least as many values as `forward` took inputs
(`ctx` aside): too few raises "returned an incorrect number of gradients" at the first backward.
#2439 added `dropout_p, dropout_seed` to `FlashAttnFunc.forward` / `FlashAttnVarlenFunc.forward` and
relied on the old "`*((None,) * 30)`, extra Nones is fine" idiom; main (445c6415, d3503144) since
restructured `backward` and returns exact counts. A textual union of both sides therefore returns
two values too few. The conflict hunks themselves (main's new branches vs #2439's new keyword
arguments on `_flash_attn_bwd(...)`) are mechanical: #2439's keywords go to main's call.
"""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from stacker.cstedit import add_keywords, find_definition, keywords_added, parse_statements, walk
from stacker.hunks import dedent_block, indent_block
from stacker.resolution import ConflictContext, Resolution, SourceTree, Verdict

INTERFACE = "flash_attn/cute/interface.py"
FUNCTIONS = ("FlashAttnFunc", "FlashAttnVarlenFunc")


class AutogradGradientCount(Resolution):
    id = "autograd-gradient-count"
    title = "Autograd `backward` returns a gradient for each of #2439's new `forward` inputs"
    kind = "conflict"
    prs = (2439,)
    location = f"{INTERFACE}::FlashAttnFunc.backward"
    also_at = (f"{INTERFACE}::FlashAttnVarlenFunc.backward",)
    sides = {
        "main (445c6415 #2621, d3503144 #2706)": "split `backward` into a sparse-MLA branch and a `_flash_attn_bwd` "
                                                 "branch with learnable-sink gradients, returning exactly as many "
                                                 "values as `forward` has inputs",
        "#2439": "added `dropout_p, dropout_seed` inputs to `forward` and passed `dropout_p=ctx.dropout_p, "
                 "dropout_seed=ctx.dropout_seed` to `_flash_attn_bwd(...)`, returning `*((None,) * 30)`",
    }
    resolution = ("main's `backward` with #2439's two keyword arguments on its `_flash_attn_bwd(...)` call; every "
                  "`return` padded with `None`s up to the number of `forward` inputs (the last `*((None,) * k)` "
                  "grows by the deficit)")
    backport = "#2439: rebase on main's `backward` and count its gradients (two more `None`s per return)"

    # -- claim: #2439's keyword arguments onto main's restructured call --------------------------------
    def claim(self, conflict: ConflictContext) -> str | None:
        hunk = conflict.hunk
        indent, base_src = dedent_block(hunk.base)
        _, theirs_src = dedent_block(hunk.theirs)
        ours_indent, ours_src = dedent_block(hunk.ours)
        base, theirs, ours = (parse_statements(s) for s in (base_src, theirs_src, ours_src))
        if base is None or theirs is None or ours is None or indent != ours_indent:
            return None
        added = keywords_added(base, theirs)
        if not added:
            return None
        for callee, args in added:
            ours = add_keywords(ours, callee, args)
            if ours is None:
                return None
        return indent_block(ours.code, indent)

    # -- transform: the count -----------------------------------------------------------------------
    def inspect(self, tree: SourceTree) -> Verdict:
        module = tree.module(INTERFACE)
        counts = [_shortfall(module, name) for name in FUNCTIONS] if module else []
        found = [c for c in counts if c is not None]
        if not found:
            return Verdict.absent("no autograd Function with `forward`/`backward` found")
        short = [f"{name}.backward returns {got} values where forward takes {want} inputs"
                 for name, want, got in found if got < want]
        if short:
            return Verdict.needed("; ".join(short))
        return Verdict.satisfied("; ".join(f"{name}.backward returns at least {want} values" for name, want, _ in found))

    def rewrite(self, tree: SourceTree) -> None:
        module = tree.module(INTERFACE)
        for name in FUNCTIONS:
            found = _shortfall(module, name)
            if found is None or found[2] >= found[1]:
                continue
            backward = find_definition(module, f"{name}.backward")
            module = module.deep_replace(backward, backward.visit(_PadReturns(found[1])))
        tree.write(INTERFACE, module)


def _none_repeat(node: cst.BaseExpression) -> int | None:
    """k for `(None,) * k` (parentheses allowed), else None."""
    if m.matches(node, m.BinaryOperation(left=m.Tuple(elements=[m.ZeroOrMore(m.Element(m.Name("None")))]),
                                         operator=m.Multiply(), right=m.Integer())):
        return len(node.left.elements) * int(node.right.value)
    return None


def _length(value: cst.BaseExpression | None) -> int | None:
    """How many values a `return` yields, when that can be counted statically."""
    if not isinstance(value, cst.Tuple):
        return None
    total = 0
    for element in value.elements:
        if isinstance(element, cst.StarredElement):
            k = _none_repeat(element.value)
            if k is None:
                return None
            total += k
        else:
            total += 1
    return total


def _returns(function: cst.FunctionDef) -> list[cst.Return]:
    """The function's own returns (not those of functions nested in it)."""
    nested = [n for n in walk(function.body) if isinstance(n, (cst.FunctionDef, cst.Lambda))]
    inner = {id(x) for f in nested for x in walk(f)}
    return [n for n in walk(function.body) if isinstance(n, cst.Return) and id(n) not in inner]


def _shortfall(module: cst.Module, name: str) -> tuple[str, int, int] | None:
    """(name, forward inputs, fewest values any counted return yields), or None if not found."""
    forward = find_definition(module, f"{name}.forward")
    backward = find_definition(module, f"{name}.backward")
    if not isinstance(forward, cst.FunctionDef) or not isinstance(backward, cst.FunctionDef):
        return None
    p = forward.params
    inputs = len(p.posonly_params) + len(p.params) + len(p.kwonly_params) - 1  # ctx
    lengths = [n for n in (_length(r.value) for r in _returns(backward)) if n is not None]
    if not lengths:
        return None
    return name, inputs, min(lengths)


class _PadReturns(cst.CSTTransformer):
    def __init__(self, wanted: int) -> None:
        self.wanted = wanted
        self.depth = 0

    def visit_FunctionDef(self, node):
        self.depth += 1

    def leave_FunctionDef(self, original_node, updated_node):
        self.depth -= 1
        return updated_node

    def leave_Return(self, original_node, updated_node):
        if self.depth > 1:  # a nested function's return
            return updated_node
        have = _length(updated_node.value)
        if have is None or have >= self.wanted:
            return updated_node
        deficit = self.wanted - have
        elements = list(updated_node.value.elements)
        for i in range(len(elements) - 1, -1, -1):
            element = elements[i]
            if isinstance(element, cst.StarredElement) and _none_repeat(element.value) is not None:
                value = element.value
                k = int(value.right.value) + deficit // len(value.left.elements)
                if deficit % len(value.left.elements) == 0:
                    elements[i] = element.with_changes(value=value.with_changes(right=cst.Integer(str(k))))
                    return updated_node.with_changes(value=updated_node.value.with_changes(elements=elements))
        last = elements[-1].with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
        pad = cst.parse_expression(f"(*((None,) * {deficit}),)").elements[0]
        elements = elements[:-1] + [last, pad.with_changes(comma=cst.MaybeSentinel.DEFAULT)]
        return updated_node.with_changes(value=updated_node.value.with_changes(elements=elements))

"""The node-wise merge: descend the three versions of a node to where the sides' changes are.

Every node type the merge understands has a `Shape`: which of its fields are *sequences*
(merged element-wise by `kinds`), which are *transparent* (a single child the merge descends
into, like a call's callee or an assignment's value), and the rest, its *identity* (a function's
name, an `if`'s test, whitespace): identity must be the same on both sides, or the node is left
to a human. Descending a transparent child never takes one side's version wholesale unless that
side changed only sequences inside it (`self.kernel(a).launch(...)` with an argument added to
`kernel(...)` is fine; `foo(...)` renamed to `bar(...)` while the other side added an argument
is not: the new callee may not take it).

The merge does not build new trees. It answers with text edits on our and their version of the
region such that, where it succeeded, both read the same; git's line merge of the edited
versions then sees no conflict there. Where it did not, the text stays as it was.
"""

from __future__ import annotations

import ast
import dataclasses
import io
import tokenize
from collections.abc import Callable
from dataclasses import dataclass, field

import libcst as cst

from stacker.structural.effects import Scope, closure_names
from stacker.structural.result import Refusal, StructuralMerge
from stacker.structural.snippet import Snippet, code_of


@dataclass(frozen=True)
class Edit:
    start: int
    end: int
    text: str


@dataclass
class Outcome:
    """What merging one node gave: `ok` when our and their version now read the same."""

    ok: bool = True
    edits: dict[str, list[Edit]] = field(default_factory=lambda: {"ours": [], "theirs": []})
    merges: list[StructuralMerge] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)

    def absorb(self, other: Outcome) -> Outcome:
        self.ok = self.ok and other.ok
        for side in ("ours", "theirs"):
            self.edits[side].extend(other.edits[side])
        self.merges.extend(other.merges)
        self.refusals.extend(other.refusals)
        return self


def refuse(ctx: Ctx, reason: str) -> Outcome:
    return Outcome(ok=False, refusals=[Refusal(ctx.qualname, reason)])


@dataclass(frozen=True)
class Ctx:
    """Where the merge is: the parsed region of each version, and the enclosing definition."""

    snippets: dict[str, Snippet]
    qualname: str
    scope: Scope
    closure: Callable[[], frozenset[str]] = frozenset  # names nested functions read (computed on demand)
    stack_order: bool = True  # both sides' insertions where any order is right: ours first
    # Whether a statement's code occurs in the file outside the region (a copy moved there).
    elsewhere: Callable[[str], bool] = lambda code: False

    def code(self, side: str, node: cst.CSTNode) -> str:
        return self.snippets[side].code(node)

    def span(self, side: str, node: cst.CSTNode) -> tuple[int, int]:
        return self.snippets[side].span(node)

    def text(self, side: str) -> str:
        return self.snippets[side].text

    def enter(self, **changes) -> Ctx:
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class Shape:
    transparent: tuple[str, ...] = ()
    sequences: tuple[str, ...] = ()
    merge_sequences: Callable[[Ctx, cst.CSTNode, cst.CSTNode, cst.CSTNode], Outcome] | None = None
    layout: tuple[str, ...] = ()  # fields the sequence merge writes itself (brackets, parentheses)
    # Fields one side may change while the other changes something else (a return annotation
    # beside new parameters): they do not constrain the rest of the node.
    independent: tuple[str, ...] = ()


# Separators belong to the sequence layout, not to an element's identity.
_SEPARATOR_FIELDS = frozenset({"comma", "whitespace_after_arg", "whitespace_after_param"})
SHAPES: dict[type, Shape] = {}  # filled by `kinds`, which knows the sequence merges


def apply_edits(text: str, offset: int, edits: list[Edit]) -> str:
    """`text` (which starts at `offset` in its snippet) with the edits inside it applied."""
    out, position = [], 0
    for edit in sorted(edits, key=lambda e: e.start):
        start, end = edit.start - offset, edit.end - offset
        if start < position or end > len(text):
            raise ValueError("overlapping or outside edits")
        out.append(text[position:start])
        out.append(edit.text)
        position = end
    out.append(text[position:])
    return "".join(out)


def merged_text(ctx: Ctx, node: cst.CSTNode, outcome: Outcome, side: str = "ours") -> str:
    start, end = ctx.span(side, node)
    inside = [e for e in outcome.edits[side] if start <= e.start and e.end <= end]
    return apply_edits(ctx.text(side)[start:end], start, inside)


def take(ctx: Ctx, winner: str, nodes: dict[str, cst.CSTNode]) -> Outcome:
    """Both versions read as `winner`'s."""
    loser = "theirs" if winner == "ours" else "ours"
    start, end = ctx.span(loser, nodes[loser])
    out = Outcome()
    out.edits[loser].append(Edit(start, end, ctx.code(winner, nodes[winner])))
    return out


def merge_node(ctx: Ctx, b: cst.CSTNode, o: cst.CSTNode, t: cst.CSTNode, transparent: bool = False) -> Outcome:
    """Merge three versions of one node; `transparent` when reached through a transparent field."""
    cb, co, ct = ctx.code("base", b), ctx.code("ours", o), ctx.code("theirs", t)
    nodes = {"base": b, "ours": o, "theirs": t}
    if co == ct:
        return Outcome()
    if cb == co or cb == ct:
        winner, changed = ("theirs", t) if cb == co else ("ours", o)
        if transparent and not sequence_only(ctx, b, changed, winner):
            return refuse(ctx, f"{winner} changed `{_short(co if winner == 'ours' else ct)}` "
                               "while the other side changed what surrounds it")
        return take(ctx, winner, nodes)
    shape = SHAPES.get(type(o))
    if type(b) is not type(o) or type(o) is not type(t) or shape is None:
        if equivalent(co, ct):
            out = take(ctx, "ours", nodes)
            out.merges.append(StructuralMerge(ctx.qualname, "identical", "both sides made the same change",
                                              (cb, co, ct), co))
            return out
        return refuse(ctx, f"both sides changed `{_short(cb)}` differently")
    return merge_shape(ctx, shape, b, o, t)


def merge_shape(ctx: Ctx, shape: Shape, b: cst.CSTNode, o: cst.CSTNode, t: cst.CSTNode) -> Outcome:
    out = Outcome()
    inner = _enter(ctx, o)
    for f in dataclasses.fields(o):
        name = f.name
        if name in shape.sequences or name in shape.layout or name in _SEPARATOR_FIELDS:
            continue
        vb, vo, vt = getattr(b, name), getattr(o, name), getattr(t, name)
        if name in shape.transparent and all(isinstance(v, cst.CSTNode) for v in (vb, vo, vt)):
            out.absorb(merge_node(inner, vb, vo, vt, transparent=True))
            continue
        co, ct = _field_code(ctx, "ours", vo), _field_code(ctx, "theirs", vt)
        if co == ct:
            continue
        if name in shape.independent:
            cb = _field_code(ctx, "base", vb)
            if cb in (co, ct):
                winner = "theirs" if cb == co else "ours"
                taken = _take_field(ctx, name, {"ours": o, "theirs": t}, winner)
                if taken is not None:
                    texts = tuple(str(c) if c != "None" else "" for c in (cb, co, ct))
                    taken.merges.append(StructuralMerge(
                        ctx.qualname, "adjacent-changes",
                        f"{winner} changed {type(o).__name__}.{name}; the other side changed the rest",
                        texts, texts[1] if winner == "ours" else texts[2]))
                    out.absorb(taken)
                    continue
        out.absorb(refuse(ctx, f"both sides changed {type(o).__name__}.{name}"))
    if shape.merge_sequences is not None:
        out.absorb(shape.merge_sequences(inner, b, o, t))
    return out


def _take_field(ctx: Ctx, name: str, parents: dict[str, cst.CSTNode], winner: str) -> Outcome | None:
    """Both versions get `winner`'s value of field `name` (which may be absent on either side)."""
    loser = "theirs" if winner == "ours" else "ours"
    values = {side: getattr(parents[side], name) for side in ("ours", "theirs")}
    if values[loser] is not None:
        start, end = ctx.span(loser, values[loser])
    elif name == "returns" and isinstance(parents[loser], cst.FunctionDef):
        # No annotation yet: it goes right before the header's colon.
        node = parents[loser]
        end = ctx.span(loser, node.body)[0] - 1 - len(code_of(node.whitespace_before_colon))
        if ctx.text(loser)[end + len(code_of(node.whitespace_before_colon))] != ":":
            return None
        start = end
    else:
        return None
    out = Outcome()
    text = ctx.code(winner, values[winner]) if values[winner] is not None else ""
    out.edits[loser].append(Edit(start, end, text))
    return out


def sequence_only(ctx: Ctx, base: cst.CSTNode, changed: cst.CSTNode, side: str) -> bool:
    """Whether `changed` differs from `base` only inside sequences (arguments, elements...)."""
    if ctx.code("base", base) == ctx.code(side, changed):
        return True
    shape = SHAPES.get(type(changed))
    if type(base) is not type(changed) or shape is None:
        return False
    for f in dataclasses.fields(changed):
        name = f.name
        if name in shape.sequences or name in shape.layout or name in _SEPARATOR_FIELDS:
            continue
        vb, vc = getattr(base, name), getattr(changed, name)
        if name in shape.transparent and isinstance(vb, cst.CSTNode) and isinstance(vc, cst.CSTNode):
            if not sequence_only(ctx, vb, vc, side):
                return False
        elif _field_code(ctx, "base", vb) != _field_code(ctx, side, vc):
            return False
    return True


def _enter(ctx: Ctx, node: cst.CSTNode) -> Ctx:
    if isinstance(node, cst.FunctionDef):
        qualname = node.name.value if ctx.qualname == "module" else f"{ctx.qualname}.{node.name.value}"
        return ctx.enter(qualname=qualname, scope="function", closure=lambda: _captured(ctx, node))
    if isinstance(node, cst.ClassDef):
        qualname = node.name.value if ctx.qualname == "module" else f"{ctx.qualname}.{node.name.value}"
        return ctx.enter(qualname=qualname, scope="class", closure=frozenset)
    return ctx


def _captured(ctx: Ctx, node: cst.FunctionDef) -> frozenset[str]:
    tree = parse_statements(ctx.code("ours", node))
    return closure_names(tree[0]) if tree else frozenset()


def _field_code(ctx: Ctx, side: str, value: object) -> object:
    if isinstance(value, cst.CSTNode):
        return ctx.code(side, value) if value in ctx.snippets[side].spans else code_of(value)
    if isinstance(value, (list, tuple)):
        return tuple(_field_code(ctx, side, v) for v in value)
    return repr(value)


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


# -- equality up to formatting -----------------------------------------------------------------

def parse_statements(text: str) -> list[ast.stmt] | None:
    """Statements from text at any indentation (the way a region is cut), or None."""
    stripped = text.lstrip("\r\n")
    indented = stripped[:1] in (" ", "\t")
    try:
        module = ast.parse(("if 1:\n" + text) if indented else text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    return module.body[0].body if indented else module.body


def _comments(text: str) -> list[str] | None:
    try:
        return [tok.string for tok in tokenize.generate_tokens(io.StringIO(text).readline)
                if tok.type == tokenize.COMMENT]
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return None


def equivalent(a: str, b: str) -> bool:
    """Same code and same comments, up to formatting: the sides made the same change."""
    if a == b:
        return True
    for wrap in (lambda s: s, lambda s: f"({s})", lambda s: f"f({s})", lambda s: f"def f({s}): pass"):
        trees = [_dump(wrap(x)) for x in (a, b)]
        if trees[0] is not None and trees[1] is not None:
            return trees[0] == trees[1] and _comments(a) == _comments(b)
    return False


def _dump(text: str) -> str | None:
    statements = parse_statements(text)
    if statements is None:
        return None
    return ast.dump(ast.Module(body=statements, type_ignores=[]))

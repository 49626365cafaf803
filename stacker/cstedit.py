"""Small libcst building blocks that codified resolutions share.

A resolution says *where* with a qualified name and libcst matchers, and *what* with a node
replacement; these helpers cover the recurring parts (find a definition, find calls in it, read
and set keyword arguments and parameters, splice statements) so each resolution stays a few
readable lines. Everything returns new trees; nothing mutates.
"""

from __future__ import annotations

import ast
import textwrap
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import libcst as cst
import libcst.matchers as m


def find_definition(module: cst.Module, qualname: str) -> cst.FunctionDef | cst.ClassDef | None:
    """The function or class at `qualname` ("Class.method", "function")."""
    body: Sequence[cst.BaseStatement] = module.body
    node: cst.FunctionDef | cst.ClassDef | None = None
    for part in qualname.split("."):
        node = next((s for s in body if isinstance(s, (cst.FunctionDef, cst.ClassDef)) and s.name.value == part), None)
        if node is None:
            return None
        body = node.body.body if isinstance(node.body, cst.IndentedBlock) else ()
    return node


def walk(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """Every node under `node`, depth first, `node` included."""
    yield node
    for child in node.children:
        yield from walk(child)


def find_all(node: cst.CSTNode, matcher: m.BaseMatcherNode) -> list[cst.CSTNode]:
    return [n for n in walk(node) if m.matches(n, matcher)]


def calls_to(node: cst.CSTNode, name: str) -> list[cst.Call]:
    """Calls whose callee is `name` or ends in `.name` (a method or an attribute of a module)."""
    callee = m.Name(name) | m.Attribute(attr=m.Name(name))
    return [n for n in walk(node) if isinstance(n, cst.Call) and m.matches(n.func, callee)]


def keyword(call: cst.Call, name: str) -> cst.Arg | None:
    return next((a for a in call.args if a.keyword is not None and a.keyword.value == name), None)


def code(node: cst.CSTNode) -> str:
    return cst.Module(body=[]).code_for_node(node)


def expression(source: str) -> cst.BaseExpression:
    return cst.parse_expression(source)


def statements(source: str) -> list[cst.BaseStatement]:
    return list(cst.parse_module(source).body)


def insert_with_comma(items: list, position: int, item):
    """Insert a comma-separated element (an `Arg`, a `Param`, an `Element`) keeping the layout.

    The new element copies the separator of its neighbours, so a one-per-line call stays one per
    line and a trailing comma stays trailing.
    """
    if not items:
        return [item]
    space = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
    if position < len(items):
        ref = items[position - 1] if position > 0 else items[0]
        comma = _layout_only(ref.comma) if isinstance(ref.comma, cst.Comma) else space
        return items[:position] + [item.with_changes(comma=comma)] + items[position:]
    last = items[-1]
    separator = _layout_only(items[-2].comma) if len(items) > 1 and isinstance(items[-2].comma, cst.Comma) else space
    return items[:-1] + [last.with_changes(comma=separator), item.with_changes(comma=last.comma)]


def _layout_only(comma: cst.Comma) -> cst.Comma:
    """A copy of a separator without the comments it carries (a comment above the next element, or
    after this one): copying those would duplicate them next to the new element."""
    after = comma.whitespace_after
    if isinstance(after, cst.ParenthesizedWhitespace):
        after = after.with_changes(first_line=cst.TrailingWhitespace(), empty_lines=[])
    return comma.with_changes(whitespace_after=after)


def set_keyword(call: cst.Call, name: str, value: str | cst.BaseExpression, *, after: str | None = None) -> cst.Call:
    """`call` with keyword `name=value`: replaced in place if present, else inserted after `after` (or last)."""
    value_node = expression(value) if isinstance(value, str) else value
    args = list(call.args)
    for i, arg in enumerate(args):
        if arg.keyword is not None and arg.keyword.value == name:
            args[i] = arg.with_changes(value=value_node)
            return call.with_changes(args=args)
    new_arg = cst.Arg(keyword=cst.Name(name), value=value_node,
                      equal=cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace("")))
    position = len(args)
    if after is not None:
        position = next((i + 1 for i, a in enumerate(args) if a.keyword is not None and a.keyword.value == after),
                        len(args))
    return call.with_changes(args=insert_with_comma(args, position, new_arg))


def remove_keyword(call: cst.Call, name: str) -> cst.Call:
    args = [a for a in call.args if not (a.keyword is not None and a.keyword.value == name)]
    if args and call.args and call.args[-1].keyword is not None and call.args[-1].keyword.value == name:
        args[-1] = args[-1].with_changes(comma=call.args[-1].comma)
    return call.with_changes(args=args)


def param_names(function: cst.FunctionDef) -> list[str]:
    p = function.params
    return [x.name.value for x in (*p.posonly_params, *p.params, *p.kwonly_params)]


def replace_node(tree: cst.CSTNode, old: cst.CSTNode, new: cst.CSTNode | cst.RemovalSentinel) -> cst.CSTNode:
    """`tree` with the node `old` (by identity) replaced."""
    return tree.deep_replace(old, new)


def transform_nodes(tree: cst.Module, matcher: m.BaseMatcherNode,
                    change: Callable[[cst.CSTNode], cst.CSTNode]) -> cst.Module:
    """Apply `change` to every node matching `matcher` (innermost first)."""

    class _Transformer(cst.CSTTransformer):
        def on_leave(self, original_node, updated_node):
            if m.matches(updated_node, matcher):
                return change(updated_node)
            return updated_node

    return tree.visit(_Transformer())


def parse_statements(source: str) -> cst.Module | None:
    """`source` (already dedented) as a module, or None if it does not parse on its own."""
    try:
        return cst.parse_module(source)
    except cst.ParserSyntaxError:
        return None


def callee_name(call: cst.Call) -> str | None:
    """`f` for `f(...)`, `m.f` for `m.f(...)`; None for anything else."""
    if isinstance(call.func, cst.Name):
        return call.func.value
    if isinstance(call.func, cst.Attribute):
        return code(call.func)
    return None


def keywords_added(base: cst.Module, side: cst.Module) -> list[tuple[str, list[cst.Arg]]] | None:
    """The keyword arguments `side` appended to calls of `base`, per callee, when that is all it did.

    None when `side` changed anything else (other code, removed or reordered arguments), so a
    caller can replay the additions elsewhere knowing nothing else is lost.
    """
    base_calls = [n for n in walk(base) if isinstance(n, cst.Call)]
    side_calls = [n for n in walk(side) if isinstance(n, cst.Call)]
    if len(base_calls) != len(side_calls):
        return None
    added: list[tuple[str, list[cst.Arg]]] = []
    stripped = side
    for old, new in zip(base_calls, side_calls, strict=True):
        old_kw = {a.keyword.value for a in old.args if a.keyword is not None}
        extra = [a for a in new.args if a.keyword is not None and a.keyword.value not in old_kw]
        if not extra:
            continue
        name = callee_name(new)
        if name is None:
            return None
        added.append((name, extra))
        reduced = new
        for arg in extra:
            reduced = remove_keyword(reduced, arg.keyword.value)
        stripped = stripped.deep_replace(new, reduced)
    if not added or not _same_code(stripped, base):
        return None
    return added


def _same_code(a: cst.Module, b: cst.Module) -> bool:
    """Equal up to layout (a removed trailing argument may leave its comma behind)."""
    return cst.parse_module(a.code).deep_equals(cst.parse_module(b.code)) or _tokens(a.code) == _tokens(b.code)


def _tokens(source: str) -> list[str]:
    import io
    import tokenize

    skip = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER}
    out = [t.string for t in tokenize.generate_tokens(io.StringIO(source).readline) if t.type not in skip]
    # a trailing comma before a closing bracket is layout
    return [t for i, t in enumerate(out) if not (t == "," and i + 1 < len(out) and out[i + 1] in ")]}")]


def add_keywords(module: cst.Module, callee: str, args: list[cst.Arg]) -> cst.Module | None:
    """`module` with `args` added to its one call of `callee` (those it already has are skipped).

    None when there is not exactly one such call: where the additions belong is then a decision.
    """
    calls = [n for n in walk(module) if isinstance(n, cst.Call) and callee_name(n) == callee]
    if len(calls) != 1:
        return None
    call = calls[0]
    new = call
    for arg in args:
        if keyword(new, arg.keyword.value) is None:
            new = set_keyword(new, arg.keyword.value, arg.value)
    return module.deep_replace(call, new)


Block = cst.IndentedBlock | cst.Module


def statement_position(root: cst.CSTNode, statement: cst.CSTNode) -> tuple[Block, int] | None:
    """The block whose statement list holds `statement` (by identity), and its index there."""
    for node in walk(root):
        if isinstance(node, (cst.IndentedBlock, cst.Module)):
            for i, item in enumerate(node.body):
                if item is statement:
                    return node, i
    return None


def with_block_body(root: cst.CSTNode, block: Block, body: Sequence[cst.BaseStatement]) -> cst.CSTNode:
    """`root` with `block`'s statement list replaced."""
    return root.deep_replace(block, block.with_changes(body=list(body)))


def statement_code(statement: cst.CSTNode) -> str:
    """A statement's code without its leading comments/blank lines (for matching by text)."""
    if isinstance(statement, (cst.SimpleStatementLine, cst.BaseCompoundStatement)) and \
            hasattr(statement, "leading_lines"):
        statement = statement.with_changes(leading_lines=())
    return code(statement).strip()


def normalized(node_or_source: cst.CSTNode | str) -> str:
    """A layout-free form of an expression or statement (`ast.dump`): equal for the same Python
    whatever the line breaks, parentheses and comments. Sources that do not parse compare as text."""
    source = node_or_source if isinstance(node_or_source, str) else code(node_or_source)
    text = textwrap.dedent(source).strip()
    for candidate, mode in ((f"({text}\n)", "eval"), (text, "exec")):
        try:
            return ast.dump(ast.parse(candidate, mode=mode))
        except SyntaxError:
            continue
    return text


def same_code(a: cst.CSTNode | str, b: cst.CSTNode | str) -> bool:
    return normalized(a) == normalized(b)


@dataclass(frozen=True)
class Listed:
    """One element of a comma-separated list (a `Param`, an `Arg`, an `Element`) without its comma,
    with the comment lines that stand above it: editing a list of these and `relist`-ing it keeps
    every comment with the element it describes, wherever that element moves."""

    node: cst.CSTNode
    comments: tuple[cst.EmptyLine, ...] = ()


def listed(items: Sequence[cst.CSTNode]) -> list[Listed]:
    out: list[Listed] = []
    for i, item in enumerate(items):
        above = items[i - 1].comma if i > 0 else None
        comments = ()
        if isinstance(above, cst.Comma) and isinstance(above.whitespace_after, cst.ParenthesizedWhitespace):
            comments = tuple(above.whitespace_after.empty_lines)
        out.append(Listed(item.with_changes(comma=cst.MaybeSentinel.DEFAULT), comments))
    return out


def relist(original: Sequence[cst.CSTNode], elements: Sequence[Listed]) -> list[cst.CSTNode]:
    """Commas for `elements` laid out like `original`: one per line if it was (the first separator is
    the template), the original last element's comma (trailing comma, closing newline) at the end."""
    separator = next((i.comma for i in original[:-1] if isinstance(i.comma, cst.Comma)), None)
    if separator is None:
        separator = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
    tail = original[-1].comma if original else cst.MaybeSentinel.DEFAULT
    out: list[cst.CSTNode] = []
    for i, element in enumerate(elements):
        if i == len(elements) - 1:
            out.append(element.node.with_changes(comma=tail))
            continue
        comma = separator
        below = elements[i + 1].comments
        if isinstance(comma.whitespace_after, cst.ParenthesizedWhitespace):
            comma = comma.with_changes(whitespace_after=comma.whitespace_after.with_changes(empty_lines=list(below)))
        out.append(element.node.with_changes(comma=comma))
    return out


def comment_lines(template: Sequence[cst.CSTNode], *texts: str) -> tuple[cst.EmptyLine, ...]:
    """Comment lines (`# text`) indented like the elements of the one-per-line list `template`."""
    separator = next((i.comma for i in template if isinstance(i.comma, cst.Comma)
                      and isinstance(i.comma.whitespace_after, cst.ParenthesizedWhitespace)), None)
    indent = separator.whitespace_after.last_line if separator is not None else cst.SimpleWhitespace("")
    return tuple(cst.EmptyLine(indent=True, whitespace=indent, comment=cst.Comment(f"# {t}")) for t in texts)


def with_keyword(call: cst.Call, name: str, value: str | cst.BaseExpression, *, after: str | None = None,
                 comments: Sequence[str] = ()) -> cst.Call:
    """Like `set_keyword`, but comment lines between arguments stay with the argument below them (a new
    argument appended after a commented one does not copy that comment), and the new argument may get
    comment lines of its own (one-per-line calls)."""
    value_node = expression(value) if isinstance(value, str) else value
    items = listed(call.args)
    for i, item in enumerate(items):
        if item.node.keyword is not None and item.node.keyword.value == name:
            items[i] = Listed(item.node.with_changes(value=value_node), item.comments)
            return call.with_changes(args=relist(call.args, items))
    new = Listed(cst.Arg(keyword=cst.Name(name), value=value_node,
                         equal=cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace(""))),
                 comment_lines(call.args, *comments) if comments else ())
    position = len(items)
    if after is not None:
        position = next((i + 1 for i, a in enumerate(items) if a.node.keyword is not None
                         and a.node.keyword.value == after), len(items))
    return call.with_changes(args=relist(call.args, items[:position] + [new] + items[position:]))

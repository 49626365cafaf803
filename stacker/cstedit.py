"""Small libcst building blocks that codified resolutions share.

A resolution says *where* with a qualified name and libcst matchers, and *what* with a node
replacement; these helpers cover the recurring parts (find a definition, find calls in it, read
and set keyword arguments and parameters, splice statements) so each resolution stays a few
readable lines. Everything returns new trees; nothing mutates.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

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
        comma = ref.comma if isinstance(ref.comma, cst.Comma) else space
        return items[:position] + [item.with_changes(comma=comma)] + items[position:]
    last = items[-1]
    separator = items[-2].comma if len(items) > 1 and isinstance(items[-2].comma, cst.Comma) else space
    return items[:-1] + [last.with_changes(comma=separator), item.with_changes(comma=last.comma)]


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

"""Which local names a piece of Python binds and reads, and renaming them consistently (libcst).

Resolutions that restructure a function (split one flow into two, move code under a new `if`)
must know which locals each part binds: two parts that bind the same name interact, and a rename
must touch the bindings and their reads but never a keyword argument, an attribute or an import
that merely spells the same word. These helpers answer that on libcst trees; they know nothing of
any particular code base.

"Bound" follows Python's rules for what creates a local: assignment targets (also inside tuple /
list / starred unpacking), augmented and annotated assignments, `for` and `with ... as` targets,
`except ... as`, walrus targets, and the names of nested `def` / `class` statements. The walk goes
into nested functions too, because a resolution asks about the names a *region of source* binds,
whichever scope they end up in.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import libcst as cst


def _target_names(target: cst.BaseExpression) -> Iterator[cst.Name]:
    """The Name nodes an assignment target binds (`a`, `a, (b, *c)`; not `x.a` or `x[a]`)."""
    if isinstance(target, cst.Name):
        yield target
    elif isinstance(target, (cst.Tuple, cst.List)):
        for element in target.elements:
            yield from _target_names(element.value)
    elif isinstance(target, cst.StarredElement):
        yield from _target_names(target.value)


def binding_nodes(node: cst.CSTNode) -> Iterator[cst.Name]:
    """Every Name node under `node` that binds a local (see the module docstring)."""
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, cst.Assign):
            for target in current.targets:
                yield from _target_names(target.target)
        elif isinstance(current, (cst.AugAssign, cst.AnnAssign)):
            yield from _target_names(current.target)
        elif isinstance(current, cst.For):
            yield from _target_names(current.target)
        elif isinstance(current, cst.WithItem) and current.asname is not None:
            yield from _target_names(current.asname.name)
        elif isinstance(current, cst.ExceptHandler) and current.name is not None:
            yield from _target_names(current.name.name)
        elif isinstance(current, cst.NamedExpr):
            yield from _target_names(current.target)
        elif isinstance(current, (cst.FunctionDef, cst.ClassDef)):
            yield current.name
        stack.extend(reversed(current.children))


def bound_names(nodes: cst.CSTNode | Iterable[cst.CSTNode]) -> set[str]:
    """Names bound anywhere under `nodes` (one node or several statements)."""
    items = [nodes] if isinstance(nodes, cst.CSTNode) else list(nodes)
    return {name.value for item in items for name in binding_nodes(item)}


def _not_references(node: cst.CSTNode) -> set[int]:
    """ids of Name nodes under `node` that spell a word without referring to a variable:
    keyword-argument names, attribute names after the dot, import names."""
    skip: set[int] = set()
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, cst.Arg) and current.keyword is not None:
            skip.add(id(current.keyword))
        elif isinstance(current, cst.Attribute):
            skip.add(id(current.attr))
        elif isinstance(current, (cst.Import, cst.ImportFrom)):
            skip.update(id(n) for n in _all_names(current))
            continue
        stack.extend(current.children)
    return skip


def _all_names(node: cst.CSTNode) -> Iterator[cst.Name]:
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, cst.Name):
            yield current
        stack.extend(current.children)


def referenced_names(nodes: cst.CSTNode | Iterable[cst.CSTNode]) -> set[str]:
    """Names that refer to a variable anywhere under `nodes` (reads and bindings alike)."""
    items = [nodes] if isinstance(nodes, cst.CSTNode) else list(nodes)
    out: set[str] = set()
    for item in items:
        skip = _not_references(item)
        out.update(n.value for n in _all_names(item) if id(n) not in skip)
    return out


def read_names(nodes: cst.CSTNode | Iterable[cst.CSTNode]) -> set[str]:
    """Names read (not only bound) anywhere under `nodes`."""
    items = [nodes] if isinstance(nodes, cst.CSTNode) else list(nodes)
    out: set[str] = set()
    for item in items:
        skip = _not_references(item) | {id(n) for n in binding_nodes(item)}
        out.update(n.value for n in _all_names(item) if id(n) not in skip)
    return out


def _in_evaluation_order(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """Nodes under `node` roughly in the order Python evaluates them: an assignment's value
    before its targets, a `for` loop's iterable before its target (enough to tell whether a
    name is read before a region first binds it)."""
    yield node
    if isinstance(node, cst.Assign):
        order: Sequence[cst.CSTNode] = [node.value, *node.targets]
    elif isinstance(node, (cst.AugAssign, cst.AnnAssign)) and node.value is not None:
        order = [node.value, node.target]
    elif isinstance(node, cst.For):
        order = [node.iter, node.target, node.body, *([node.orelse] if node.orelse else [])]
    else:
        order = node.children
    for child in order:
        yield from _in_evaluation_order(child)


def first_use_binds(statements: Sequence[cst.CSTNode], name: str) -> bool:
    """Whether the first reference to `name` in `statements` (in evaluation order) binds it, i.e.
    the region does not read a value of `name` that was set before it."""
    for statement in statements:
        skip = _not_references(statement)
        binders = {id(n) for n in binding_nodes(statement)}
        for node in _in_evaluation_order(statement):
            if isinstance(node, cst.Name) and node.value == name and id(node) not in skip:
                return id(node) in binders
    return True


class _Renamer(cst.CSTTransformer):
    def __init__(self, mapping: dict[str, str], skip: set[int]) -> None:
        self.mapping = mapping
        self.skip = skip

    def leave_Name(self, original_node: cst.Name, updated_node: cst.Name) -> cst.Name:
        if id(original_node) in self.skip or original_node.value not in self.mapping:
            return updated_node
        return updated_node.with_changes(value=self.mapping[original_node.value])


def rename_names(node: cst.CSTNode, mapping: dict[str, str]) -> cst.CSTNode:
    """`node` with every variable reference (bindings and reads) renamed per `mapping`; keyword
    names, attribute names and imports keep their spelling."""
    return node.visit(_Renamer(mapping, _not_references(node)))

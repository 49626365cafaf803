"""Whether two groups of statements, inserted by the two sides at one place, may run in either order.

When both sides insert statements at the same spot of a body, the merge must put one group
first. That is harmless only when neither group can observe the other: Python gives no proof of
that, so this module is deliberately pessimistic and refuses on anything it cannot see through.

The analysis is syntactic (the `ast` module) and rests on these stated assumptions:
- operators and attribute reads have no side effects (no property or dunder with effects);
- a call may read or change anything reachable, except the caller's own local variables that no
  nested function captures; a short list of builtins (`len`, `isinstance`, ...) are pure;
- at module and class level, `def`, `class` and `import` statements are definitions: their
  decorators and base classes register, they do not depend on each other's order (a stated
  trade-off: two new decorated test functions, or two new methods, are the commonest insertions).

Two groups may be interleaved only if: neither returns, raises, asserts, breaks, yields or awaits;
they bind no common name; neither writes what the other reads or writes (by access path:
`x`, `self.attr`, `x[...]`); and not both call functions, nor does one call while the other writes
shared state.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Literal

Scope = Literal["module", "class", "function"]

PURE_BUILTINS = frozenset({
    "abs", "all", "any", "bool", "callable", "chr", "divmod", "enumerate", "float", "format",
    "frozenset", "getattr", "hasattr", "hash", "id", "int", "isinstance", "issubclass", "len",
    "max", "min", "ord", "range", "repr", "reversed", "round", "sorted", "str", "sum", "tuple",
    "type", "zip",
})

_ESCAPES = {
    ast.Return: "return", ast.Raise: "raise", ast.Assert: "assert", ast.Break: "break",
    ast.Continue: "continue", ast.Yield: "yield", ast.YieldFrom: "yield", ast.Await: "await",
    ast.Global: "global", ast.Nonlocal: "nonlocal",
}
_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom)
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)


@dataclass
class Effects:
    """What a group of statements may observe or change, as access paths like `self.a.[]`."""

    binds: set[str] = field(default_factory=set)  # names bound in the enclosing scope
    writes: set[str] = field(default_factory=set)  # paths assigned, deleted or bound
    reads: set[str] = field(default_factory=set)  # paths whose value is used
    derefs: set[str] = field(default_factory=set)  # paths only used to reach an attribute/item
    calls: list[str] = field(default_factory=list)  # what is called (impure calls only)
    escapes: list[str] = field(default_factory=list)  # control-flow exits and suspensions


def _path(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _path(node.value)
        return f"{base}.{node.attr}" if base else None
    if isinstance(node, ast.Subscript):
        base = _path(node.value)
        return f"{base}.[]" if base else None
    if isinstance(node, ast.Starred):
        return _path(node.value)
    return None


class _Collector(ast.NodeVisitor):
    def __init__(self, effects: Effects, scope: Scope) -> None:
        self.effects = effects
        self.scope = scope

    # -- statements --------------------------------------------------------------------------
    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.effects.binds.add(node.name)
        self.effects.writes.add(node.name)
        for expr in [*node.decorator_list, *node.args.defaults, *node.args.kw_defaults]:
            if expr is not None:
                self._expr(expr, decorator=True)
        if node.decorator_list and self.scope == "function":
            self.effects.calls.append("@decorator")
        # The body runs when called, not here; a new function cannot be called by the other side.

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.effects.binds.add(node.name)
        self.effects.writes.add(node.name)
        for expr in [*node.decorator_list, *node.bases, *(k.value for k in node.keywords)]:
            self._expr(expr, decorator=True)
        if self.scope == "function" and (node.decorator_list or node.bases or node.keywords):
            self.effects.calls.append(f"class {node.name}")
        inner = _Collector(Effects(), "class")  # the class body runs now
        for stmt in node.body:
            inner.visit(stmt)
        self.effects.reads |= inner.effects.reads
        self.effects.derefs |= inner.effects.derefs
        self.effects.escapes += inner.effects.escapes
        if self.scope == "function":  # at module/class level a class is a definition
            self.effects.calls += inner.effects.calls

    def _import(self, node: ast.Import | ast.ImportFrom) -> None:
        for alias in node.names:
            name = alias.asname or alias.name.split(".")[0]
            self.effects.binds.add(name)
            self.effects.writes.add(name)
        if self.scope == "function":
            self.effects.calls.append("import")  # runs module code the first time

    visit_Import = visit_ImportFrom = _import

    def visit_For(self, node: ast.For | ast.AsyncFor) -> None:
        self.effects.calls.append("for (iterates)")
        self.generic_visit(node)

    visit_AsyncFor = visit_For

    def visit_With(self, node: ast.With | ast.AsyncWith) -> None:
        self.effects.calls.append("with (enters a context)")
        self.generic_visit(node)

    visit_AsyncWith = visit_With

    def generic_visit(self, node: ast.AST) -> None:
        escape = _ESCAPES.get(type(node))
        if escape:
            self.effects.escapes.append(escape)
        super().generic_visit(node)

    # -- expressions -------------------------------------------------------------------------
    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            self.effects.reads.add(node.id)
        else:
            self.effects.binds.add(node.id)
            self.effects.writes.add(node.id)

    def visit_Attribute(self, node: ast.Attribute | ast.Subscript) -> None:
        path = _path(node)
        if path is None:
            self.generic_visit(node)
            return
        if isinstance(node.ctx, ast.Load):
            self.effects.reads.add(path)
        else:
            self.effects.writes.add(path)
        self._deref(node.value)
        if isinstance(node, ast.Subscript):
            self.visit(node.slice)

    visit_Subscript = visit_Attribute

    def _deref(self, node: ast.expr) -> None:
        """`node` is only used to reach an attribute or item of it."""
        path = _path(node)
        if path is None:
            self.visit(node)
            return
        self.effects.derefs.add(path)
        if isinstance(node, (ast.Attribute, ast.Subscript)):
            self._deref(node.value)
            if isinstance(node, ast.Subscript):
                self.visit(node.slice)

    def visit_Call(self, node: ast.Call) -> None:
        if not (isinstance(node.func, ast.Name) and node.func.id in PURE_BUILTINS):
            self.effects.calls.append(ast.unparse(node.func))
        self.generic_visit(node)

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._nested_reads(node)

    def _nested_reads(self, node: ast.AST) -> None:
        for inner in ast.walk(node):
            if isinstance(inner, ast.Name) and isinstance(inner.ctx, ast.Load):
                self.effects.reads.add(inner.id)
            elif isinstance(inner, ast.Call):
                self.effects.calls.append(ast.unparse(inner.func))

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self.effects.binds.add(node.target.id)
        self.effects.writes.add(node.target.id)
        self.visit(node.value)

    def _expr(self, node: ast.expr, decorator: bool = False) -> None:
        if decorator and self.scope != "function":
            # Definition time at module/class level: reads count, decorator calls do not.
            for inner in ast.walk(node):
                if isinstance(inner, ast.Name) and isinstance(inner.ctx, ast.Load):
                    self.effects.reads.add(inner.id)
            return
        self.visit(node)


def effects_of(statements: list[ast.stmt], scope: Scope) -> Effects:
    effects = Effects()
    collector = _Collector(effects, scope)
    for stmt in statements:
        collector.visit(stmt)
    return effects


def _overlaps(a: str, b: str) -> bool:
    return a == b or a.startswith(b + ".") or b.startswith(a + ".")


def _prefix(a: str, b: str) -> bool:
    """Changing `a` changes what `b` reaches."""
    return a == b or b.startswith(a + ".")


def closure_names(function: ast.AST) -> frozenset[str]:
    """Names read inside functions nested in `function`: a call can reach those locals."""
    names: set[str] = set()
    for node in ast.walk(function):
        if node is not function and isinstance(node, _SCOPES):
            for inner in ast.walk(node):
                if isinstance(inner, ast.Name):
                    names.add(inner.id)
    return frozenset(names)


def interference(ours: list[ast.stmt], theirs: list[ast.stmt], scope: Scope,
                 captured: frozenset[str] = frozenset()) -> str | None:
    """None when the two groups may run in either order; otherwise why not (for the log)."""
    a, b = effects_of(ours, scope), effects_of(theirs, scope)
    for side, effects in (("ours", a), ("theirs", b)):
        if effects.escapes:
            return f"{side} inserts a `{effects.escapes[0]}`: the other side's statements may not run"
    common = a.binds & b.binds
    if common:
        return f"both sides bind {', '.join(sorted(common))}"
    for (wname, w), (rname, r) in (((("ours", a)), ("theirs", b)), (("theirs", b), ("ours", a))):
        for write in w.writes:
            hit = next((p for p in r.reads | r.writes if _overlaps(write, p)), None) \
                or next((p for p in r.derefs if _prefix(write, p)), None)
            if hit:
                return f"{wname} writes `{write}`, which {rname}'s statements use (`{hit}`)"
    if a.calls and b.calls:
        return (f"both sides call functions (`{a.calls[0]}`, `{b.calls[0]}`) whose order may matter")
    for (cname, c), (wname, w) in (((("ours", a)), ("theirs", b)), (("theirs", b), ("ours", a))):
        if not c.calls:
            continue
        shared = sorted(p for p in w.writes if scope != "function" or "." in p or p in captured)
        if shared:
            return f"{cname} calls `{c.calls[0]}`, which may see {wname}'s write to `{shared[0]}`"
    return None


def definitions_only(statements: list[ast.stmt]) -> bool:
    return all(isinstance(s, _DEFINITIONS) for s in statements)

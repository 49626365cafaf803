"""Where things are in Python source: qualified names of definitions and their line spans (libcst).

Layers speak of code by qualified name (`Class.method`), never by line number, because line
numbers move with every upstream commit while names mostly do not.
"""

from __future__ import annotations

import ast
import functools
import warnings
from dataclasses import dataclass

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider


@dataclass(frozen=True)
class Definition:
    qualname: str
    start: int  # 1-based first line (decorators included)
    end: int  # 1-based last line


def parse_module(source: str) -> cst.Module | None:
    """libcst's module for `source`, None if it does not parse. Cached: libcst trees are immutable,
    and a build's resolutions inspect the same file text many times (one parse of a large file
    costs a quarter of a second)."""
    return _parse_module(source)


@functools.lru_cache(maxsize=8)  # a few files per step; libcst trees are large
def _parse_module(source: str) -> cst.Module | None:
    try:
        return cst.parse_module(source)
    except (cst.ParserSyntaxError, RecursionError):
        return None


@functools.lru_cache(maxsize=16)
def parse_ast(source: str) -> ast.Module | None:
    """`ast` module of `source`, None if it does not parse (or nests too deeply for the parser).
    Cached: a merge checks the same versions several times (compile, definitions, pyflakes);
    callers only read the tree."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # invalid escapes in old code: not ours to report
        try:
            return ast.parse(source)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return None


def definitions(source: str) -> list[Definition] | None:
    """Every function and class with its span, outermost first; None if the source does not parse.

    Uses `ast` (line spans are all we need here, and it is far faster than libcst on large files);
    cached, since the chain asks about the same view for several hunks.
    """
    return _definitions(source)


@functools.lru_cache(maxsize=64)
def _definitions(source: str) -> list[Definition] | None:
    tree = parse_ast(source)
    if tree is None:
        return None
    found: list[Definition] = []

    def visit(body: list[ast.stmt], prefix: str) -> None:
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = f"{prefix}{node.name}"
                start = min([node.lineno] + [d.lineno for d in node.decorator_list])
                found.append(Definition(name, start, node.end_lineno or node.lineno))
                visit(node.body, name + ".")
            else:
                for field in ("body", "orelse", "finalbody", "handlers"):
                    inner = getattr(node, field, None)
                    if isinstance(inner, list):
                        visit([n for n in inner if isinstance(n, ast.stmt)] +
                              [s for h in inner if isinstance(h, ast.ExceptHandler) for s in h.body], prefix)

    visit(tree.body, "")
    return found


def enclosing_qualname(source: str, start: int, end: int) -> str | None:
    """The innermost definition containing lines [start, end] (1-based); "" at module level."""
    defs = definitions(source)
    if defs is None:
        return None
    best = ""
    best_size = None
    for d in defs:
        if d.start <= start and end <= d.end and (best_size is None or d.end - d.start < best_size):
            best, best_size = d.qualname, d.end - d.start
    return best


def definition_span(source: str, qualname: str) -> tuple[int, int] | None:
    """1-based inclusive line span of the definition named `qualname`, if present."""
    for d in definitions(source) or []:
        if d.qualname == qualname:
            return d.start, d.end
    return None


def source_lines(source: str, span: tuple[int, int]) -> str:
    lines = source.splitlines(keepends=True)
    return "".join(lines[span[0] - 1: span[1]])



def node_spans(source: str, kinds: tuple[type[cst.CSTNode], ...]) -> list[tuple[cst.CSTNode, int, int]]:
    """Every node of `kinds` with its 1-based inclusive line span, in source order; [] if it does not parse.

    What a claim needs to say where a hunk sits: in which call's arguments, in which parameter list.
    """
    found = [(node, a, b) for node, a, b in _all_spans(source) if isinstance(node, kinds)]
    found.sort(key=lambda item: (item[1], -item[2]))
    return found


@functools.lru_cache(maxsize=4)
def _all_spans(source: str) -> tuple[tuple[cst.CSTNode, int, int], ...]:
    module = parse_module(source)
    if module is None:
        return ()
    positions = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    return tuple((node, pos.start.line, pos.end.line) for node, pos in positions.items())

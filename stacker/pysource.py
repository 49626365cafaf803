"""Where things are in Python source: qualified names of definitions and their line spans (libcst).

Layers speak of code by qualified name (`Class.method`), never by line number, because line
numbers move with every upstream commit while names mostly do not.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider


@dataclass(frozen=True)
class Definition:
    qualname: str
    start: int  # 1-based first line (decorators included)
    end: int  # 1-based last line


def parse_module(source: str) -> cst.Module | None:
    try:
        return cst.parse_module(source)
    except (cst.ParserSyntaxError, RecursionError):
        return None


class _DefinitionCollector(cst.CSTVisitor):
    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self) -> None:
        self.stack: list[str] = []
        self.found: list[Definition] = []

    def _enter(self, node: cst.FunctionDef | cst.ClassDef) -> None:
        self.stack.append(node.name.value)
        pos = self.get_metadata(PositionProvider, node)
        self.found.append(Definition(".".join(self.stack), pos.start.line, pos.end.line))

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._enter(node)

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self.stack.pop()

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self._enter(node)

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        self.stack.pop()


def definitions(source: str) -> list[Definition] | None:
    """Every function and class with its span, outermost first; None if the source does not parse."""
    found = _definitions(source)
    return list(found) if found is not None else None


@lru_cache(maxsize=16)
def _definitions(source: str) -> tuple[Definition, ...] | None:
    # Claims and layers ask this of the same view once per hunk; parsing a large file with position
    # metadata takes most of a second, so the answer is kept for the few views in use.
    module = parse_module(source)
    if module is None:
        return None
    collector = _DefinitionCollector()
    MetadataWrapper(module, unsafe_skip_copy=True).visit(collector)
    return tuple(collector.found)


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


@lru_cache(maxsize=4)
def _all_spans(source: str) -> tuple[tuple[cst.CSTNode, int, int], ...]:
    module = parse_module(source)
    if module is None:
        return ()
    positions = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    return tuple((node, pos.start.line, pos.end.line) for node, pos in positions.items())

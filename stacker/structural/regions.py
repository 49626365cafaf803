"""Where to merge: the smallest run of whole statements around a conflict, in all three versions.

The three views of a conflicted file agree outside the conflict hunks, so a region is defined
once, in segment coordinates (a line of a clean segment, or a segment boundary), and cut out of
each view at the same place. Candidates come from Python's `ast` on our view (fast: a libcst
parse of a whole large file costs ~0.4 s), innermost first: the statement that holds the
conflict (a signature, a call), the run of statements it touches in a body, that run widened by
one statement on each side, then the enclosing statements. A candidate counts only if its text
parses, in every view, as statements at the same indentation (`snippet.parse_region`).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass

from stacker.linemerge import Clean, MergedText
from stacker.structural.effects import Scope, closure_names
from stacker.structural.snippet import Snippet, covers, parse_region

SIDES = ("base", "ours", "theirs")
Position = tuple[int, int]  # (segment index, line offset in it)


@dataclass(frozen=True)
class Candidate:
    kind: str  # "statement": one statement merged node-wise; "body": a run of a body's statements
    lines: tuple[int, int]  # 0-based [start, end) lines in our view
    indent: str
    scope: Scope  # the scope whose body holds these statements
    qualname: str  # the enclosing definition, "module" at top level
    function: ast.AST | None  # the enclosing function, if any
    suffix: str = ""  # a stub body completing a definition's header cut out on its own
    side: str = "ours"  # the view whose statements (and line numbers) the candidate comes from

    def closure(self) -> frozenset[str]:
        return closure_names(self.function) if self.function is not None else frozenset()


@dataclass
class Region:
    candidate: Candidate
    start: Position
    end: Position
    offsets: dict[str, int]  # where the region starts in each view (characters)
    snippets: dict[str, Snippet]


class Frame:
    """Line and character geometry of the three views of one `MergedText`."""

    def __init__(self, merged: MergedText, views: dict[str, str]) -> None:
        self.merged = merged
        self.views = views
        self.spans = {side: merged.line_spans(side) for side in SIDES}
        self.line_starts = {}
        for side, text in views.items():
            starts = [0]
            index = text.find("\n")
            while index != -1:
                starts.append(index + 1)
                index = text.find("\n", index + 1)
            if starts[-1] == len(text) and len(starts) > 1:
                starts.pop()
            starts.append(len(text))  # sentinel: the end of the last line
            self.line_starts[side] = starts

    def boundary(self, line: int, at_end: bool, side: str = "ours") -> Position | None:
        """The segment position of the start of `side`'s line `line`, if it is the same in all views."""
        spans = self.spans[side]
        candidates = []
        for index, (start, end) in enumerate(spans):
            if start <= line < end or (start == end == line):
                if line == start:
                    candidates.append((index, 0))
                elif isinstance(self.merged.segments[index], Clean):
                    candidates.append((index, line - start))
        if line >= (spans[-1][1] if spans else 0):
            candidates.append((len(spans), 0))
        if not candidates:
            return None
        return max(candidates) if at_end else min(candidates)

    def line(self, side: str, position: Position) -> int:
        index, offset = position
        spans = self.spans[side]
        if index == len(spans):
            return spans[-1][1] if spans else 0
        return spans[index][0] + offset

    def offset(self, side: str, line: int) -> int:
        starts = self.line_starts[side]
        return starts[min(line, len(starts) - 1)]


# -- candidates from our view's ast ------------------------------------------------------------

def _first_line(stmt: ast.stmt) -> int:
    decorators = getattr(stmt, "decorator_list", None) or []
    return min([stmt.lineno, *(d.lineno for d in decorators)]) - 1


def _bodies(stmt: ast.stmt) -> Iterator[list[ast.stmt]]:
    for name in ("body", "orelse", "finalbody"):
        body = getattr(stmt, name, None)
        if isinstance(body, list) and body and isinstance(body[0], ast.stmt):
            yield body
    for handler in getattr(stmt, "handlers", None) or []:
        yield handler.body
    for case in getattr(stmt, "cases", None) or []:
        yield case.body


def _comment_or_blank(line: str) -> bool:
    stripped = line.strip()
    return not stripped or stripped.startswith("#")


class _Body:
    """One body of statements with each statement's line extent, leading comments included."""

    def __init__(self, statements: list[ast.stmt], lines: list[str], floor: int) -> None:
        self.statements = statements
        self.extents = []
        previous_end = None
        for stmt in statements:
            first, end = _first_line(stmt), stmt.end_lineno
            if previous_end is None:
                start = first
                while start - 1 >= floor and start - 1 < len(lines) and _comment_or_blank(lines[start - 1]):
                    start -= 1
            else:
                start = previous_end
            self.extents.append((start, first, end))
            previous_end = end

    def touched(self, lo: int, hi: int) -> list[int]:
        out = []
        for i, (start, _, end) in enumerate(self.extents):
            if (lo < end and hi > start) if hi > lo else (start <= lo <= end):
                out.append(i)
        return out


def _within(first: int, end: int, lo: int, hi: int) -> bool:
    return first <= lo and hi <= end if hi > lo else first < lo < end


def _header(stmt: ast.stmt, lines: list[str], lo: int, hi: int) -> tuple[int, str] | None:
    """A definition whose conflict is in its header (decorators, signature, bases) is merged
    from the header alone, with a stub body: a long method need not be parsed for its signature.
    Returns (end line of the header, stub)."""
    if not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return None
    first = stmt.body[0]
    body_start = _Body(stmt.body, lines, stmt.lineno).extents[0][0]
    if body_start <= stmt.lineno - 1 or hi > body_start or (hi == lo and lo >= body_start):
        return None
    line = lines[first.lineno - 1]
    newline = "\r\n" if line.endswith("\r") else "\n"
    return body_start, line[: first.col_offset] + "pass" + newline


def candidates(module: ast.Module, lines: list[str], lo: int, hi: int, side: str = "ours") -> list[Candidate]:
    """Regions for a conflict at `side`'s lines [lo, hi), innermost first."""
    found: list[Candidate] = []
    statements, scope, names, function = module.body, "module", [], None
    floor = 0
    while statements:
        body = _Body(statements, lines, floor)
        touched = body.touched(lo, hi)
        if not touched:
            break
        i, j = touched[0], touched[-1]
        qualname = ".".join(names) or "module"
        indent = lines[_first_line(statements[i])][: statements[i].col_offset] if lines else ""

        level: list[Candidate] = []
        stmt = statements[i]
        inner = None
        if i == j and _within(body.extents[i][1], body.extents[i][2], lo, hi):
            header = _header(stmt, lines, lo, hi)
            if header is not None:
                level.append(Candidate("statement", (body.extents[i][1], header[0]), indent,
                                       scope, qualname, function, suffix=header[1], side=side))
            level.append(Candidate("statement", (body.extents[i][1], body.extents[i][2]), indent,
                                   scope, qualname, function, side=side))
            inner = next((b for b in _bodies(stmt) if _within(
                _Body(b, lines, stmt.lineno).extents[0][0], b[-1].end_lineno, lo, hi)), None)
        # Windows reach one statement beyond the conflict on each side (anchors: they give the
        # merge its context), and over the whole run of imports the conflict touches, so that an
        # import a side moved (sorted the block) is seen as moved, not as deleted.
        a, b = i - 1, j + 1
        if any(isinstance(s, (ast.Import, ast.ImportFrom)) for s in statements[max(a, 0):b + 1]):
            while a > 0 and isinstance(statements[a - 1], (ast.Import, ast.ImportFrom)):
                a -= 1
            while b + 1 < len(statements) and isinstance(statements[b + 1], (ast.Import, ast.ImportFrom)):
                b += 1
        a, b = max(a, 0), min(b, len(statements) - 1)
        level.append(Candidate("body", (body.extents[a][0], body.extents[b][2]), indent, scope, qualname, function,
                               side=side))
        found[:0] = level  # deeper levels go first
        if inner is None:
            break
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            scope, function = "function", stmt
            names = [*names, stmt.name]
        elif isinstance(stmt, ast.ClassDef):
            scope, function = "class", None
            names = [*names, stmt.name]
        statements, floor = inner, stmt.lineno
    return found


def materialize(frame: Frame, conflict_index: int, candidate: Candidate) -> Region | None:
    """Cut the candidate out of all three views and parse it; None when it does not fit."""
    start = frame.boundary(candidate.lines[0], at_end=False, side=candidate.side)
    end = frame.boundary(candidate.lines[1], at_end=True, side=candidate.side)
    if start is None or end is None or not (start <= (conflict_index, 0) and end >= (conflict_index + 1, 0)):
        return None
    offsets, snippets = {}, {}
    for side in SIDES:
        first, last = frame.line(side, start), frame.line(side, end)
        begin, stop = frame.offset(side, first), frame.offset(side, last)
        snippet = parse_region(frame.views[side][begin:stop], candidate.indent, candidate.suffix)
        if snippet is None:
            return None
        if candidate.kind == "statement" and len(snippet.statements) != 1:
            return None
        offsets[side], snippets[side] = begin, snippet
    if not all(covers(snippet) for snippet in snippets.values()):
        return None
    return Region(candidate, start, end, offsets, snippets)

"""How a merged sequence is written back as text, in the file's own layout.

Two layouts are understood; anything else is left to a human.

- *One element per line* (what formatters produce once a call or signature is too long): each
  element is a unit of whole lines — the comment lines above it, its indentation, the element,
  its comma and trailing comment, the newline. Units are moved as they are; the comma is added
  or dropped so that only the last element's trailing comma follows the file's choice.
- *All on one line*: elements joined with the file's separator (`", "`).

Statements and decorators are units of whole lines already (libcst gives each statement its
leading comments and its newline), so they are concatenated as they are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_AFTER = re.compile(r"[ \t]*(,)?([ \t]*(?:#[^\r\n]*)?)(\r\n|\n)")
_SEPARATOR = re.compile(r"[ \t]*,[ \t]*")


@dataclass(frozen=True)
class Unit:
    """One element with the text around it that travels with it."""

    lead: str  # comment lines above and indentation ("" in the one-line layout)
    bare: str  # the element itself
    comma: bool  # followed by a comma in its own version
    trail: str  # after the comma: trailing comment and newline ("" in the one-line layout)


@dataclass(frozen=True)
class Layout:
    """One version's sequence: its layout and the text range its units occupy."""

    kind: str  # "lines", "line", "empty"
    units: tuple[Unit, ...]
    start: int
    end: int
    separator: str = ", "  # the one-line layout's separator
    trailing_comma: bool = False  # "lines": the last element has a comma
    indent: str = ""  # "lines": the first element's indentation


def _line_start(text: str, index: int) -> int:
    return text.rfind("\n", 0, index) + 1


def _is_comment_or_blank(line: str) -> bool:
    stripped = line.strip()
    return not stripped or stripped.startswith("#")


def read_layout(text: str, spans: list[tuple[int, int]]) -> Layout | None:
    """The layout of elements at `spans` (each element's own text, no separator) in `text`."""
    if not spans:
        return Layout("empty", (), 0, 0)
    return _one_per_line(text, spans) or _one_line(text, spans)


def _one_line(text: str, spans: list[tuple[int, int]]) -> Layout | None:
    if "\n" in text[spans[0][0]:spans[-1][1]]:
        return None
    if not all(_SEPARATOR.fullmatch(text[spans[i][1]:spans[i + 1][0]]) for i in range(len(spans) - 1)):
        return None
    units = tuple(Unit("", text[a:b], True, "") for a, b in spans)
    separator = text[spans[0][1]:spans[1][0]] if len(spans) > 1 else ", "
    return Layout("line", units, spans[0][0], spans[-1][1], separator=separator)


def _one_per_line(text: str, spans: list[tuple[int, int]]) -> Layout | None:
    units: list[Unit] = []
    first_start = previous_end = None
    for i, (a, b) in enumerate(spans):
        line_start = _line_start(text, a)
        if text[line_start:a].strip():
            return None  # shares its line with something before it
        after = _AFTER.match(text, b)
        if after is None or (i < len(spans) - 1 and not after.group(1)):
            return None
        if previous_end is None:
            start = line_start
            while start > 0:
                above = _line_start(text, start - 1)
                if not _is_comment_or_blank(text[above:start]):
                    break
                start = above
            first_start = start
        else:
            start = previous_end
            if any(not _is_comment_or_blank(line) for line in text[start:line_start].splitlines()):
                return None
        units.append(Unit(text[start:a], text[a:b], bool(after.group(1)), after.group(2) + after.group(3)))
        previous_end = after.end()
    return Layout("lines", tuple(units), first_start, previous_end, trailing_comma=units[-1].comma,
                  indent=text[_line_start(text, spans[0][0]):spans[0][0]])


def choose(base: Layout | None, ours: Layout, theirs: Layout) -> Layout | None:
    """The layout the merged sequence is written in: the one both sides share, or the one a side
    changed to; None when both changed it differently."""

    def shape(layout: Layout) -> tuple:
        return (layout.kind, layout.trailing_comma) if layout.kind == "lines" else (layout.kind,)

    if ours.kind == "empty":
        return theirs if theirs.kind != "empty" else ours
    if theirs.kind == "empty" or shape(ours) == shape(theirs):
        return ours
    if base is not None and base.kind != "empty":
        if shape(base) == shape(ours):
            return theirs
        if shape(base) == shape(theirs):
            return ours
    if ours.kind == theirs.kind:  # only the trailing comma differs: keep ours
        return ours
    return None


def render(layout: Layout, units: list[tuple[Unit, bool]], newline: str = "\n") -> str | None:
    """The merged elements in `layout`; each unit comes with whether its version used that layout.

    None when an element written over several lines would have to change its indentation.
    """
    if layout.kind in ("line", "empty"):
        if any("\n" in unit.bare for unit, _ in units):
            return None
        return layout.separator.join(unit.bare for unit, _ in units)
    out = []
    for index, (unit, native) in enumerate(units):
        last = index == len(units) - 1
        comma = "," if (not last or layout.trailing_comma) else ""
        if native:
            out.append(f"{unit.lead}{unit.bare}{comma}{unit.trail}")
        else:
            if "\n" in unit.bare:
                return None
            out.append(f"{layout.indent}{unit.bare}{comma}{newline}")
    return "".join(out)

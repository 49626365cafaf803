"""Docstrings: `name: description` entries (argument lists) added by both sides are merged;
prose and doctest examples changed on both sides are left to a human."""

from __future__ import annotations

import re

import libcst as cst

from stacker.structural.describe import both_contributed, summarize
from stacker.structural.nodes import Ctx, Edit, Outcome, refuse
from stacker.structural.policies import DocEntries, with_stack_order
from stacker.structural.result import StructuralMerge
from stacker.structural.sequence import Item, Refused, merge_sequences

SIDES = ("base", "ours", "theirs")


_STRING = re.compile(r"(?s)([rRuU]*)(\"\"\"|'''|\"|')(.*)\2")
_ENTRY = re.compile(r"[ \t]*(\*{0,2}[A-Za-z_]\w*)[ \t]*(\([^)\n]*\))?[ \t]*:(\s|$)")


_SECTION = re.compile(r"[ \t]*[A-Z][\w ]*:[ \t]*\r?\n?")


def _entries(body: str) -> list[Item]:
    """A docstring cut into entries: a line and the more-indented lines that continue it
    (a section header like `Args:` is an entry of its own)."""
    entries: list[list[str]] = []
    for line in body.splitlines(keepends=True):
        indent = len(line) - len(line.lstrip())
        head = entries[-1][0] if entries else ""
        if head.strip() and line.strip() and indent > _indent(head) and not _SECTION.fullmatch(head):
            entries[-1].append(line)
        else:
            entries.append([line])
    items = []
    for lines in entries:
        text = "".join(lines)
        match = _ENTRY.match(lines[0])
        key = ("entry", _indent(lines[0]), match.group(1)) if match else None
        items.append(Item(key, text, label=match.group(1) if match else lines[0].strip()))
    return items


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def merge_docstring(ctx: Ctx, values: tuple[cst.SimpleString, cst.SimpleString, cst.SimpleString]) -> Outcome:
    """Three versions of a bare string statement (a docstring): merged entry by entry."""
    o, t = values[1], values[2]
    parts = [_STRING.fullmatch(ctx.code(side, v)) for side, v in zip(SIDES, values, strict=True)]
    if any(p is None for p in parts) or len({(p.group(1), p.group(2)) for p in parts}) != 1:
        return refuse(ctx, "string statement: quotes differ")
    items = [_entries(p.group(3)) for p in parts]
    try:
        plan = merge_sequences(*items, with_stack_order(ctx, DocEntries()))
    except Refused as refused:
        return refuse(ctx, f"docstring: {refused}")
    if any(p.both for p in plan.picks):
        return refuse(ctx, "docstring: both sides changed the same entry")
    # Only `name: ...` entries (argument lists and the like) are merged; prose is for a human.
    prose = [items[0][i] for side in ("ours", "theirs") for i in plan.changed[side] + plan.deleted[side]] + \
        [items[1][j] for j in plan.inserted["ours"]] + [items[2][j] for j in plan.inserted["theirs"]]
    if any(item.key is None for item in prose):
        return refuse(ctx, "docstring: prose changed on both sides")
    touched = [items[SIDES.index(p.side)][p.index].text for p in plan.picks]
    changed = [items[1][j].text for j in plan.inserted["ours"]] + [items[2][j].text for j in plan.inserted["theirs"]]
    if any(">>>" in text for text in changed):
        return refuse(ctx, "docstring: doctest examples changed")
    text = parts[1].group(1) + parts[1].group(2) + "".join(touched) + parts[1].group(2)
    out = Outcome()
    for side, node in (("ours", o), ("theirs", t)):
        start, end = ctx.span(side, node)
        if ctx.text(side)[start:end] != text:
            out.edits[side].append(Edit(start, end, text))
    if both_contributed(plan):
        out.merges.append(StructuralMerge(
            ctx.qualname, "docstring", f"docstring: {summarize(plan, dict(zip(SIDES, items, strict=True)))}",
            tuple(ctx.code(side, v) for side, v in zip(SIDES, values, strict=True)), text))
    return out



"""A line all three versions have cannot vanish from a merge of them.

Neither side deleted it, so a correct merge keeps it. Two line alignments that disagree can
still lose one: one side reordered two branches of an `if`, the other edited a line inside one,
and the structural merge re-ran git on its rewritten views, whose alignment paired the moved
branch's lines with the other branch's (setuptools' `egg_info.py`, replaying its history: the
result dropped `dirurl = data[0][3]`, present in base, ours and theirs, and ran the other
branch's line in its place). Lines are compared without their indentation (a block one side
wrapped is re-indented, not lost). Only lines each version holds exactly once are checked: of a
repeated line (`)`, `try:`, a decorator on every test) each side may delete a different copy,
and the merge rightly keeps fewer (three files of the 892 replayed merges, all as the humans
merged them).
"""

from __future__ import annotations

from collections import Counter


def _line_counts(text: str) -> Counter[str]:
    return Counter(stripped for line in text.splitlines() if (stripped := line.strip()))


def lost_common_line(result: str, base: str, ours: str, theirs: str) -> str | None:
    """The first line (in base's order) that base, ours and theirs each hold once and the result
    does not hold, as a sentence; None when every such line survived."""
    kept = _line_counts(result)
    counts = [_line_counts(text) for text in (base, ours, theirs)]
    for line in base.splitlines():
        stripped = line.strip()
        if stripped and all(c[stripped] == 1 for c in counts) and not kept[stripped]:
            shown = stripped if len(stripped) <= 60 else stripped[:57] + "..."
            return f"lost `{shown}`, a line base, ours and theirs all have"
    return None

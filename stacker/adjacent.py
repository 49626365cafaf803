"""Hunks where the two sides edited neighbouring lines, not the same ones.

git needs an unchanged line between two edits to merge them; when one side rewrites a line and
the other side rewrites the next one, git reports a conflict although no line was edited twice.
This layer re-diffs such a hunk line by line against its base section and combines the edits
when no base line is touched by both sides and no two insertions compete for the same spot; an
insertion that lands on the edge of the other side's edit keeps its side of that edge. The
result must parse (for Python files) or the hunk stays a conflict.

Four shapes look like neighbouring edits but are not independent, and stay conflicts (all found
by replaying real merges, `bench/merge_eval.py`):

- both sides added the same line in different edits (a decorator, an import, an `if
  TYPE_CHECKING:` block): combining them writes it twice;
- one side moved a line (an import re-sorted) that the other side deleted: both deleted it from
  its old place, so the union keeps the moved copy the deleting side wanted gone;
- a hunk with import lines whose union breaks the sort order that a side's import run (with the
  import lines around the hunk) keeps: where the new line goes is the file's convention, which a
  line union does not know;
- both sides added a call to the same function, or an `if` on the same test (with or without
  `not`): two ways of doing one thing (tornado: each side logged a rejected request in its own
  words, and both calls would run; setuptools: one side returned early if a key was missing,
  the other put an `if` around the lookup).

Only whole statements qualify. Inside brackets — an argument, parameter or element list — the
order of elements can carry meaning (positional arguments bind by place: a kernel's `__call__`
signature and the `compile_args` list that feeds it must agree), and a line-level union cannot
see that; such hunks are left to the structural layer, which knows keyword from positional.
"""

from __future__ import annotations

import difflib
import io
import re
import tokenize
from collections import Counter
from dataclasses import dataclass
from itertools import pairwise

from stacker.filemerge import HunkAnswer, HunkAt, LayerOutcome, resolve_hunk_by_hunk, with_text
from stacker.hunks import is_import_line
from stacker.linemerge import Clean, Conflict, MergedText
from stacker.pysource import parse_module

Edit = tuple[int, int, list[str]]  # base lines [start, end) replaced by these lines
_NAME = re.compile(r"[A-Za-z_]\w")  # a line that says something (not a lone bracket or blank)


def _edits(base: list[str], side: list[str]) -> list[Edit]:
    matcher = difflib.SequenceMatcher(None, base, side, autojunk=False)
    return [(i1, i2, side[j1:j2]) for tag, i1, i2, j1, j2 in matcher.get_opcodes() if tag != "equal"]


def _clash(a: Edit, b: Edit) -> bool:
    (a0, a1, _), (b0, b1, _) = a, b
    if a0 == a1 and b0 == b1:
        return a0 == b0  # two insertions at one spot: their order is a decision
    if a0 == a1:
        return b0 < a0 < b1  # an insertion strictly inside the other side's rewrite
    if b0 == b1:
        return a0 < b0 < a1
    return a0 < b1 and b0 < a1  # a base line rewritten by both


def combine(hunk: Conflict) -> str | None:
    """The hunk with both sides' edits applied, or None when they touch the same base lines."""
    base = hunk.base.splitlines(keepends=True)
    ours, theirs = _edits(base, hunk.ours.splitlines(keepends=True)), _edits(base, hunk.theirs.splitlines(keepends=True))
    if not ours or not theirs or _moved_and_deleted(base, ours, theirs):
        return None
    theirs = [e for e in theirs if e not in ours]  # an identical edit on both sides counts once
    if any(_clash(a, b) for a in ours for b in theirs):
        return None
    if _heads(ours) & _heads(theirs):
        return None
    # insertions sort before a rewrite starting at the same line; a rewrite ending there comes first
    edits = sorted(ours + theirs, key=lambda e: (e[0], e[1] != e[0]))
    out: list[str] = []
    cursor = 0
    for start, end, lines in edits:
        out.extend(base[cursor:start])
        out.extend(lines)
        cursor = max(cursor, end)
    out.extend(base[cursor:])
    if _repeats_a_line(out, hunk):
        return None
    return "".join(out)


_CALL_HEAD = re.compile(r"\s*([A-Za-z_][\w.]*)\(")
_IF_HEAD = re.compile(r"\s*(?:el)?if\s+(.*):\s*$")


def _heads(edits: list[Edit]) -> set[str]:
    """What the added statements do, roughly: the function a call statement calls, the test of
    an `if` with `not` left out."""
    found: set[str] = set()
    for _, _, lines in edits:
        for line in lines:
            if (m := _IF_HEAD.match(line)):
                found.add("if " + " ".join(w for w in m.group(1).split() if w != "not"))
            elif (m := _CALL_HEAD.match(line)):
                found.add(m.group(1))
    return found


def _moved_and_deleted(base: list[str], ours: list[Edit], theirs: list[Edit]) -> bool:
    """Whether a side moved a line (deleted it from its place, inserted it at another) that the
    other side deleted: the deletion both share counts once, so a union would keep the line."""
    once = {line for line, n in Counter(line.strip() for line in base).items() if n == 1}

    def deleted(edits: list[Edit]) -> set[str]:
        return {line.strip() for start, end, _ in edits for line in base[start:end]} & once

    def moved(edits: list[Edit]) -> set[str]:
        return deleted(edits) & {line.strip() for _, _, lines in edits for line in lines if _NAME.search(line)}
    return bool(moved(ours) & deleted(theirs) or moved(theirs) & deleted(ours))


def _import_groups(lines: list[str]) -> list[list[str]]:
    """Runs of import lines (a blank or other line ends a run), as the imported module names."""
    groups: list[list[str]] = [[]]
    for line in lines:
        words = line.split()
        if is_import_line(line) and len(words) > 1 and not line[0].isspace():
            groups[-1].append(("~" if words[0] == "from" else "") + words[1].lower())
        elif groups[-1]:
            groups.append([])
    return [g for g in groups if len(g) > 1]


def _sorted_by(groups: list[list[str]], key) -> bool:
    return all(all(key(a) <= key(b) for a, b in pairwise(g)) for g in groups)


def _breaks_import_order(result: str, ours: str, theirs: str) -> bool:
    """Whether a side keeps its imports sorted (by module; `import` lines first, or mixed) and the
    result does not: the file has a convention, and a human sorts the new line in."""
    merged = _import_groups(result.splitlines())
    sides = [_import_groups(text.splitlines()) for text in (ours, theirs)]
    for key in (lambda m: m, lambda m: m.lstrip("~")):
        if any(groups and _sorted_by(groups, key) for groups in sides) and not _sorted_by(merged, key):
            return True
    return False


def _import_run_around(merged: MergedText, index: int) -> tuple[str, str]:
    """The import lines that run up to hunk `index` and on from it (every side has them)."""
    def run(segment, reverse: bool) -> list[str]:
        lines = segment.text.splitlines(keepends=True) if isinstance(segment, Clean) else []
        taken = []
        for line in reversed(lines) if reverse else lines:
            if not is_import_line(line):
                break
            taken.append(line)
        return taken[::-1] if reverse else taken
    segments = merged.segments
    before = run(segments[index - 1], True) if index > 0 else []
    after = run(segments[index + 1], False) if index + 1 < len(segments) else []
    return "".join(before), "".join(after)


def _unsafe_python(merged: MergedText, index: int, text: str, result: str) -> bool:
    """The checks of a combined hunk in its file: the file parses, and the import run around the
    hunk stays sorted where a side kept it sorted."""
    if parse_module(result) is None:
        return True
    hunk = merged.segments[index]
    assert isinstance(hunk, Conflict)
    if any(is_import_line(line) for line in (hunk.base + hunk.ours + hunk.theirs).splitlines()):
        before, after = _import_run_around(merged, index)
        for ahead, behind in (("", ""), (before, after)):  # the hunk alone, then with its neighbours
            if _breaks_import_order(ahead + text + behind, ahead + hunk.ours + behind, ahead + hunk.theirs + behind):
                return True
    return False


def _repeats_a_line(result: list[str], hunk: Conflict) -> bool:
    """Whether a line with a name in it occurs more often in the result than in either side."""
    counts = {side: Counter(line.strip() for line in text.splitlines()) for side, text in
              (("ours", hunk.ours), ("theirs", hunk.theirs))}
    for line, n in Counter(line.strip() for line in result).items():
        if _NAME.search(line) and n > max(counts["ours"][line], counts["theirs"][line]):
            return True
    return False


def bracket_depths(source: str) -> list[int] | None:
    """Open-bracket depth at the start of every line (0-based index), or None if it does not tokenize."""
    lines = source.count("\n") + 1
    depth_at = [0] * (lines + 1)
    depth = 0
    row_seen = 1
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            row = token.start[0]
            while row_seen < row:
                row_seen += 1
                depth_at[row_seen - 1] = depth
            if token.type == tokenize.OP and token.string in "([{":
                depth += 1
            elif token.type == tokenize.OP and token.string in ")]}":
                depth -= 1
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return None
    while row_seen < lines:
        row_seen += 1
        depth_at[row_seen - 1] = depth
    return depth_at


def _depth(depths: list[int], line: int) -> int:
    return depths[line] if line < len(depths) else 0


@dataclass
class AdjacentEditsLayer:
    name: str = "adjacent"

    def resolve(self, path: str, merged: MergedText) -> LayerOutcome | None:
        python = path.endswith(".py")
        depths = bracket_depths(merged.view("ours")) if python else None
        if python and depths is None:
            return None

        def attempt(at: HunkAt, resolved: dict[int, str]) -> HunkAnswer | None:
            if depths is not None and (_depth(depths, at.start) or _depth(depths, at.end)):
                return None  # inside an argument, parameter or element list: order may be positional
            text = combine(at.hunk)
            if text is None:
                return None
            if python and _unsafe_python(merged, at.index, text, with_text(merged, resolved, at.index, text)):
                return None
            return HunkAnswer(text, "the sides edited neighbouring lines, none the same; both kept")

        return resolve_hunk_by_hunk(self.name, path, merged, attempt)

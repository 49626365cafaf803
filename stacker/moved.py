"""Edits to code that the other side moved: apply the edit where the code now lives.

Upstream refactors under open PRs: a block of `f` becomes a helper `g`, and `f` now calls `g`. A
PR that edited the block then conflicts at the old place — its side still has the block, the
bundle side has the call. A maintainer resolves this by keeping the call and making the PR's edit
inside `g`. This layer does the same, and only when it can do it exactly:

- the bundle side no longer holds the lines the PR edited (the block moved; it was not edited in
  place, which would be a real conflict),
- a region elsewhere in the file matches the PR's base block (most of its lines, in order),
- every line the PR replaced or deleted occurs exactly once in that region, and every insertion
  has a unique anchor line; the edit is applied there, re-indented to the new place.

Otherwise the hunk stays a conflict.
"""

from __future__ import annotations

import difflib
from collections import Counter
from dataclasses import dataclass

from stacker.filemerge import LayerAction, LayerOutcome
from stacker.linemerge import Clean, Conflict, MergedText, Segment
from stacker.pysource import enclosing_qualname

_MIN_SIMILARITY = 0.6
_SIGNIFICANT = 8  # characters; shorter lines ("else:", ")") are too common to anchor on
_MIN_ANCHORS = 3  # significant base lines needed to recognise a moved block


@dataclass
class MovedBlockLayer:
    name: str = "moved"

    def resolve(self, path: str, merged: MergedText) -> LayerOutcome | None:
        actions: list[LayerAction] = []
        current = merged
        progress = True
        while progress:
            progress = False
            for index, (start, end) in current.conflict_spans("ours"):
                hunk = current.segments[index]
                assert isinstance(hunk, Conflict)
                outcome = _transplant(current, index, start, end, hunk)
                if outcome is None:
                    continue
                current, region_start = outcome
                ours_view = current.view("ours")
                where = (enclosing_qualname(ours_view, region_start + 1, region_start + 1) if path.endswith(".py")
                         else None) or f"line {region_start + 1}"
                actions.append(LayerAction(
                    layer=self.name, path=path, location=where,
                    detail=f"the bundle side moved this block to `{where}` (line {region_start + 1}); "
                           "the PR's edit was applied there and the bundle side kept here",
                    hunks=(hunk,), result=hunk.ours))
                progress = True
                break
        if not actions:
            return None
        return LayerOutcome(views=current.views(), actions=tuple(actions))


def _strip(lines: list[str]) -> list[str]:
    return [line.strip() for line in lines]


def _transplant(merged: MergedText, index: int, start: int, end: int,
                hunk: Conflict) -> tuple[MergedText, int] | None:
    base, ours, theirs = (hunk.base.splitlines(keepends=True), hunk.ours.splitlines(keepends=True),
                          hunk.theirs.splitlines(keepends=True))
    if not base:
        return None
    edits = [op for op in difflib.SequenceMatcher(None, _strip(base), _strip(theirs), autojunk=False).get_opcodes()
             if op[0] != "equal"]
    if not edits:
        return None
    ours_stripped = set(_strip(ours))
    edited = [line for _tag, i1, i2, _, _ in edits for line in _strip(base[i1:i2])]
    if any(line in ours_stripped for line in edited if len(line) >= _SIGNIFICANT):
        return None  # the bundle side still has the edited lines here: a real conflict, not a move
    anchors = [line for line in _strip(base) if len(line) >= _SIGNIFICANT]
    if len(anchors) < _MIN_ANCHORS:
        return None  # too little of the block to recognise it elsewhere
    if sum(line in ours_stripped for line in anchors) / len(anchors) >= 1 - _MIN_SIMILARITY:
        return None  # most of the block is still here: the bundle side edited it in place, it did not move it
    view = merged.view("ours").splitlines(keepends=True)
    region = _locate(base, view, (start, end))
    if region is None:
        return None
    r0, r1 = region
    if not _inside_clean(merged, r0, r1):
        return None
    new_region = _apply_edits(base, theirs, view[r0:r1], edits)
    if new_region is None:
        return None
    edited_merge = _replace_clean_lines(merged, r0, r1, "".join(new_region))
    # The conflict keeps its segment index only if the region lies after it; find it again by identity.
    segments = list(edited_merge.segments)
    position = next(i for i, s in enumerate(segments) if s is hunk)
    segments[position] = Clean(hunk.ours)
    return MergedText(_coalesce(segments)), r0


def _locate(base: list[str], view: list[str], exclude: tuple[int, int]) -> tuple[int, int] | None:
    """The region of `view` (outside `exclude`) that best matches `base`, or None."""
    wanted = _strip(base)
    have = _strip(view)
    votes: Counter[int] = Counter()
    for i, line in enumerate(wanted):
        if len(line) < _SIGNIFICANT:
            continue
        for p, other in enumerate(have):
            if other == line and not (exclude[0] <= p < exclude[1]):
                votes[p - i] += 1
    if not votes:
        return None
    offset, _ = votes.most_common(1)[0]
    slack = len(base)
    lo, hi = max(0, offset - slack), min(len(view), offset + len(base) + slack)
    if exclude[0] < hi and lo < exclude[1]:  # keep the window off the conflict itself
        if offset >= exclude[1]:
            lo = max(lo, exclude[1])
        else:
            hi = min(hi, exclude[0])
    matcher = difflib.SequenceMatcher(None, wanted, have[lo:hi], autojunk=False)
    blocks = [b for b in matcher.get_matching_blocks() if b.size]
    if not blocks:
        return None
    matched = sum(b.size for b in blocks)
    if matched / len(wanted) < _MIN_SIMILARITY:
        return None
    return lo + blocks[0].b, lo + blocks[-1].b + blocks[-1].size


def _apply_edits(base: list[str], theirs: list[str], region: list[str],
                 edits: list[tuple[str, int, int, int, int]]) -> list[str] | None:
    stripped = _strip(region)
    placed: list[tuple[int, int, list[str]]] = []  # (start, end) in region, replacement lines
    for _tag, i1, i2, j1, j2 in edits:
        if i2 > i1:
            source = _strip(base[i1:i2])
            hits = [q for q in range(len(stripped) - len(source) + 1) if stripped[q:q + len(source)] == source]
            if len(hits) != 1:
                return None
            q = hits[0]
            placed.append((q, q + (i2 - i1), _reindent(theirs[j1:j2], base[i1], region[q])))
        else:
            anchor_index = i1 - 1 if i1 > 0 else 0
            anchor = base[anchor_index].strip()
            if len(anchor) < _SIGNIFICANT:
                return None
            hits = [q for q, line in enumerate(stripped) if line == anchor]
            if len(hits) != 1:
                return None
            q = hits[0] + (1 if i1 > 0 else 0)
            placed.append((q, q, _reindent(theirs[j1:j2], base[anchor_index], region[hits[0]])))
    placed.sort()
    for (_, a1, _), (b0, _, _) in zip(placed, placed[1:], strict=False):
        if a1 > b0:
            return None
    out = list(region)
    for q0, q1, lines in reversed(placed):
        out[q0:q1] = lines
    return out


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def _reindent(lines: list[str], old_ref: str, new_ref: str) -> list[str]:
    old, new = _indent(old_ref), _indent(new_ref)
    if old == new:
        return list(lines)
    out = []
    for line in lines:
        if line.strip() and line.startswith(old):
            out.append(new + line[len(old):])
        elif line.strip() and len(old) > len(new) and line.startswith(old[: len(old) - len(new)]):
            out.append(line[len(old) - len(new):])
        else:
            out.append(line)
    return out


def _inside_clean(merged: MergedText, r0: int, r1: int) -> bool:
    for segment, (s0, s1) in zip(merged.segments, merged.line_spans("ours"), strict=True):
        if isinstance(segment, Conflict) and s0 < r1 and r0 < max(s1, s0 + 1):
            return False
    return True


def _replace_clean_lines(merged: MergedText, r0: int, r1: int, text: str) -> MergedText:
    """Replace ours-view lines [r0, r1), which lie in clean segments, by `text`."""
    out: list[Segment] = []
    inserted = False
    for segment, (s0, s1) in zip(merged.segments, merged.line_spans("ours"), strict=True):
        if isinstance(segment, Conflict) or s1 <= r0 or s0 >= r1:
            if isinstance(segment, Clean) and s0 >= r1 and not inserted:
                out.append(Clean(text))
                inserted = True
            out.append(segment)
            continue
        lines = segment.text.splitlines(keepends=True)
        before = lines[: max(0, r0 - s0)]
        after = lines[max(0, r1 - s0):]
        if before:
            out.append(Clean("".join(before)))
        if not inserted:
            out.append(Clean(text))
            inserted = True
        if after:
            out.append(Clean("".join(after)))
    if not inserted:
        out.append(Clean(text))
    return MergedText(tuple(out))


def _coalesce(segments: list[Segment]) -> tuple[Segment, ...]:
    out: list[Segment] = []
    for segment in segments:
        if isinstance(segment, Clean) and out and isinstance(out[-1], Clean):
            out[-1] = Clean(out[-1].text + segment.text)
        elif not (isinstance(segment, Clean) and not segment.text):
            out.append(segment)
    return tuple(out)

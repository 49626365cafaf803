"""git's line-based 3-way merge of one file, as a sequence of clean and conflicting segments.

Every resolution layer works on this representation. The merge is git's own (`git merge-file`,
the same xdiff code `git merge-tree` runs), in diff3 style: diff3 keeps each conflict's base
section and git then refrains from "zealous" hunk refinement, so every hunk carries the exact
base, ours and theirs text it came from.

A `MergedText` has three *views*: the merged file with every conflict replaced by its base, ours
or theirs section. Outside conflicts the views are identical, so a layer resolves a conflict by
making the ours and theirs views agree there and merging the views again (`remerge`).
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from stacker.errors import GitError

# A line that opens, separates or closes a conflict, as git writes them (`=======` alone is too
# common in real files to count).
CONFLICT_MARKER_LINE = re.compile(r"^(<{7}|>{7}|\|{7})( |$)", re.MULTILINE)

Side = Literal["base", "ours", "theirs"]
DEFAULT_MARKER_SIZE = 7
_MARKER_RUN = re.compile(r"^([<>=|])\1{6,}", re.MULTILINE)


@dataclass(frozen=True)
class Clean:
    """Lines every side agrees on (after git's merge)."""

    text: str


@dataclass(frozen=True)
class Conflict:
    """One conflict hunk: the three sections, each a run of whole lines."""

    base: str
    ours: str
    theirs: str

    def side(self, side: Side) -> str:
        return {"base": self.base, "ours": self.ours, "theirs": self.theirs}[side]


Segment = Clean | Conflict


@dataclass(frozen=True)
class Labels:
    """What the conflict markers call each side (shown to the user, never parsed)."""

    ours: str = "ours"
    base: str = "base"
    theirs: str = "theirs"


@dataclass(frozen=True)
class MergedText:
    segments: tuple[Segment, ...]

    @property
    def conflicts(self) -> list[Conflict]:
        return [s for s in self.segments if isinstance(s, Conflict)]

    @property
    def is_clean(self) -> bool:
        return not any(isinstance(s, Conflict) for s in self.segments)

    def view(self, side: Side) -> str:
        return "".join(s.text if isinstance(s, Clean) else s.side(side) for s in self.segments)

    def views(self) -> tuple[str, str, str]:
        return self.view("base"), self.view("ours"), self.view("theirs")

    def line_spans(self, side: Side) -> list[tuple[int, int]]:
        """0-based [start, end) line range of every segment within `view(side)`."""
        spans, line = [], 0
        for segment in self.segments:
            text = segment.text if isinstance(segment, Clean) else segment.side(side)
            n = _count_lines(text)
            spans.append((line, line + n))
            line += n
        return spans

    def conflict_spans(self, side: Side) -> list[tuple[int, tuple[int, int]]]:
        """(segment index, line span in `view(side)`) of every conflict."""
        spans = self.line_spans(side)
        return [(i, spans[i]) for i, s in enumerate(self.segments) if isinstance(s, Conflict)]

    def render(self, labels: Labels = Labels(), marker_size: int | None = None, diff3: bool = True) -> str:
        """The file as git writes it: conflict markers around every conflict (with the base
        section in diff3 style, without it in git's default "merge" style)."""
        size = marker_size or marker_size_for(*self.views())
        out = []
        for segment in self.segments:
            if isinstance(segment, Clean):
                out.append(segment.text)
                continue
            out.append(f"{'<' * size} {labels.ours}\n{_terminated(segment.ours)}")
            if diff3:
                out.append(f"{'|' * size} {labels.base}\n{_terminated(segment.base)}")
            out.append(f"{'=' * size}\n{_terminated(segment.theirs)}")
            out.append(f"{'>' * size} {labels.theirs}\n")
        return "".join(out)

    def marker_line_ranges(self, labels: Labels = Labels()) -> list[tuple[int, int]]:
        """1-based inclusive line range of each conflict (markers included) in `render()`."""
        ranges, line = [], 1
        for segment in self.segments:
            if isinstance(segment, Clean):
                line += _count_lines(segment.text)
                continue
            n = 4 + sum(_count_lines(_terminated(t)) for t in (segment.ours, segment.base, segment.theirs))
            ranges.append((line, line + n - 1))
            line += n
        return ranges


def _terminated(text: str) -> str:
    return text if not text or text.endswith("\n") else text + "\n"


def _count_lines(text: str) -> int:
    return text.count("\n") + (1 if text and not text.endswith("\n") else 0)


def marker_size_for(*texts: str) -> int:
    """A marker size longer than any marker-like run in the inputs, so parsing stays unambiguous."""
    longest = 0
    for text in texts:
        for match in _MARKER_RUN.finditer(text):
            longest = max(longest, len(match.group(0)))
    return max(DEFAULT_MARKER_SIZE, longest + 1)


def line_merge(base: str, ours: str, theirs: str) -> MergedText:
    """git's 3-way line merge of three texts, as segments (diff3 style)."""
    if ours == theirs:
        return MergedText((Clean(ours),))
    if base == ours:
        return MergedText((Clean(theirs),))
    if base == theirs:
        return MergedText((Clean(ours),))
    size = marker_size_for(base, ours, theirs)
    with tempfile.TemporaryDirectory(prefix="stacker-merge-") as tmp:
        paths = []
        for name, text in (("ours", ours), ("base", base), ("theirs", theirs)):
            path = Path(tmp, name)
            path.write_bytes(text.encode("utf-8", "surrogateescape"))
            paths.append(str(path))
        result = subprocess.run(
            ["git", "merge-file", "-p", "--diff3", f"--marker-size={size}",
             "-L", "ours", "-L", "base", "-L", "theirs", *paths],
            capture_output=True, env={**os.environ, "LC_ALL": "C"},
        )
    if result.returncode < 0 or result.returncode > 127:
        raise GitError(f"git merge-file failed: {result.stderr.decode(errors='replace').strip()}")
    merged = parse_markers(result.stdout.decode("utf-8", "surrogateescape"), size)
    return _restore_final_newlines(merged, base, ours, theirs)


def remerge(base: str, ours: str, theirs: str) -> MergedText:
    """Merge three views again after a layer edited them (an alias that says why it is called)."""
    return line_merge(base, ours, theirs)


def parse_markers(text: str, marker_size: int = DEFAULT_MARKER_SIZE) -> MergedText:
    """Segments of a file with diff3 (or plain merge-style) markers of exactly `marker_size`."""
    start, mid_base, sep, end = ("<" * marker_size, "|" * marker_size, "=" * marker_size, ">" * marker_size)

    def is_marker(line: str, marker: str, label: bool) -> bool:
        body = line.rstrip("\r\n")
        if label:
            return body == marker or body.startswith(marker + " ")
        return body == marker

    segments: list[Segment] = []
    clean: list[str] = []
    state, sections = "clean", {"ours": [], "base": [], "theirs": []}
    has_base = False
    for line in text.splitlines(keepends=True):
        if state == "clean":
            if is_marker(line, start, True):
                if clean:
                    segments.append(Clean("".join(clean)))
                    clean = []
                state, sections, has_base = "ours", {"ours": [], "base": [], "theirs": []}, False
            else:
                clean.append(line)
        elif state == "ours" and is_marker(line, mid_base, True):
            state, has_base = "base", True
        elif state in ("ours", "base") and is_marker(line, sep, False):
            state = "theirs"
        elif state == "theirs" and is_marker(line, end, True):
            segments.append(Conflict(
                base="".join(sections["base"]) if has_base else "",
                ours="".join(sections["ours"]),
                theirs="".join(sections["theirs"]),
            ))
            state = "clean"
        else:
            sections[state].append(line)
    if state != "clean":
        raise ValueError("unterminated conflict marker")
    if clean:
        segments.append(Clean("".join(clean)))
    return MergedText(tuple(segments))


def _restore_final_newlines(merged: MergedText, base: str, ours: str, theirs: str) -> MergedText:
    """git terminates every conflict section with a newline; undo that at the end of a side's file."""
    if merged.is_clean or not merged.segments or not isinstance(merged.segments[-1], Conflict):
        return merged
    last = merged.segments[-1]
    fixed = Conflict(
        base=last.base[:-1] if base and not base.endswith("\n") and last.base.endswith("\n") else last.base,
        ours=last.ours[:-1] if ours and not ours.endswith("\n") and last.ours.endswith("\n") else last.ours,
        theirs=last.theirs[:-1] if theirs and not theirs.endswith("\n") and last.theirs.endswith("\n") else last.theirs,
    )
    return MergedText(merged.segments[:-1] + (fixed,))


def resolve_trivial(merged: MergedText) -> tuple[MergedText, int]:
    """Resolve hunks where the sides agree or only one side changed; returns (merged, count).

    git's EAGER level (forced by diff3 style) can leave such hunks when identical and differing
    changes touch; they are true 3-way resolutions, not guesses.
    """
    out: list[Segment] = []
    resolved = 0
    for segment in merged.segments:
        if isinstance(segment, Conflict):
            if segment.ours == segment.theirs or segment.base == segment.theirs:
                segment, resolved = Clean(segment.ours), resolved + 1
            elif segment.base == segment.ours:
                segment, resolved = Clean(segment.theirs), resolved + 1
        if isinstance(segment, Clean) and out and isinstance(out[-1], Clean):
            out[-1] = Clean(out[-1].text + segment.text)
        else:
            out.append(segment)
    return MergedText(tuple(out)), resolved

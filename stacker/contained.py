"""Hunks where one side's edit contains the other's.

Two branches often make the same change and one of them goes further: both add the same
decorator and one also renames the method below it; both drop `six.text_type` and one also
rewrites the message; one reformats a signature and the other reformats it the same way and adds
a return annotation. git compares whole lines, so the lines differ and it reports a conflict,
although nothing one side did is lost by taking the other side's text.

The test is git's own 3-way merge, run on the hunk split into words, spaces and single
characters (one per line): when that merge is clean and its result *is* one side's section, every
token the other side changed, that side changed the same way. The larger side is kept. Anything
else — both sides changing different tokens of a line, however far apart — stays a conflict: a
word-level union of two edits is a new text neither side wrote (two version bumps combined into a
version nobody released), which this layer does not guess at.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from stacker.filemerge import HunkAnswer, HunkAt, LayerOutcome, resolve_hunk_by_hunk, with_text
from stacker.linemerge import Conflict, MergedText, line_merge
from stacker.pysource import parse_module

_TOKEN = re.compile(r"\w+|[ \t]+|\n|.", re.DOTALL)


def _as_lines(*texts: str) -> tuple[str, ...]:
    """Each text as one token number per line, numbered alike across the texts: git's line merge
    of these is a token merge (a number never contains a newline, whatever its token is)."""
    numbers: dict[str, int] = {}
    return tuple("".join(f"{numbers.setdefault(token, len(numbers))}\n" for token in _TOKEN.findall(text))
                 for text in texts)


def containing_side(hunk: Conflict) -> str | None:
    """"ours" or "theirs" when that side's edit contains the other's, else None."""
    if hunk.ours == hunk.theirs or hunk.base in (hunk.ours, hunk.theirs):
        return None  # git's trivial cases, resolved before any layer runs
    base, ours, theirs = _as_lines(hunk.base, hunk.ours, hunk.theirs)
    merged = line_merge(base, ours, theirs)
    if not merged.is_clean:
        return None
    result = merged.view("ours")
    if result == ours:
        return "ours"
    if result == theirs:
        return "theirs"
    return None


@dataclass
class ContainedEditLayer:
    name: str = "contained"

    def resolve(self, path: str, merged: MergedText) -> LayerOutcome | None:
        def attempt(at: HunkAt, resolved: dict[int, str]) -> HunkAnswer | None:
            side = containing_side(at.hunk)
            if side is None:
                return None
            text = at.hunk.side(side)
            if path.endswith(".py") and parse_module(with_text(merged, resolved, at.index, text)) is None:
                return None
            other = "theirs" if side == "ours" else "ours"
            return HunkAnswer(text, f"{side}' edit contains {other}' (every token {other} changed, "
                                    f"{side} changed the same way); kept {side}")

        return resolve_hunk_by_hunk(self.name, path, merged, attempt)

"""Text operations on a conflict hunk's sections that codified claims share.

A claim sees a hunk as three runs of whole lines (base, ours, theirs). Most bundle decisions are
one of a few shapes over those lines — "keep both insertions, ours first", "theirs only added
these lines, drop them and keep ours", "re-indent a block into a new place" — and these helpers
say them once, exactly, and answer None when the hunk does not have the expected shape, so a
claim built on them declines rather than guesses.
"""

from __future__ import annotations

import difflib
import textwrap
from collections.abc import Callable

import libcst as cst

from stacker.linemerge import Conflict


def lines(text: str) -> list[str]:
    """The section's lines, each with its newline."""
    return text.splitlines(keepends=True)


def indent_of(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def is_import_line(line: str) -> bool:
    """Whether the line starts an `import` or `from ... import` statement."""
    return line.lstrip().startswith(("import ", "from ")) and " import" in f" {line.strip()}"


def appended(base: str, side: str) -> list[str] | None:
    """The lines `side` added after an unchanged `base` section, or None if it did anything else."""
    b, s = lines(base), lines(side)
    if s[: len(b)] != b:
        return None
    return s[len(b):]


def prepended(base: str, side: str) -> list[str] | None:
    """The lines `side` added before an unchanged `base` section, or None if it did anything else."""
    b, s = lines(base), lines(side)
    if len(s) < len(b) or s[len(s) - len(b):] != b:
        return None
    return s[: len(s) - len(b)]


def _rewrite_start(base_first: str, side: list[str]) -> int | None:
    """Where `side`'s rewrite of the base section starts: the line most like the base's first line."""
    scores = [difflib.SequenceMatcher(None, base_first.strip(), line.strip()).ratio() for line in side]
    if not scores or max(scores) < 0.5:
        return None
    return scores.index(max(scores))


def ours_then_theirs(hunk: Conflict) -> str | None:
    """Both sides inserted lines at the same place: ours' insertion first, then theirs'.

    Shapes handled (anything else: None):
    - the base section is empty: ours, then theirs;
    - theirs appended lines after an unchanged base section: ours (whatever it did), then them;
    - theirs inserted lines before an unchanged base section, and ours inserted lines before its
      own version of that section: ours' insertion, theirs' insertion, ours' version of the rest.
    """
    if not hunk.base:
        return hunk.ours + hunk.theirs
    tail = appended(hunk.base, hunk.theirs)
    if tail:
        return hunk.ours + "".join(tail)
    head = prepended(hunk.base, hunk.theirs)
    if head:
        ours = lines(hunk.ours)
        split = _rewrite_start(lines(hunk.base)[0], ours)
        if split is None:
            return None
        return "".join(ours[:split] + head + ours[split:])
    return None


def without_lines(text: str, unwanted: Callable[[str], bool]) -> str:
    return "".join(line for line in lines(text) if not unwanted(line))


def only_adds(hunk: Conflict, added: Callable[[str], bool]) -> bool:
    """Whether theirs differs from base only by lines `added` accepts (inserted anywhere)."""
    return without_lines(hunk.theirs, added) == hunk.base and hunk.theirs != hunk.base


def dedent_block(text: str) -> tuple[str, str]:
    """(the common indentation, the text without it)."""
    body = textwrap.dedent(text)
    first = next((line for line in lines(text) if line.strip()), "")
    first_body = next((line for line in lines(body) if line.strip()), "")
    return first[: len(first) - len(first_body)], body


def indent_block(text: str, prefix: str) -> str:
    return "".join(prefix + line if line.strip() else line for line in lines(text))


def keyword_names(section: str) -> list[str] | None:
    """The keyword names of a section made only of `name=value,` lines (one per line), else None."""
    names = []
    for line in lines(section):
        try:
            call = cst.parse_expression(f"f({line.strip()}\n)")
        except cst.ParserSyntaxError:
            return None
        if not isinstance(call, cst.Call) or len(call.args) != 1 or call.args[0].keyword is None \
                or not line.rstrip().split("#")[0].rstrip().endswith(","):
            return None
        names.append(call.args[0].keyword.value)
    return names


def keyword_union(hunk: Conflict) -> str | None:
    """Both sides added distinct keyword arguments (one per line) at the same place: ours, then theirs."""
    if hunk.base:
        return None
    ours, theirs = keyword_names(hunk.ours), keyword_names(hunk.theirs)
    if not ours or not theirs or set(ours) & set(theirs):
        return None
    return hunk.ours + hunk.theirs

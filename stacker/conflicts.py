"""What a user needs to know about a conflict nothing resolved: where, both sides, and who wrote them.

"Who" is the answer to "why does the bundle side look like this": `git blame` of the bundle side's
lines at the bundle tip names the upstream commits (or earlier PR steps) that last touched them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from stacker.gitrepo import Repository
from stacker.linemerge import Conflict


@dataclass(frozen=True)
class Blamed:
    sha: str
    subject: str


@dataclass(frozen=True)
class UnresolvedConflict:
    path: str
    kind: str  # "content", or git's conflict type for tree-level conflicts ("modify/delete", ...)
    qualname: str
    lines: tuple[int, int]  # 1-based, markers included, in the materialized file
    hunk: Conflict | None
    pr: int
    other_side: tuple[Blamed, ...]
    message: str = ""


def blame_section(repo: Repository, commit: str, path: str, file_text: str | None, section: str,
                  hint_line: int) -> tuple[Blamed, ...]:
    """The commits that last touched `section` (a run of lines of `path` at `commit`)."""
    if not file_text:
        return ()
    lines = file_text.splitlines(keepends=True)
    wanted = section.splitlines(keepends=True)
    start = _locate(lines, wanted, hint_line - 1)
    if start is None:
        return ()
    first, last = (start + 1, start + len(wanted)) if wanted else (max(start, 1), max(start, 1))
    status, out, _ = repo.run("blame", "--porcelain", "-L", f"{first},{last}", commit, "--", path)
    if status != 0:
        return ()
    seen: dict[str, str] = {}
    current = None
    for line in out.splitlines():
        header = re.match(r"^([0-9a-f]{40}) \d+ \d+", line)
        if header:
            current = header.group(1)
            seen.setdefault(current, "")
        elif current and line.startswith("summary "):
            seen[current] = line[len("summary "):]
    return tuple(Blamed(sha, subject) for sha, subject in seen.items())


def _locate(lines: list[str], wanted: list[str], hint: int) -> int | None:
    """Index where `wanted` occurs in `lines`, nearest to `hint`; for an empty run, `hint` itself."""
    if not wanted:
        return min(max(hint, 0), len(lines))
    n = len(wanted)
    matches = [i for i in range(len(lines) - n + 1) if lines[i] == wanted[0] and lines[i:i + n] == wanted]
    if not matches:
        return None
    return min(matches, key=lambda i: abs(i - hint))

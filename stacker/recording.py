"""Turning a human's edits in the conflict worktree into recorded resolutions.

The worktree file was written from the step's merge with markers; the human replaced each marked
region with its resolution. Aligning the marked file with the edited one (difflib) maps every
conflict's line range to the text that now stands in its place.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

from stacker.conflict_worktree import ConflictState
from stacker.errors import ConfigError
from stacker.gitrepo import Repository
from stacker.linemerge import CONFLICT_MARKER_LINE, Conflict
from stacker.recorded import RecordedStore, Recording


@dataclass(frozen=True)
class HumanResolution:
    path: str
    qualname: str
    hunk: Conflict
    text: str


def collect(repo: Repository, state: ConflictState) -> list[HumanResolution]:
    """The resolution of every content conflict in the worktree; errors name what is left."""
    worktree = Path(state.worktree)
    by_path: dict[str, list[dict]] = {}
    for conflict in state.conflicts:
        if conflict["hunk"] is None:
            raise ConfigError(f"{conflict['path']}: a {conflict['kind']} conflict cannot be recorded; "
                              "it needs a change to the stack (drop or reorder the PR, or add a patch)")
        by_path.setdefault(conflict["path"], []).append(conflict)
    found: list[HumanResolution] = []
    for path, conflicts in by_path.items():
        edited_file = worktree / path
        if not edited_file.exists():
            raise ConfigError(f"{edited_file}: missing; restore it or resolve the conflict in it")
        edited = edited_file.read_text(encoding="utf-8", errors="surrogateescape")
        leftover = CONFLICT_MARKER_LINE.search(edited)
        if leftover:
            line = edited.count("\n", 0, leftover.start()) + 1
            raise ConfigError(f"{edited_file}:{line}: still has a conflict marker; resolve it first")
        marked = repo.file_at(state.tree, path) or ""
        for conflict in conflicts:
            first, last = conflict["lines"]
            text = _mapped_region(marked, edited, first - 1, last)
            hunk = Conflict(**conflict["hunk"])
            found.append(HumanResolution(path, conflict["qualname"], hunk, text))
    return found


def _mapped_region(marked: str, edited: str, start: int, end: int) -> str:
    """Lines of `edited` that replaced lines [start, end) of `marked`."""
    a = marked.splitlines(keepends=True)
    b = edited.splitlines(keepends=True)
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    opcodes = matcher.get_opcodes()

    def mapped(position: int, at_start: bool) -> int:
        for tag, i1, i2, j1, j2 in opcodes:
            if i1 <= position <= i2:
                if tag == "equal":
                    return j1 + (position - i1)
                if position == i1:
                    return j1
                if position == i2:
                    return j2
                return j1 if at_start else j2
        return len(b)

    return "".join(b[mapped(start, True):mapped(end, False)])


def record_all(store: RecordedStore, resolutions: list[HumanResolution]) -> list[Recording]:
    return [store.record(r.hunk, r.path, r.qualname, r.text) for r in resolutions]

"""Which PRs of a stack touch the same code: the conflict forecast of `stacker plan`.

Each PR's diff (fork..head) is parsed with unidiff; two PRs overlap in a file when both change it,
and their hunks collide when their line ranges in that file (as of their forks) meet or come
within a few lines of each other — git's merge treats adjacent changes as one conflict region.
The upstream side (what the base changed since each PR's fork) is one more participant.
"""

from __future__ import annotations

from dataclasses import dataclass

from unidiff import PatchSet

from stacker.gitrepo import Repository

_NEAR = 3  # lines of context git needs between two changes to merge them cleanly


@dataclass(frozen=True)
class Change:
    """What one participant (a PR, or upstream since a fork) changes: line ranges per file."""

    label: str
    files: dict[str, list[tuple[int, int]]]
    added: int
    removed: int


@dataclass(frozen=True)
class Overlap:
    a: str
    b: str
    files: tuple[str, ...]  # both change these files
    colliding: tuple[str, ...]  # ... and these with overlapping or adjacent hunks


def change_between(repo: Repository, label: str, old: str, new: str) -> Change:
    text = repo.git("diff", "--no-color", "--no-renames", "-U0", old, new, strip=False)
    patch = PatchSet(text)
    files: dict[str, list[tuple[int, int]]] = {}
    for patched in patch:
        path = patched.path
        files[path] = [(h.source_start, h.source_start + max(h.source_length, 1) - 1) for h in patched]
    return Change(label=label, files=files, added=patch.added, removed=patch.removed)


def change_from_diff(label: str, diff: str) -> Change:
    """A patch file's change, with the same `-U0` ranges `change_between` gets from git (context dropped)."""
    patch = PatchSet(diff)
    files: dict[str, list[tuple[int, int]]] = {}
    for patched in patch:
        ranges: list[tuple[int, int]] = []
        for hunk in patched:
            before = hunk.source_start - 1  # the source line an added run follows
            run: tuple[int, int] | None = None
            for line in hunk:
                if line.is_context:
                    before = line.source_line_no
                    if run:
                        ranges.append(run)
                        run = None
                    continue
                at = line.source_line_no if line.is_removed else max(before, 1)
                if line.is_removed:
                    before = line.source_line_no
                run = (run[0], max(run[1], at)) if run else (at, at)
            if run:
                ranges.append(run)
        files[patched.path] = ranges
    return Change(label=label, files=files, added=patch.added, removed=patch.removed)


def overlaps(changes: list[Change]) -> list[Overlap]:
    found = []
    for i, a in enumerate(changes):
        for b in changes[i + 1:]:
            shared = sorted(set(a.files) & set(b.files))
            if not shared:
                continue
            colliding = [p for p in shared if _collide(a.files[p], b.files[p])]
            found.append(Overlap(a.label, b.label, tuple(shared), tuple(colliding)))
    return found


def _collide(left: list[tuple[int, int]], right: list[tuple[int, int]]) -> bool:
    return any(l0 <= r1 + _NEAR and r0 <= l1 + _NEAR for l0, l1 in left for r0, r1 in right)

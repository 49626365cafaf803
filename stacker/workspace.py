"""The work directory (`.stacker/` beside stack.yaml): stacker's own repository and its outputs.

Layout:
    repo.git/           bare repository: fetched upstream refs and the bundle branch
    conflict/           a git worktree where a stopped build materializes conflicted files
    conflict.json       what that worktree holds (for `stacker resolve`)
    BUNDLE.md, bundle.json   the last build's conflicts log
    verified.json       which verify: checks the published bundle passed (stacker.verified)
    lock                held (flock) by the running stacker process

The lock is an advisory `flock`: the kernel drops it when its process dies, even by kill -9, so a
killed build never blocks the next. Holding it also proves that any git `*.lock` file left in the
repository belongs to a dead process and may be removed.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from stacker.errors import BusyError
from stacker.gitrepo import Repository


@dataclass(frozen=True)
class Workspace:
    root: Path

    @property
    def repo_path(self) -> Path:
        return self.root / "repo.git"

    @property
    def conflict_worktree(self) -> Path:
        return self.root / "conflict"

    @property
    def conflict_state(self) -> Path:
        return self.root / "conflict.json"

    @property
    def report_markdown(self) -> Path:
        return self.root / "BUNDLE.md"

    @property
    def report_json(self) -> Path:
        return self.root / "bundle.json"

    @property
    def verified_record(self) -> Path:
        return self.root / "verified.json"

    def repository(self) -> Repository:
        return Repository(self.repo_path)

    @contextmanager
    def locked(self) -> Iterator[Repository]:
        """Hold the work directory exclusively; yields its repository, created on first use."""
        self.root.mkdir(parents=True, exist_ok=True)
        _ensure_ignored(self.root)
        fd = os.open(self.root / "lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise BusyError(f"{self.root}: another stacker process is working here; wait for it") from None
            repo = Repository.init_bare(self.repo_path)
            _remove_stale_git_locks(self.repo_path)
            yield repo
        finally:
            os.close(fd)


def workspace_for(stack_path: Path, workdir: Path | None = None) -> Workspace:
    return Workspace((workdir or stack_path.parent / ".stacker").resolve())


def _ensure_ignored(root: Path) -> None:
    """The work dir is never part of the user's repository, even without a .gitignore entry."""
    marker = root / ".gitignore"
    if not marker.exists():
        marker.write_text("*\n")


def _remove_stale_git_locks(repo: Path) -> None:
    for lock in list(repo.glob("*.lock")) + list((repo / "refs").rglob("*.lock")):
        lock.unlink(missing_ok=True)
    worktrees = repo / "worktrees"
    if worktrees.is_dir():
        for lock in worktrees.rglob("index.lock"):
            lock.unlink(missing_ok=True)

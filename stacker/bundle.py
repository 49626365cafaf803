"""The published bundle as the exports read it: its head, the upstream base it sits on, its commits.

The base is read from the commits themselves rather than from stack.lock (which may be older, or
absent in a CI checkout): every commit stacker makes carries a `Stacker-Input:` trailer, so the
first commit without one, walking first parents from the head, is the upstream commit the bundle
was built on. Reading needs no lock: commits are immutable and the head is resolved once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from stacker.config import Stack
from stacker.errors import ConfigError
from stacker.gitrepo import CommitInfo, Repository
from stacker.lockfile import read_lock
from stacker.workspace import workspace_for

_STACKER_COMMIT = re.compile(r"^Stacker-Input: [0-9a-f]{64}$", re.MULTILINE)


@dataclass(frozen=True)
class PublishedBundle:
    stack: Stack
    repo: Repository
    rev: str  # what was asked for (the bundle branch by default)
    head: str
    tree: str
    base: str
    commits: tuple[CommitInfo, ...]  # base..head, oldest first
    base_name: str | None = None  # e.g. "main", when stack.lock describes this head
    upstream: str | None = None

    @property
    def timestamp(self) -> int:
        """The head's committer time: what makes every export of this head the same bytes."""
        return self.repo.commit(self.head).timestamp


def published_bundle(stack: Stack, workdir: Path | None = None, rev: str | None = None) -> PublishedBundle:
    ws = workspace_for(stack.path, workdir)
    if not (ws.repo_path / "HEAD").exists():
        raise ConfigError(f"{ws.repo_path}: no bundle has been built here yet; run `stacker build` first")
    repo = Repository(ws.repo_path)
    wanted = rev or f"refs/heads/{stack.branch}"
    head = repo.rev_parse(wanted)
    if head is None:
        hint = "run `stacker build` first" if rev is None else "name a commit or ref of stacker's repository"
        raise ConfigError(f"{ws.repo_path}: no commit '{wanted}'; {hint}")
    commits: list[CommitInfo] = []
    current = repo.commit(head)
    while _STACKER_COMMIT.search(current.message):
        commits.append(current)
        if not current.parents:
            raise ConfigError(f"{wanted}: every commit down to the root is stacker's; no upstream base found")
        current = repo.commit(current.parents[0])
    base_name = upstream = None
    if stack.lock_path().exists():
        lock = read_lock(stack.lock_path())
        if lock.head == head:
            base_name, upstream = lock.base_name, lock.upstream
    return PublishedBundle(stack=stack, repo=repo, rev=wanted, head=head, tree=repo.tree_of(head), base=current.sha,
                           commits=tuple(reversed(commits)), base_name=base_name, upstream=upstream)

"""Small real git repositories for tests: an upstream with a main branch and refs/pull/N/head.

Commits get fixed identities and increasing dates so every test run builds the same SHAs.
"""

from __future__ import annotations

import os
import subprocess
import textwrap
from dataclasses import dataclass, field
from pathlib import Path


def git(cwd: Path, *args: str, env: dict[str, str] | None = None, check: bool = True) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "LC_ALL": "C", **(env or {})})
    if check and done.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {done.stderr}")
    return done.stdout.strip()


@dataclass
class Upstream:
    """A bare upstream repository built commit by commit without a worktree."""

    path: Path
    clock: int = 1_700_000_000
    _index: Path = field(init=False)

    def __post_init__(self) -> None:
        git(self.path.parent, "init", "-q", "--bare", "-b", "main", str(self.path))
        self._index = self.path / "test-index"

    def _env(self) -> dict[str, str]:
        self.clock += 60
        date = f"{self.clock} +0000"
        return {"GIT_AUTHOR_NAME": "Ada Author", "GIT_AUTHOR_EMAIL": "ada@example.com", "GIT_AUTHOR_DATE": date,
                "GIT_COMMITTER_NAME": "Ada Author", "GIT_COMMITTER_EMAIL": "ada@example.com",
                "GIT_COMMITTER_DATE": date, "GIT_INDEX_FILE": str(self._index)}

    def commit(self, files: dict[str, str | None], message: str, parent: str | None = None,
               ref: str | None = "refs/heads/main") -> str:
        """Commit `files` (None deletes) on top of `parent` (default: the ref's tip); move `ref`."""
        env = self._env()
        if parent is None and ref is not None:
            parent = git(self.path, "rev-parse", "--verify", "-q", ref, check=False) or None
        if parent:
            git(self.path, "read-tree", parent, env=env)
        else:
            git(self.path, "read-tree", "--empty", env=env)
        for name, text in files.items():
            if text is None:  # (--force-remove needs a work tree; --index-info with mode 0 does not)
                subprocess.run(["git", "update-index", "--index-info"], cwd=self.path, env={**os.environ, **env},
                               input=f"0 {'0' * 40}\t{name}\n", text=True, check=True)
                continue
            blob = subprocess.run(["git", "hash-object", "-w", "--stdin"], cwd=self.path, input=text,
                                  capture_output=True, text=True, check=True).stdout.strip()
            git(self.path, "update-index", "--add", "--cacheinfo", f"100644,{blob},{name}", env=env)
        tree = git(self.path, "write-tree", env=env)
        args = ["commit-tree", tree, "-m", message] + (["-p", parent] if parent else [])
        sha = git(self.path, *args, env=env)
        if ref:
            git(self.path, "update-ref", ref, sha)
        return sha

    def pr(self, number: int, files: dict[str, str | None], message: str, parent: str) -> str:
        """A PR head: one commit on `parent`, published as refs/pull/N/head."""
        return self.commit(files, message, parent=parent, ref=f"refs/pull/{number}/head")

    def head(self, ref: str = "refs/heads/main") -> str:
        return git(self.path, "rev-parse", ref)


def write_stack(directory: Path, upstream: Path | str, prs: list[dict] | str, **extra: object) -> Path:
    """stack.yaml in `directory`; `prs` as a list of mappings, or raw YAML text for the whole file."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "stack.yaml"
    if isinstance(prs, str):
        path.write_text(textwrap.dedent(prs))
        return path
    lines = ["name: test-bundle", f"upstream: {upstream}"]
    for key, value in extra.items():
        lines.append(f"{key}: {value}")
    lines.append("prs:")
    for pr in prs:
        lines.append(f"  - number: {pr['number']}")
        if "title" in pr:
            lines.append(f"    title: \"{pr['title']}\"")
        if "includes" in pr:
            lines.append(f"    includes: {pr['includes']}")
    path.write_text("\n".join(lines) + "\n")
    return path


def bundle_log(workdir: Path, branch: str = "bundle/test-bundle") -> list[str]:
    """Subjects of the bundle branch, oldest first."""
    out = git(workdir / "repo.git", "log", "--reverse", "--format=%s", f"refs/heads/{branch}")
    return out.splitlines()


def branch_head(workdir: Path, branch: str = "bundle/test-bundle") -> str | None:
    return git(workdir / "repo.git", "rev-parse", "-q", "--verify", f"refs/heads/{branch}", check=False) or None

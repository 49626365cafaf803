"""A bundle's tree as plain files on disk, for the tools that run its code.

Kernels are compiled and validated from an export of a commit (`git archive`), never from the
user's checkout and never installed into stacker's own environment.
"""

from __future__ import annotations

import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from stacker.errors import GitError


@dataclass(frozen=True)
class ExportedTree:
    """Files of one commit of `repo`, written under `root`."""

    repo: Path
    commit: str
    tree: str
    root: Path


def resolve_commit(repo: Path, rev: str) -> tuple[str, str]:
    """(commit sha, tree sha) of `rev` in `repo`, or a one-line error naming the ref."""
    try:
        out = subprocess.run(
            # not --verify: it takes exactly one revision and would fail on these two
            ["git", "-C", str(repo), "rev-parse", f"{rev}^{{commit}}", f"{rev}^{{tree}}"],
            check=True, capture_output=True, text=True,
        ).stdout.split()
    except subprocess.CalledProcessError:
        raise GitError(f"{repo}: no commit named '{rev}'") from None
    return out[0], out[1]


def export_tree(repo: Path, rev: str, dest: Path, paths: tuple[str, ...] = ()) -> ExportedTree:
    """Write the files of `rev` (optionally only `paths`) into `dest` with `git archive`."""
    commit, tree = resolve_commit(repo, rev)
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile() as archive:
        result = subprocess.run(
            ["git", "-C", str(repo), "archive", "--format=tar", commit, "--", *paths],
            stdout=archive, stderr=subprocess.PIPE, text=False,
        )
        if result.returncode != 0:
            raise GitError(f"{repo}: git archive {rev} failed: {result.stderr.decode().strip()}")
        archive.seek(0)
        with tarfile.open(fileobj=archive) as tar:
            tar.extractall(dest, filter="data")
    return ExportedTree(repo=repo, commit=commit, tree=tree, root=dest)


@contextmanager
def exported(repo: Path, rev: str, paths: tuple[str, ...] = ()) -> Iterator[ExportedTree]:
    """`export_tree` into a temporary directory that is removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="stacker-tree-") as tmp:
        yield export_tree(repo, rev, Path(tmp), paths)

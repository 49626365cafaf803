"""The tree a compile runs on: a commit of a repository, or a directory already exported.

Only the paths the kernel plan names are put on disk (for FA4: the package directory, not the repo
root whose `__init__.py` imports a CUDA extension), plus the plan's small shim files. The tree ids of
those paths are known before anything is written, so a fully cached run writes nothing at all.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from stacker.errors import ConfigError, GitError
from stacker.source import export_tree, resolve_commit
from stacker.treehash import IGNORED_NAMES, blob_id, tree_id


@dataclass(frozen=True)
class TreeSource:
    """Where the files come from, the git tree id of each exported path, and how to write them."""

    description: str  # "main (727eed3c)" or the directory
    trees: Mapping[str, str]
    commit: str | None
    write: Callable[[Path], None]

    def materialize(self, dest: Path, shim_files: Mapping[str, str]) -> Path:
        """Write the exported paths and the shims under `dest`; return `dest`."""
        dest.mkdir(parents=True, exist_ok=True)
        self.write(dest)
        for relative, content in shim_files.items():
            target = dest / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content, encoding="utf-8")
        return dest


def from_git(repo: Path, rev: str, export_paths: tuple[str, ...], fallbacks: tuple[str, ...] = ()) -> TreeSource:
    """`rev` of `repo`; a path the commit lacks is a one-line error naming both.

    `fallbacks` are ref prefixes tried when `rev` itself does not resolve (stacker's work repository
    keeps the fetched base under refs/stacker/upstream/heads/, so `main` finds it there)."""
    commit = _resolve(repo, rev, fallbacks)
    trees = {}
    for path in export_paths:
        result = subprocess.run(["git", "-C", str(repo), "rev-parse", "--verify", "--quiet", f"{commit}:{path}"],
                                capture_output=True, text=True)
        if result.returncode != 0:
            raise GitError(f"{repo}: '{rev}' ({commit[:8]}) has no '{path}'")
        trees[path] = result.stdout.strip()

    def write(dest: Path) -> None:
        export_tree(repo, commit, dest, export_paths)

    return TreeSource(
        description=f"{rev} ({commit[:8]})" if not commit.startswith(rev) else commit[:8],
        trees=trees,
        commit=commit,
        write=write,
    )


def from_directory(root: Path, export_paths: tuple[str, ...]) -> TreeSource:
    """A tree someone exported already (the build's verify step): copied, never compiled in place."""
    root = root.resolve()
    if not root.is_dir():
        raise ConfigError(f"--tree {root}: no such directory")
    trees = {}
    for path in export_paths:
        if not (root / path).exists():
            raise ConfigError(f"--tree {root}: has no '{path}'")
        trees[path] = tree_id(root / path) if (root / path).is_dir() else _file_id(root / path)

    def write(dest: Path) -> None:
        for path in export_paths:
            source, target = root / path, dest / path
            target.parent.mkdir(parents=True, exist_ok=True)
            if source.is_dir():
                shutil.copytree(source, target, symlinks=True, ignore=shutil.ignore_patterns(*IGNORED_NAMES))
            else:
                shutil.copy2(source, target)

    return TreeSource(description=str(root), trees=trees, commit=None, write=write)


def _resolve(repo: Path, rev: str, fallbacks: tuple[str, ...]) -> str:
    for candidate in (rev, *(prefix + rev for prefix in fallbacks)):
        try:
            return resolve_commit(repo, candidate)[0]
        except GitError:
            continue
    raise GitError(f"{repo}: no commit named '{rev}'")


def _file_id(path: Path) -> str:
    return blob_id(path.read_bytes())

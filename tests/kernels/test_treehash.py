"""A directory's tree id equals the one git computes for the same files."""

from __future__ import annotations

import os
from pathlib import Path

from stacker.treehash import blob_id, tree_id
from tests.gitrepos import git


def _populate(root: Path) -> None:
    (root / "pkg" / "sub").mkdir(parents=True)
    (root / "pkg" / "a.py").write_text("x = 1\n")
    (root / "pkg" / "a-b.py").write_text("")  # sorts between "a" entries the way git does
    (root / "pkg" / "a.b").write_text("dots\n")
    (root / "pkg" / "a").mkdir()
    (root / "pkg" / "a" / "inner.py").write_text("y = 2\n")
    (root / "pkg" / "sub" / "run.sh").write_text("#!/bin/sh\n")
    (root / "pkg" / "sub" / "run.sh").chmod(0o755)
    os.symlink("a.py", root / "pkg" / "link.py")
    (root / "pkg" / "empty").mkdir()  # git does not see empty directories
    (root / "pkg" / "__pycache__").mkdir()
    (root / "pkg" / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"\0")


def test_tree_id_matches_git_write_tree(tmp_path: Path):
    work = tmp_path / "work"
    work.mkdir()
    _populate(work)
    git(work, "init", "-q")
    (work / ".gitignore").write_text("__pycache__/\n")
    git(work, "add", "-A", "pkg")
    expected = git(work, "write-tree", "--prefix=pkg/")
    assert tree_id(work / "pkg") == expected


def test_blob_id_matches_git_hash_object(tmp_path: Path):
    path = tmp_path / "f"
    path.write_bytes(b"hello\n")
    assert blob_id(path.read_bytes()) == git(tmp_path, "hash-object", str(path))


def test_content_change_changes_the_id(tmp_path: Path):
    _populate(tmp_path)
    before = tree_id(tmp_path / "pkg")
    (tmp_path / "pkg" / "a" / "inner.py").write_text("y = 3\n")
    assert tree_id(tmp_path / "pkg") != before

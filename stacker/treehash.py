"""The git tree id of a directory on disk, computed without a repository.

Compile results are cached by the tree of the package they were compiled from. When the tree comes
from git that id is `git rev-parse REV:PATH`; when it is a directory someone exported (the build's
verify step hands one over), this computes the same id from the files, so a result cached from a ref
is found again for the identical exported tree and vice versa.

Git's rules, followed here: a blob id is sha1("blob <size>\\0" + content); a tree lists entries
sorted by name, a directory's name compared as if it ended in "/"; modes are 100644, 100755
(any execute bit), 120000 (symlink: the link text is the content) and 40000 (directory); empty
directories do not exist for git. Byte-code caches (`__pycache__`) are left out, as every
repository of Python code ignores them.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

IGNORED_NAMES = frozenset({"__pycache__"})


def blob_id(content: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


def tree_id(directory: Path) -> str:
    """The id `git write-tree` would give `directory`'s files; raises if it holds no file at all."""
    digest = _tree(Path(directory))
    if digest is None:
        raise FileNotFoundError(f"{directory}: no files")
    return digest


def _tree(directory: Path) -> str | None:
    entries: list[tuple[bytes, bytes, bytes]] = []  # (sort key, mode, raw sha)
    with os.scandir(directory) as scan:
        for entry in scan:
            if entry.name in IGNORED_NAMES or entry.name == ".git":
                continue
            name = os.fsencode(entry.name)
            info = entry.stat(follow_symlinks=False)
            if stat.S_ISLNK(info.st_mode):
                mode, sha = b"120000", blob_id(os.fsencode(os.readlink(entry.path)))
            elif stat.S_ISDIR(info.st_mode):
                sha = _tree(Path(entry.path))
                if sha is None:
                    continue
                entries.append((name + b"/", b"40000", bytes.fromhex(sha)))
                continue
            elif stat.S_ISREG(info.st_mode):
                mode = b"100755" if info.st_mode & 0o111 else b"100644"
                sha = blob_id(Path(entry.path).read_bytes())
            else:
                continue
            entries.append((name, mode, bytes.fromhex(sha)))
    if not entries:
        return None
    body = b"".join(
        mode + b" " + (key[:-1] if mode == b"40000" else key) + b"\0" + sha
        for key, mode, sha in sorted(entries, key=lambda e: e[0])
    )
    return hashlib.sha1(b"tree %d\0" % len(body) + body).hexdigest()

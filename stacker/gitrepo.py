"""Typed access to stacker's own bare repository: objects, merges and refs, never a worktree.

Everything a build does happens on git objects (git-revise style): blobs are read through
GitPython's persistent `cat-file --batch`, trees are written through a private temporary index,
and merges run in `git merge-tree --write-tree`. The user's checkouts are never involved.

git 2.39 has no `merge-tree --merge-base` (added in 2.40). To merge with a merge base of our
choosing — the fork point of a PR, for cherry-pick semantics — both sides are re-parented onto a
parentless commit holding the fork's tree, so that commit is their only merge base.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import git
from gitdb.exc import BadName, BadObject

from stacker.errors import GitError

EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
ZERO_SHA = "0" * 40
_SYNTHETIC_IDENT = {
    "GIT_AUTHOR_NAME": "stacker", "GIT_AUTHOR_EMAIL": "stacker@localhost", "GIT_AUTHOR_DATE": "1000000000 +0000",
    "GIT_COMMITTER_NAME": "stacker", "GIT_COMMITTER_EMAIL": "stacker@localhost", "GIT_COMMITTER_DATE": "1000000000 +0000",
}


@dataclass(frozen=True)
class Signature:
    name: str
    email: str
    date: str  # git's raw form: "<unix seconds> <+hhmm>"


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    tree: str
    parents: tuple[str, ...]
    author: Signature
    committer: Signature
    message: str

    @property
    def subject(self) -> str:
        return self.message.split("\n", 1)[0]

    @property
    def timestamp(self) -> int:
        return int(self.committer.date.split()[0])


@dataclass(frozen=True)
class Stage:
    mode: str
    blob: str


@dataclass(frozen=True)
class TreeMerge:
    """What `git merge-tree --write-tree` left: a tree (with markers in conflicted files) and stages."""

    tree: str
    conflicted: dict[str, dict[int, Stage]]  # path -> {1: base, 2: ours, 3: theirs}
    messages: tuple[str, ...]

    @property
    def is_clean(self) -> bool:
        return not self.conflicted


@dataclass(frozen=True)
class TreeEntry:
    mode: str
    type: str
    sha: str
    path: str


class Repository:
    """A bare repository stacker owns (or any repository, read-only use)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        try:
            self._repo = git.Repo(self.path)
        except (git.NoSuchPathError, git.InvalidGitRepositoryError):
            raise GitError(f"{self.path}: not a git repository") from None

    @classmethod
    def init_bare(cls, path: Path) -> Repository:
        if not (path / "HEAD").exists():
            git.Repo.init(path, bare=True, mkdir=True)
        repo = cls(path)
        # stacker's refs are its state: keep their history, and never let gc drop a reachable object.
        repo.git("config", "core.logAllRefUpdates", "always")
        repo.git("config", "gc.auto", "0")
        return repo

    # -- running git ------------------------------------------------------------------------
    def git(self, *args: str, env: dict[str, str] | None = None, input: str | None = None,
            check: bool = True, strip: bool = True) -> str:
        status, out, err = self.run(*args, env=env, input=input)
        if check and status != 0:
            raise GitError(f"git {' '.join(args[:3])} failed in {self.path}: {err.strip() or out.strip()}")
        return out.strip() if strip else out

    def run(self, *args: str, env: dict[str, str] | None = None, input: str | None = None) -> tuple[int, str, str]:
        """Run git; returns (status, stdout, stderr) without raising."""
        full_env = {**os.environ, "LC_ALL": "C", "GIT_TERMINAL_PROMPT": "0", **(env or {})}
        kwargs: dict = {"with_extended_output": True, "with_exceptions": False, "env": full_env,
                        "strip_newline_in_stdout": False}
        if input is None:
            return self._repo.git.execute(["git", *args], **kwargs)
        with tempfile.TemporaryFile() as stdin:
            stdin.write(input.encode("utf-8", "surrogateescape"))
            stdin.seek(0)
            return self._repo.git.execute(["git", *args], istream=stdin, **kwargs)

    # -- objects ----------------------------------------------------------------------------
    def rev_parse(self, rev: str) -> str | None:
        status, out, _ = self.run("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
        return out.strip() if status == 0 else None

    def has_object(self, sha: str) -> bool:
        return self.run("cat-file", "-e", sha)[0] == 0

    def commit(self, rev: str) -> CommitInfo:
        try:
            c = self._repo.commit(rev)
        except (BadName, BadObject, ValueError):
            raise GitError(f"{self.path}: no commit '{rev}'") from None
        return CommitInfo(
            sha=c.hexsha,
            tree=c.tree.hexsha,
            parents=tuple(p.hexsha for p in c.parents),
            author=Signature(c.author.name, c.author.email, f"{c.authored_date} {_tz(c.author_tz_offset)}"),
            committer=Signature(c.committer.name, c.committer.email, f"{c.committed_date} {_tz(c.committer_tz_offset)}"),
            message=c.message,
        )

    def read_blob(self, sha: str) -> bytes:
        return self._repo.odb.stream(bytes.fromhex(sha)).read()

    def read_text(self, sha: str) -> str:
        return self.read_blob(sha).decode("utf-8", "surrogateescape")

    def write_blob(self, data: bytes | str) -> str:
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        with tempfile.NamedTemporaryFile(delete=False) as tmp:
            tmp.write(data)
        try:
            return self.git("hash-object", "-w", "--no-filters", tmp.name)
        finally:
            os.unlink(tmp.name)

    def ls_tree(self, treeish: str, paths: tuple[str, ...] = ()) -> list[TreeEntry]:
        out = self.git("ls-tree", "-r", "-z", "--full-tree", treeish, "--", *paths, strip=False)
        entries = []
        for record in filter(None, out.split("\0")):
            meta, path = record.split("\t", 1)
            mode, kind, sha = meta.split()
            entries.append(TreeEntry(mode, kind, sha, path))
        return entries

    def file_at(self, treeish: str, path: str) -> str | None:
        """Text of `path` in `treeish`, or None when absent."""
        entries = self.ls_tree(treeish, (path,))
        match = [e for e in entries if e.path == path and e.type == "blob"]
        return self.read_text(match[0].sha) if match else None

    def tree_of(self, rev: str) -> str:
        return self.git("rev-parse", f"{rev}^{{tree}}")

    # -- history ----------------------------------------------------------------------------
    def merge_base(self, a: str, b: str) -> str | None:
        status, out, _ = self.run("merge-base", a, b)
        return out.strip() if status == 0 and out.strip() else None

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        return self.run("merge-base", "--is-ancestor", ancestor, descendant)[0] == 0

    def rev_list(self, *args: str) -> list[str]:
        return self.git("rev-list", *args).split()

    def count(self, range_: str) -> int:
        return int(self.git("rev-list", "--count", range_))

    def changed_paths(self, a: str, b: str) -> list[str]:
        out = self.git("diff", "--name-only", "-z", "--no-renames", a, b, strip=False)
        return [p for p in out.split("\0") if p]

    # -- writing trees and commits ----------------------------------------------------------
    def commit_tree(self, tree: str, parents: tuple[str, ...], message: str,
                    author: Signature, committer: Signature) -> str:
        env = {
            "GIT_AUTHOR_NAME": author.name, "GIT_AUTHOR_EMAIL": author.email, "GIT_AUTHOR_DATE": author.date,
            "GIT_COMMITTER_NAME": committer.name, "GIT_COMMITTER_EMAIL": committer.email,
            "GIT_COMMITTER_DATE": committer.date,
        }
        args = ["commit-tree", tree]
        for parent in parents:
            args += ["-p", parent]
        return self.git(*args, "-F", "-", env=env, input=message)

    def tree_with(self, tree: str, changes: dict[str, tuple[str, str] | None]) -> str:
        """A new tree: `tree` with paths set to (mode, blob) or removed (None)."""
        if not changes:
            return tree
        with tempfile.TemporaryDirectory(prefix="stacker-index-") as tmp:
            env = {"GIT_INDEX_FILE": str(Path(tmp, "index"))}
            self.git("read-tree", tree, env=env)
            lines = []
            for path, entry in sorted(changes.items()):
                if entry is None:
                    lines.append(f"0 {ZERO_SHA}\t{path}")
                else:
                    lines.append(f"{entry[0]} {entry[1]}\t{path}")
            self.git("update-index", "--index-info", env=env, input="\n".join(lines) + "\n")
            return self.git("write-tree", env=env)

    def merge_trees(self, base_tree: str, ours_tree: str, theirs_tree: str) -> TreeMerge:
        """3-way merge of trees with `base_tree` as the merge base (see the module docstring)."""
        base = self.commit_tree(base_tree, (), "stacker: merge base\n", *_synthetic_sigs())
        ours = self.commit_tree(ours_tree, (base,), "stacker: ours\n", *_synthetic_sigs())
        theirs = self.commit_tree(theirs_tree, (base,), "stacker: theirs\n", *_synthetic_sigs())
        status, out, err = self.run("-c", "merge.conflictStyle=diff3", "merge-tree", "--write-tree", "-z",
                                    "--messages", ours, theirs)
        if status not in (0, 1):
            raise GitError(f"git merge-tree failed: {err.strip()}")
        return _parse_merge_tree(out, status)

    # -- refs -------------------------------------------------------------------------------
    def ref(self, name: str) -> str | None:
        status, out, _ = self.run("rev-parse", "--verify", "--quiet", name)
        return out.strip() if status == 0 else None

    def refs(self, pattern: str) -> dict[str, str]:
        out = self.git("for-each-ref", "--format=%(refname) %(objectname)", pattern)
        return dict(line.split(" ", 1) for line in out.splitlines() if line)

    def update_ref(self, name: str, new: str, old: str | None, message: str) -> None:
        """Compare-and-swap: move `name` to `new` only if it still points at `old` (None: absent)."""
        status, _, err = self.run("update-ref", "-m", message, name, new, old or ZERO_SHA)
        if status != 0:
            raise GitError(f"{name} moved while stacker was working (expected {(old or 'absent')[:12]}); "
                           f"nothing was published. Run the build again. ({err.strip()})")


def _tz(offset_seconds_west: int) -> str:
    minutes = -offset_seconds_west // 60
    sign = "+" if minutes >= 0 else "-"
    minutes = abs(minutes)
    return f"{sign}{minutes // 60:02d}{minutes % 60:02d}"


def _synthetic_sigs() -> tuple[Signature, Signature]:
    sig = Signature("stacker", "stacker@localhost", "1000000000 +0000")
    return sig, sig


_STAGE_LINE = re.compile(r"^(\d{6}) ([0-9a-f]{40}) ([123])\t(.*)$", re.S)


def _parse_merge_tree(out: str, status: int) -> TreeMerge:
    """Parse `merge-tree --write-tree -z --messages` output (git 2.38+ format)."""
    parts = out.split("\0")
    tree = parts[0].strip()
    conflicted: dict[str, dict[int, Stage]] = {}
    i = 1
    if status == 1:
        while i < len(parts) and parts[i]:
            match = _STAGE_LINE.match(parts[i])
            if not match:
                break
            mode, blob, stage, path = match.groups()
            conflicted.setdefault(path, {})[int(stage)] = Stage(mode, blob)
            i += 1
    messages = []
    i += 1  # the empty record that ends the conflicted-file list
    while i < len(parts):
        try:
            n = int(parts[i])
        except ValueError:
            break
        messages.append(parts[i + n + 2].strip() if i + n + 2 < len(parts) else "")
        i += n + 3
    return TreeMerge(tree=tree, conflicted=conflicted, messages=tuple(m for m in messages if m))

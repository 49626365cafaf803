"""`stacker status`: has anything the bundle was built from moved since stack.lock?

The lock names every input of the published bundle: the base, each PR's head and fork, the
digest of the resolutions, the tool version. Status fetches what the stack needs (the same refs
a build fetches, nothing more) and says what moved and what it means: how far the base moved and
which of those upstream commits touch files the stack touches (where the next conflicts come
from), whether a PR got new commits or was force-pushed, whether a PR is now contained in the
base (merged or superseded upstream: time to drop it from stack.yaml), whether the resolutions
changed. It writes nothing but fetched refs, so CI can ask it before deciding to build.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from stacker import __version__
from stacker.build import inputs_digest, upstream_url
from stacker.config import Stack
from stacker.errors import StackerError
from stacker.gitrepo import Repository
from stacker.lockfile import Lock, read_lock
from stacker.patches import display_name
from stacker.patchfile import read_patch
from stacker.plan import Plan, make_plan
from stacker.upstream import UpstreamRefs, ensure_commits, fetch, resolve_local, wants_for
from stacker.workspace import workspace_for

EXIT_CURRENT = 0
EXIT_REBUILD = 3


@dataclass(frozen=True)
class UpstreamCommit:
    """A commit the base gained that changes files the bundle changes."""

    sha: str
    subject: str
    files: tuple[str, ...]  # the stack's files it touches


@dataclass(frozen=True)
class BaseStatus:
    name: str
    locked_name: str
    locked: str
    now: str
    commits: int  # commits in locked..now
    first_parent: int  # of which on the first-parent line (merged PRs, for a squash-merging upstream)
    rewritten: bool  # the locked base is not an ancestor of the new one (or is gone)
    touching: tuple[UpstreamCommit, ...]

    @property
    def moved(self) -> bool:
        return self.now != self.locked or self.name != self.locked_name


@dataclass(frozen=True)
class PRStatus:
    number: int
    included_in: int | None  # the stack PR whose change carries this one
    locked_head: str | None  # None: not in stack.lock (new in stack.yaml)
    head: str
    state: str  # "unchanged", "new commits", "force-pushed", "added"
    new_commits: int = 0  # commits in locked..now (for "new commits")
    old_head_available: bool = True
    fork_moved: bool = False  # same head, but the fork point (merge-base with the target) moved
    contained: bool = False  # the change is already in the new base: merged or superseded upstream
    was_contained: bool = False  # already applied on the locked base too


@dataclass
class StackStatus:
    stack: Stack
    lock: Lock | None
    upstream: str
    base: BaseStatus | None = None
    prs: list[PRStatus] = field(default_factory=list)
    removed: list[int] = field(default_factory=list)  # in stack.lock, no longer in stack.yaml
    reordered: bool = False
    resolutions_changed: bool = False
    resolution_files: list[str] = field(default_factory=list)  # best effort, from the stack's git history
    patches: dict[str, str] = field(default_factory=dict)  # patch file -> "added", "changed", "removed"
    tool_version: tuple[str, str] | None = None  # (locked, now) when they differ
    branch_changed: tuple[str, str] | None = None

    @property
    def reasons(self) -> list[str]:
        """Every reason the bundle must be rebuilt, one line each; empty when it is current."""
        if self.lock is None:
            return [f"never built: no {self.stack.lock_path().name}"]
        out = []
        base = self.base
        if base is not None and base.name != base.locked_name:
            out.append(f"stack.yaml's base is now '{base.name}' (the lock was built on '{base.locked_name}')")
        elif base is not None and base.moved:
            how = "was rewritten" if base.rewritten else f"moved {base.commits} commit(s)"
            out.append(f"base {base.name} {how} ({len(base.touching)} touch files the stack changes)")
        for pr in self.prs:
            label = f"#{pr.number}" + (f" (in #{pr.included_in})" if pr.included_in else "")
            if pr.state == "added":
                out.append(f"{label} is new in stack.yaml")
            elif pr.state == "new commits":
                out.append(f"{label} has {pr.new_commits} new commit(s)")
            elif pr.state == "force-pushed":
                out.append(f"{label} was force-pushed")
            elif pr.fork_moved:
                out.append(f"{label}'s fork point moved")
            if pr.contained and not pr.was_contained:
                out.append(f"{label} is now contained in {self.base.name if self.base else 'the base'} "
                           "(merged or superseded upstream; drop it from stack.yaml)")
        out += [f"#{n} was removed from stack.yaml" for n in self.removed]
        if self.reordered:
            out.append("stack.yaml lists the PRs in a new order")
        out += [f"patch {name} was {how}" + (" in stack.yaml" if how != "changed" else " since the lock")
                for name, how in sorted(self.patches.items())]
        if self.resolutions_changed:
            files = f": {', '.join(self.resolution_files)}" if self.resolution_files else ""
            out.append(f"resolutions changed since the lock{files}")
        if self.tool_version:
            out.append(f"stacker {self.tool_version[1]} builds differently from {self.tool_version[0]} (the lock's)")
        if self.branch_changed:
            out.append(f"the bundle branch is now '{self.branch_changed[1]}' (was '{self.branch_changed[0]}')")
        return out

    @property
    def current(self) -> bool:
        return not self.reasons

    @property
    def exit_code(self) -> int:
        return EXIT_CURRENT if self.current else EXIT_REBUILD


def stack_status(stack: Stack, upstream_override: str | None = None, offline: bool = False,
                 workdir: Path | None = None, base: str | None = None) -> StackStatus:
    url = upstream_url(stack, upstream_override)
    lock = _read_lock_if_any(stack)
    status = StackStatus(stack=stack, lock=lock, upstream=url)
    ws = workspace_for(stack.path, workdir)
    with ws.locked() as repo:
        want = wants_for(stack, base)
        refs = resolve_local(repo, url, want) if offline else fetch(repo, url, want)
        if lock is None:
            return status
        _fetch_locked(repo, url, lock, offline)
        plan = make_plan(repo, stack, refs)
        status.base = _base_status(repo, lock, refs, _stack_files(repo, lock, plan))
        status.prs = _pr_statuses(repo, lock, plan)
    listed = [pr.number for pr in stack.prs]
    locked = [p.number for p in lock.prs]
    status.removed = [n for n in locked if n not in listed]
    common = [n for n in listed if n in locked]
    status.reordered = common != [n for n in locked if n in listed]
    status.patches = _patch_changes(stack, lock)
    status.resolutions_changed = inputs_digest(stack) != lock.inputs_digest
    if status.resolutions_changed and stack.resolutions is not None:
        status.resolution_files = _changed_since_lock(stack, stack.resolutions)
    if lock.tool_version != __version__:
        status.tool_version = (lock.tool_version, __version__)
    if lock.branch != stack.branch:
        status.branch_changed = (lock.branch, stack.branch)
    return status


def _read_lock_if_any(stack: Stack) -> Lock | None:
    return read_lock(stack.lock_path()) if stack.lock_path().exists() else None


def _fetch_locked(repo: Repository, url: str, lock: Lock, offline: bool) -> None:
    """Bring the locked commits in when they are not (a fresh work dir); what upstream lost stays missing."""
    wanted = {"locked base": lock.base}
    for pr in lock.prs:
        wanted.update({f"#{pr.number} head": pr.head, f"#{pr.number} fork": pr.fork})
        wanted.update({f"#{n} head": sha for n, sha in pr.includes.items()})
    for what, sha in wanted.items():
        try:
            ensure_commits(repo, url, {what: sha}, offline)
        except StackerError:
            continue  # reported as rewritten / force-pushed with the old head unavailable


def _stack_files(repo: Repository, lock: Lock, plan: Plan) -> set[str]:
    """Files the bundle changes: each locked step's fork..head, or the current one's where that is gone."""
    files: set[str] = set()
    current = {s.number: s for s in plan.steps}
    for pr in lock.prs:
        if repo.has_object(pr.fork) and repo.has_object(pr.head):
            files.update(repo.changed_paths(pr.fork, pr.head))
        elif pr.number in current:
            files.update(repo.changed_paths(current[pr.number].fork, current[pr.number].head))
    for step in plan.steps:
        if step.patch:
            files.update(f.path for f in step.patch.patch.files)
        elif lock.pr(step.number) is None:
            files.update(repo.changed_paths(step.fork, step.head))
    return files


def _base_status(repo: Repository, lock: Lock, refs: UpstreamRefs, files: set[str]) -> BaseStatus:
    now = refs.base
    present = repo.has_object(lock.base)
    rewritten = not present or not repo.is_ancestor(lock.base, now)
    commits = first_parent = 0
    touching: tuple[UpstreamCommit, ...] = ()
    if present and now != lock.base:
        commits = repo.count(f"{lock.base}..{now}")
        first_parent = len(repo.rev_list("--first-parent", f"{lock.base}..{now}"))
        touching = _touching(repo, f"{lock.base}..{now}", files)
    return BaseStatus(name=refs.base_name, locked_name=lock.base_name, locked=lock.base, now=now, commits=commits,
                      first_parent=first_parent, rewritten=rewritten, touching=touching)


def _touching(repo: Repository, range_: str, files: set[str]) -> tuple[UpstreamCommit, ...]:
    if not files:
        return ()
    out = repo.git("log", "--format=%x1e%H%x1f%s", "--name-only", "--no-renames", range_, "--", *sorted(files),
                   strip=False)
    found = []
    for record in filter(str.strip, out.split("\x1e")):
        header, _, names = record.partition("\n")
        sha, _, subject = header.partition("\x1f")
        touched = tuple(sorted(n for n in names.splitlines() if n in files))
        found.append(UpstreamCommit(sha=sha, subject=subject, files=touched))
    return tuple(found)


def _pr_statuses(repo: Repository, lock: Lock, plan: Plan) -> list[PRStatus]:
    out: list[PRStatus] = []
    locked_heads: dict[int, tuple[str, int | None]] = {}
    for pr in lock.prs:
        locked_heads[pr.number] = (pr.head, None)
        for n, sha in pr.includes.items():
            locked_heads.setdefault(int(n), (sha, pr.number))
    for step in (s for s in plan.steps if s.pr):
        locked = lock.pr(step.number)
        out.append(_compare(repo, step.number, None, locked.head if locked else None, step.head,
                            fork_moved=bool(locked) and locked.fork != step.fork and locked.head == step.head,
                            contained=step.contained or _change_in(repo, step.fork, step.head, plan.base),
                            was_contained=bool(locked) and locked.status == "already-applied"))
        for inc in step.includes:
            old = locked_heads.get(inc.number, (None, None))[0]
            fork = repo.merge_base(plan.upstream.target, inc.head) or inc.head
            contained = repo.is_ancestor(inc.head, plan.base) or _change_in(repo, fork, inc.head, plan.base)
            out.append(_compare(repo, inc.number, step.number, old, inc.head, fork_moved=False,
                                contained=contained, was_contained=False))
    return out


def _compare(repo: Repository, number: int, included_in: int | None, old: str | None, new: str,
             fork_moved: bool, contained: bool, was_contained: bool) -> PRStatus:
    common = {"number": number, "included_in": included_in, "locked_head": old, "head": new,
              "fork_moved": fork_moved, "contained": contained, "was_contained": was_contained}
    if old is None:
        return PRStatus(state="added", **common)
    if old == new:
        return PRStatus(state="unchanged", **common)
    if not repo.has_object(old):
        return PRStatus(state="force-pushed", old_head_available=False, **common)
    if repo.is_ancestor(old, new):
        return PRStatus(state="new commits", new_commits=repo.count(f"{old}..{new}"), **common)
    return PRStatus(state="force-pushed", **common)


def _change_in(repo: Repository, fork: str, head: str, base: str) -> bool:
    """Applying fork..head to the base changes nothing: squash-merged or superseded upstream."""
    base_tree = repo.tree_of(base)
    merge = repo.merge_trees(repo.tree_of(fork), base_tree, repo.tree_of(head))
    return merge.is_clean and merge.tree == base_tree


def _patch_changes(stack: Stack, lock: Lock) -> dict[str, str]:
    locked = {p.get("file"): p.get("sha256") for p in lock.patches}
    now = {display_name(stack, entry.file): read_patch(entry.file).sha256 for entry in stack.patches}
    changes = {name: "added" for name in now if name not in locked}
    changes.update({name: "removed" for name in locked if name not in now})
    changes.update({name: "changed" for name, sha in now.items() if name in locked and locked[name] != sha})
    return changes


def _changed_since_lock(stack: Stack, directory: Path) -> list[str]:
    """Files under `directory` changed since stack.lock was last committed (best effort: [] if unknown)."""

    def git(*args: str) -> str | None:
        done = subprocess.run(["git", "-C", str(stack.root), *args], capture_output=True, text=True)
        return done.stdout if done.returncode == 0 else None

    lock_commit = (git("log", "-1", "--format=%H", "--", stack.lock_path().name) or "").strip()
    if not lock_commit:
        return []
    changed = git("diff", "--name-only", "--relative", lock_commit, "--", str(directory)) or ""
    untracked = git("ls-files", "--others", "--exclude-standard", "--", str(directory)) or ""
    # the same files inputs_digest hashes
    return sorted({line for line in (changed + untracked).splitlines() if line.endswith((".py", ".json"))})

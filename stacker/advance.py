"""`stacker build --advance`: when the stack stops applying on the new base, publish the last good one.

Upstream moves daily; the day it merges a change the stack collides with, a plain build stops and
users are left with yesterday's bundle and no explanation. Integration trees such as linux-next
handle this the same way every day: keep the tree on the last upstream that works and mail the
maintainer a "manual merge needed" report naming the upstream commit that broke it. Here:

1. build on the requested base (`main`); if that works, it is published as usual;
2. otherwise bisect main's first-parent history between the base stack.lock was built on and
   `main` — each probe is a full assemble (every step applied, every `verify:` check run), so a
   textually clean but broken base is rejected as well — for the newest base that builds;
3. publish that, and report the first first-parent commit after it (the one that breaks the
   stack) with the probe's conflicts or failed checks; its conflict is kept in the work dir, so
   `stacker resolve` records the fix and rebuilds on exactly that commit.

Bisecting assumes that once a base breaks the stack, later ones do too (as `git bisect` does);
both ends of the reported pair were actually built, so the pair itself is always real.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from stacker.build import BuildOptions, BuildResult, assemble, keep_conflict, publish
from stacker.config import Stack
from stacker.errors import StackerError
from stacker.gitrepo import Repository
from stacker.lockfile import read_lock
from stacker.upstream import UpstreamRefs
from stacker.workspace import Workspace


@dataclass(frozen=True)
class Probe:
    """One base tried: what happened and where it stopped."""

    base: str
    status: str  # "ok", "conflict", "verify-failed"
    stopped_at: str | None  # the step that stopped ("#2349", "patch patches/x.patch"), or None


@dataclass(frozen=True)
class UpstreamCommit:
    sha: str
    subject: str
    author: str
    date: str  # ISO 8601
    files: tuple[str, ...]


@dataclass
class AdvanceReport:
    """What `--advance` tried and found; attached to the published (or stopped) build."""

    requested_name: str
    requested: str
    locked_base: str | None
    built_on: str | None  # the base that was published; None when nothing builds
    behind: int = 0  # first-parent commits from built_on to requested
    first_bad: UpstreamCommit | None = None
    breakage: BuildResult | None = None  # the build on first_bad: its conflicts or failed checks
    probes: list[Probe] = field(default_factory=list)
    history: list[str] = field(default_factory=list)  # the locked base, then main's first parents to the requested
    note: str = ""  # why no fallback was possible, when there was none

    @property
    def fell_back(self) -> bool:
        return self.built_on is not None and self.built_on != self.requested


def advance(stack: Stack, options: BuildOptions, ws: Workspace, repo: Repository, url: str,
            upstream: UpstreamRefs, heads: dict[int, str] | None) -> BuildResult:
    probes: list[Probe] = []

    def attempt(base: str) -> BuildResult:
        result = assemble(stack, options, ws, repo, url, replace(upstream, base=base), heads)
        stopped = result.steps[-1].step.name if result.status != "ok" and result.steps else None
        probes.append(Probe(base=base, status=result.status, stopped_at=stopped))
        return result

    report = AdvanceReport(requested_name=upstream.base_name, requested=upstream.base, locked_base=None,
                           built_on=None, probes=probes)
    on_requested = attempt(upstream.base)
    on_requested.advance = report
    if on_requested.status == "ok":
        report.built_on = upstream.base
        publish(on_requested, repo)
        return on_requested

    candidates, report.note = _candidates(repo, stack, upstream.base)
    report.locked_base = candidates[0] if candidates else None
    report.history = candidates
    if not candidates:
        return _nothing_builds(on_requested, repo, options)
    # candidates[0] is the locked base, candidates[-1] the requested one (known bad). Invariant:
    # candidates[good] builds (assumed for the locked base until checked), candidates[bad] does not.
    results = {len(candidates) - 1: on_requested}
    good, bad = 0, len(candidates) - 1
    while bad - good > 1:
        middle = (good + bad) // 2
        results[middle] = attempt(candidates[middle])
        if results[middle].status == "ok":
            good = middle
        else:
            bad = middle
    if good == 0:
        results[0] = attempt(candidates[0])
        if results[0].status != "ok":
            report.note = (f"the stack does not build on the locked base {candidates[0][:12]} either "
                           f"(stopped: {results[0].status})")
            return _nothing_builds(on_requested, repo, options)

    published = results[good]
    published.advance = report
    report.built_on = candidates[good]
    report.behind = len(candidates) - 1 - good
    report.first_bad = _describe(repo, candidates[bad])
    report.breakage = results[bad]
    publish(published, repo)
    if report.breakage.status == "conflict":
        keep_conflict(report.breakage, repo, options, base=candidates[bad])
        published.conflict_worktree = report.breakage.conflict_worktree
    return published


def _candidates(repo: Repository, stack: Stack, requested: str) -> tuple[list[str], str]:
    """[locked base, first-parent commits after it up to the requested base], or [] and why not."""
    try:
        lock = read_lock(stack.lock_path())
    except StackerError:
        return [], f"no {stack.lock_path().name} to fall back to: nothing was built before"
    if lock.base == requested:
        return [], f"the requested base is the locked base {lock.base[:12]}; there is nothing older to try"
    if not repo.has_object(lock.base) or not repo.is_ancestor(lock.base, requested):
        return [], f"the locked base {lock.base[:12]} is not in the history of {requested[:12]} (upstream rewritten?)"
    after = repo.rev_list("--first-parent", "--reverse", f"{lock.base}..{requested}")
    return [lock.base, *after], ""


def _nothing_builds(result: BuildResult, repo: Repository, options: BuildOptions) -> BuildResult:
    if result.status == "conflict":
        keep_conflict(result, repo, options)
    return result


def _describe(repo: Repository, sha: str) -> UpstreamCommit:
    out = repo.git("show", "-s", "--format=%H%x00%s%x00%an <%ae>%x00%cI", sha)
    full, subject, author, date = out.split("\0")
    listed = repo.git("diff-tree", "--no-commit-id", "--name-only", "-z", "-r", "-m", "--first-parent", sha, strip=False)
    files = tuple(sorted(set(filter(None, listed.split("\0")))))
    return UpstreamCommit(sha=full, subject=subject, author=author, date=date, files=files)

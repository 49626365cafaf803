"""`stacker build`: config → plan → apply (with resolution layers) → verify → publish → report.

Nothing is published unless every step applied and every check passed; publishing is one
compare-and-swap ref update, so an interrupted build (Ctrl-C, kill -9) leaves the bundle branch
exactly where it was.
"""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from stacker import __version__
from stacker.apply import StepContext, StepResult, apply_step
from stacker.codified import load_resolutions
from stacker.config import Stack
from stacker.conflict_worktree import discard, materialize, save_state
from stacker.errors import UpstreamError
from stacker.filemerge import Layer
from stacker.gitrepo import Repository
from stacker.lockfile import Lock, LockedPR, read_lock, write_lock
from stacker.patch_step import apply_patch_step
from stacker.patches import check_locked_patches
from stacker.plan import Plan, make_plan
from stacker.recorded import RecordedStore
from stacker.source import export_tree
from stacker.upstream import UpstreamRefs, ensure_commits, fetch, resolve_local, wants_for
from stacker.verify import CommandResult, run_verify_command
from stacker.workspace import Workspace, workspace_for


@dataclass(frozen=True)
class BuildOptions:
    base: str | None = None
    upstream: str | None = None
    offline: bool = False
    locked: bool = False
    workdir: Path | None = None
    skip_verify: tuple[str, ...] = ()


@dataclass
class VerifyOutcome:
    result: CommandResult
    first_failing_step: int | str | None = None  # PR number (or patch file) whose step first fails the command


@dataclass
class BuildResult:
    stack: Stack
    workspace: Workspace
    status: str  # "ok", "conflict", "verify-failed"
    plan: Plan | None = None
    steps: list[StepResult] = field(default_factory=list)
    head: str | None = None
    previous_head: str | None = None
    published: bool = False
    verify: list[VerifyOutcome] = field(default_factory=list)
    stale_recordings: list = field(default_factory=list)
    conflict_worktree: Path | None = None
    resolutions: list = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return 0 if self.status == "ok" else 1

    @property
    def branch_ref(self) -> str:
        return f"refs/heads/{self.stack.branch}"


def upstream_url(stack: Stack, override: str | None) -> str:
    """A local path upstream is made absolute (relative to the cwd for --upstream, else to stack.yaml)."""
    url = override or stack.upstream
    if "://" in url or url.startswith("git@"):
        return url
    root = Path.cwd() if override else stack.root
    path = (root / url).expanduser()
    return str(path.resolve()) if path.exists() else url


def inputs_digest(stack: Stack) -> str:
    """Hash of the stack's resolutions and recordings: editing one must change the bundle commits."""
    digest = hashlib.sha256()
    if stack.resolutions and stack.resolutions.is_dir():
        for file in sorted(stack.resolutions.rglob("*")):
            if file.is_file() and file.suffix in (".py", ".json") and "__pycache__" not in file.parts:
                digest.update(str(file.relative_to(stack.resolutions)).encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()


def structural_layer() -> Layer | None:
    try:
        from stacker.structural import StructuralLayer
    except ImportError:
        return None
    return StructuralLayer()


def build(stack: Stack, options: BuildOptions) -> BuildResult:
    ws = workspace_for(stack.path, options.workdir)
    with ws.locked() as repo:
        return _build_locked(stack, options, ws, repo)


def _resolve_upstream(repo: Repository, stack: Stack, options: BuildOptions,
                      url: str) -> tuple[UpstreamRefs, dict[int, str] | None]:
    want = wants_for(stack, options.base)
    if not options.locked:
        refs = resolve_local(repo, url, want) if options.offline else fetch(repo, url, want)
        return refs, None
    lock = read_lock(stack.lock_path())
    pinned = {"base": lock.base, "target": lock.target}
    heads: dict[int, str] = {}
    for number in stack.pr_numbers:
        locked = lock.pr(number)
        if locked is not None:
            heads[number] = locked.head
        for inc, sha in (locked.includes.items() if locked else []):
            heads.setdefault(int(inc), sha)
    missing = [n for n in stack.pr_numbers if n not in heads]
    if missing:
        raise UpstreamError(f"{stack.lock_path().name} has no entry for PR #{missing[0]}; build without --locked")
    check_locked_patches(stack, lock.patches)
    pinned.update({f"PR #{n}": sha for n, sha in heads.items()})
    ensure_commits(repo, url, pinned, options.offline)
    refs = UpstreamRefs(url=url, base_name=lock.base_name, base=lock.base, target_name=lock.target_name,
                        target=lock.target, heads=heads)
    return refs, heads


def _build_locked(stack: Stack, options: BuildOptions, ws: Workspace, repo: Repository) -> BuildResult:
    url = upstream_url(stack, options.upstream)
    upstream, heads = _resolve_upstream(repo, stack, options, url)
    plan = make_plan(repo, stack, upstream, heads)
    result = BuildResult(stack=stack, workspace=ws, status="ok", plan=plan)
    result.previous_head = repo.ref(result.branch_ref)
    recorded = RecordedStore.load(stack.resolutions / "recorded" if stack.resolutions else None)
    ctx = StepContext(repo=repo, upstream_url=url, resolutions=load_resolutions(stack.resolutions),
                      recorded=recorded, structural=structural_layer(), inputs_digest=inputs_digest(stack))
    result.resolutions = ctx.resolutions

    tip = repo.commit(plan.base)
    present: set[int] = set()
    for step in plan.steps:
        apply = apply_patch_step if step.patch else apply_step
        step_result = apply(ctx, tip, step, frozenset(present))
        result.steps.append(step_result)
        if step_result.status == "conflict":
            result.status = "conflict"
            if step_result.tree is None:  # a patch that does not apply: no merge to finish by hand
                discard(repo, ws)
                result.stale_recordings = recorded.stale()
                return result
            result.conflict_worktree = materialize(repo, ws, tip.sha, step_result.tree)
            save_state(ws, step.number, tip.sha, step_result.tree, step_result.unresolved,
                       {"base": options.base, "upstream": options.upstream, "offline": options.offline,
                        "locked": options.locked})
            result.stale_recordings = recorded.stale()
            return result
        if step_result.status == "verify-failed":
            result.status = "verify-failed"
            return result
        if step_result.commit:
            tip = repo.commit(step_result.commit)
        if step.pr:
            present |= {step.number} | {i.number for i in step.includes}

    result.head = tip.sha
    result.stale_recordings = recorded.stale()
    result.verify = _run_verify(repo, stack, options, tip.sha, result.steps)
    if any(not v.result.ok for v in result.verify):
        result.status = "verify-failed"
        return result

    repo.update_ref(result.branch_ref, tip.sha, result.previous_head, f"stacker build: {len(plan.steps)} PRs on "
                    f"{plan.upstream.base_name} {plan.base[:12]}")
    result.published = True
    discard(repo, ws)
    write_lock(stack.lock_path(), _lock_for(result, plan, tip.sha, tip.tree, ctx.inputs_digest))
    return result


def _run_verify(repo: Repository, stack: Stack, options: BuildOptions, head: str,
                steps: list[StepResult]) -> list[VerifyOutcome]:
    outcomes = []
    for command in stack.verify:
        if command.name in options.skip_verify:
            continue
        outcome = VerifyOutcome(_verify_at(repo, stack, command, head))
        if not outcome.result.ok:
            outcome.first_failing_step = _first_failing_step(repo, stack, command, steps)
        outcomes.append(outcome)
    return outcomes


def _verify_at(repo: Repository, stack: Stack, command, commit: str) -> CommandResult:
    with tempfile.TemporaryDirectory(prefix="stacker-verify-") as tmp:
        export_tree(repo.path, commit, Path(tmp))
        return run_verify_command(command, Path(tmp), stack.path, commit)


def _first_failing_step(repo: Repository, stack: Stack, command, steps: list[StepResult]) -> int | str | None:
    """Binary search over the step commits for the first one on which the command fails."""
    commits = [(s.step.number or s.step.label, s.commit) for s in steps if s.commit]
    lo, hi = 0, len(commits) - 1  # the last one is known to fail
    if hi < 0:
        return None
    while lo < hi:
        mid = (lo + hi) // 2
        if _verify_at(repo, stack, command, commits[mid][1]).ok:
            lo = mid + 1
        else:
            hi = mid
    return commits[lo][0]


def _lock_for(result: BuildResult, plan: Plan, head: str, tree: str, digest: str) -> Lock:
    by_number = {s.step.number: s for s in result.steps}
    return Lock(
        tool_version=__version__, upstream=plan.upstream.url, base_name=plan.upstream.base_name,
        base=plan.base, target_name=plan.upstream.target_name, target=plan.upstream.target,
        branch=result.stack.branch, head=head, tree=tree, inputs_digest=digest,
        prs=[LockedPR(number=s.number, head=s.head, fork=s.fork,
                      includes={str(i.number): i.head for i in s.includes},
                      status=by_number[s.number].status, commit=by_number[s.number].commit)
             for s in plan.steps if s.pr],
        patches=[{"file": s.step.patch.name, "sha256": s.step.patch.patch.sha256, "after": s.step.patch.after,
                  "mode": s.step.patch.mode, "status": s.status, "commit": s.commit}
                 for s in result.steps if s.step.patch],
    )

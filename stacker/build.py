"""`stacker build`: config → plan → apply (with resolution layers) → verify → publish → report.

Nothing is published unless every step applied and every check passed; publishing is one
compare-and-swap ref update, so an interrupted build (Ctrl-C, kill -9) leaves the bundle branch
exactly where it was.

A build first assembles (apply every step, verify; only git objects are written) and then either
publishes or keeps the conflict for `stacker resolve`. Steps whose inputs match the published
bundle are reused (stacker.reuse); `--advance` assembles on older bases (stacker.advance).
"""

from __future__ import annotations

import hashlib
import re
import shlex
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from stacker import __version__
from stacker.apply import StepContext, StepResult, apply_step
from stacker.codified import load_resolutions
from stacker.config import Stack, VerifyCommand
from stacker.conflict_worktree import discard, materialize, save_state
from stacker.errors import ConfigError, StackerError, UpstreamError
from stacker.filemerge import Layer
from stacker.gitrepo import Repository
from stacker.lockfile import Lock, LockedPR, read_lock, write_lock
from stacker.patch_step import apply_patch_step
from stacker.patches import check_locked_patches
from stacker.plan import Plan, make_plan
from stacker.recorded import RecordedStore
from stacker.reuse import ReusedStep, load_previous, outcome
from stacker.source import export_tree
from stacker.upstream import UpstreamRefs, ensure_commits, fetch, resolve_local, wants_for
from stacker.verified import VerifiedRecord, read_record, write_record
from stacker.verify import CommandResult, run_verify_command
from stacker.workspace import Workspace, workspace_for

if TYPE_CHECKING:
    from stacker.advance import AdvanceReport

# `build --advance` published the stack on a base older than the one asked for (see stacker.advance).
EXIT_OLDER_BASE = 4


@dataclass(frozen=True)
class BuildOptions:
    base: str | None = None
    upstream: str | None = None
    offline: bool = False
    locked: bool = False
    workdir: Path | None = None
    skip_verify: tuple[str, ...] = ()
    reuse: bool = True  # take unchanged steps from the published bundle (False: apply every step)
    advance: bool = False  # fall back to the newest base the stack builds on (stacker.advance)
    # PRs to treat as already in the base: for developing resolutions on a partly stacked base
    assume_present: tuple[int, ...] = ()


@dataclass
class VerifyOutcome:
    result: CommandResult
    first_failing_step: int | str | None = None  # PR number (or patch file) whose step first fails the command
    cached: bool = False  # not run: the published bundle, unchanged, passed it (stacker.verified)
    first_failing_resolutions: list[str] = field(default_factory=list)  # applied in that step


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
    inputs_digest: str = ""
    advance: AdvanceReport | None = None

    @property
    def exit_code(self) -> int:
        if self.status != "ok":
            return 1
        return EXIT_OLDER_BASE if self.advance is not None and self.advance.fell_back else 0

    @property
    def reused(self) -> list[ReusedStep]:
        return [s for s in self.steps if isinstance(s, ReusedStep)]

    @property
    def unchanged(self) -> bool:
        """Nothing to publish: the branch already holds exactly this result."""
        return self.status == "ok" and self.head is not None and self.head == self.previous_head

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
    if options.advance:
        if options.locked:
            raise ConfigError("--advance moves the base and --locked pins it: use one of them")
        from stacker.advance import advance  # advance drives assemble/publish below

        return advance(stack, options, ws, repo, url, upstream, heads)
    result = assemble(stack, options, ws, repo, url, upstream, heads)
    if result.status == "ok":
        publish(result, repo)
    elif result.status == "conflict":
        keep_conflict(result, repo, options)
    return result


def assemble(stack: Stack, options: BuildOptions, ws: Workspace, repo: Repository, url: str,
             upstream: UpstreamRefs, heads: dict[int, str] | None) -> BuildResult:
    """Apply every step and verify the result; writes git objects only (no ref, worktree or lock)."""
    plan = make_plan(repo, stack, upstream, heads)
    result = BuildResult(stack=stack, workspace=ws, status="ok", plan=plan)
    result.previous_head = repo.ref(result.branch_ref)
    recorded = RecordedStore.load(stack.resolutions / "recorded" if stack.resolutions else None)
    ctx = StepContext(repo=repo, upstream_url=url, resolutions=load_resolutions(stack.resolutions),
                      recorded=recorded, structural=structural_layer(), inputs_digest=inputs_digest(stack))
    result.resolutions = ctx.resolutions
    result.inputs_digest = ctx.inputs_digest
    previous = (load_previous(repo, result.previous_head, stack.lock_path(), ws.report_json)
                if options.reuse else None)

    tip = repo.commit(plan.base)
    present: set[int] = set(options.assume_present)
    for step in plan.steps:
        step_result = previous.reuse(ctx, tip, step, frozenset(present)) if previous and step.pr else None
        if step_result is None:
            apply = apply_patch_step if step.patch else apply_step
            step_result = apply(ctx, tip, step, frozenset(present))
        result.steps.append(step_result)
        if step_result.status in ("conflict", "verify-failed"):
            result.status = step_result.status
            result.stale_recordings = recorded.stale()
            return result
        if step_result.commit:
            tip = repo.commit(step_result.commit)
        if step.pr and step_result.status != "superseded":
            present |= {step.number} | {i.number for i in step.includes}

    result.head = tip.sha
    result.stale_recordings = recorded.stale()
    record = read_record(ws.verified_record) if tip.sha == result.previous_head else None
    result.verify = _run_verify(repo, stack, options, tip.sha, result.steps, record)
    if any(not v.result.ok for v in result.verify):
        result.status = "verify-failed"
    return result


def publish(result: BuildResult, repo: Repository) -> None:
    """Move the branch (compare-and-swap), drop a stale conflict worktree, write stack.lock."""
    plan, ws, head = result.plan, result.workspace, result.head
    assert result.status == "ok" and plan is not None and head is not None
    if head != result.previous_head:
        repo.update_ref(result.branch_ref, head, result.previous_head, f"stacker build: {len(plan.steps)} PRs on "
                        f"{plan.upstream.base_name} {plan.base[:12]}")
    result.published = True
    discard(repo, ws)
    lock_path = result.stack.lock_path()
    write_lock(lock_path, _lock_for(result, plan, head, repo.tree_of(head), result.inputs_digest,
                                    _previous_pushes(lock_path)))
    passed = {v.result.name for v in result.verify if v.result.ok}
    write_record(ws.verified_record, head, [c for c in result.stack.verify if c.name in passed])


def keep_conflict(result: BuildResult, repo: Repository, options: BuildOptions, base: str | None = None) -> None:
    """Materialize the stopped step's conflict in the work dir for `stacker resolve`."""
    stopped = result.steps[-1]
    if stopped.tree is None:  # a patch that does not apply: no merge to finish by hand
        discard(repo, result.workspace)
        return
    result.conflict_worktree = materialize(repo, result.workspace, stopped.parent, stopped.tree)
    save_state(result.workspace, stopped.step.number, stopped.parent, stopped.tree, stopped.unresolved,
               {"base": base or options.base, "upstream": options.upstream, "offline": options.offline,
                "locked": options.locked, "assume_present": list(options.assume_present)})


def _previous_pushes(lock_path: Path) -> dict[str, dict[str, str]]:
    """What `stacker push` recorded in the lock being replaced: a rebuild must not forget it."""
    try:
        return read_lock(lock_path).pushed if lock_path.exists() else {}
    except StackerError:
        return {}


def _run_verify(repo: Repository, stack: Stack, options: BuildOptions, head: str,
                steps: list[StepResult], record: VerifiedRecord | None) -> list[VerifyOutcome]:
    outcomes = []
    for command in stack.verify:
        if command.name in options.skip_verify:
            continue
        if record is not None and record.covers(head, command):
            outcomes.append(VerifyOutcome(CommandResult(
                name=command.name, command=command.run, returncode=0, seconds=0.0,
                output_tail=f"passed when {head[:12]} was published; unchanged, not run again"), cached=True))
            continue
        outcome = VerifyOutcome(_verify_at(repo, stack, command, head))
        if not outcome.result.ok:
            outcome.first_failing_step = _first_failing_step(repo, stack, _bisect_command(command, outcome.result),
                                                             steps)
            failing = next((s for s in steps if (s.step.number or s.step.label) == outcome.first_failing_step), None)
            outcome.first_failing_resolutions = failing.resolutions_applied if failing else []
        outcomes.append(outcome)
    return outcomes


def _verify_at(repo: Repository, stack: Stack, command, commit: str) -> CommandResult:
    with tempfile.TemporaryDirectory(prefix="stacker-verify-") as tmp:
        export_tree(repo.path, commit, Path(tmp))
        return run_verify_command(command, Path(tmp), stack.path, commit)


def _bisect_command(command: VerifyCommand, failed: CommandResult) -> VerifyCommand:
    """What to run at each step while searching: the entry's cheaper `bisect` command if it has one."""
    if command.bisect is None:
        return command
    line = command.bisect
    if command.failing is not None:
        match = re.search(command.failing, failed.output_tail)
        if match is None:
            return command
        line = line.replace("{failing}", shlex.quote(match.group(1)))
    return replace(command, run=line)


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


def _lock_for(result: BuildResult, plan: Plan, head: str, tree: str, digest: str,
              pushed: dict[str, dict[str, str]]) -> Lock:
    by_number = {s.step.number: s for s in result.steps}
    return Lock(
        tool_version=__version__, upstream=plan.upstream.url, base_name=plan.upstream.base_name,
        base=plan.base, target_name=plan.upstream.target_name, target=plan.upstream.target,
        branch=result.stack.branch, head=head, tree=tree, inputs_digest=digest,
        prs=[LockedPR(number=s.number, head=s.head, fork=s.fork,
                      includes={str(i.number): i.head for i in s.includes},
                      status=outcome(by_number[s.number]), commit=by_number[s.number].commit)
             for s in plan.steps if s.pr],
        patches=[{"file": s.step.patch.name, "sha256": s.step.patch.patch.sha256, "after": s.step.patch.after,
                  "mode": s.step.patch.mode, "status": s.status, "commit": s.commit}
                 for s in result.steps if s.step.patch],
        pushed=pushed,
    )

"""Reusing the unchanged prefix of the published bundle instead of applying it again.

A step's commit is a deterministic function of its inputs: the tool version, the parent commit,
the PR's fork and head, the resolutions (`stacker.apply.input_key`), which PRs are already
present (codified transforms run once their PRs are all in), and the provenance its message
names (title, upstream URL, included PRs). When a rebuild meets a step whose inputs all match a
step of the published bundle, applying it again would write that very commit, so the commit is
taken as it is: "nothing moved" becomes a no-op and "the last PR was force-pushed" one step of
work, with exactly the SHAs a full rebuild gives.

What the published bundle's steps were built from comes from stack.lock (forks, heads, order,
inputs digest) checked against the bundle branch itself (each commit's parent and `Stacker-Input`
trailer); a lock that does not describe the branch is not trusted and nothing is reused.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from stacker import __version__
from stacker.apply import StepContext, StepResult, input_key, step_message
from stacker.codified import TransformRecord
from stacker.errors import StackerError
from stacker.gitrepo import CommitInfo, Repository
from stacker.lockfile import Lock, read_lock
from stacker.plan import Step

_INPUT_TRAILER = re.compile(r"^Stacker-Input: ([0-9a-f]{64})$", re.MULTILINE)
_RESOLUTION_TRAILER = re.compile(r"^Stacker-Resolution: (\S+)$", re.MULTILINE)
# Lines of a step's message that depend on how its conflicts were resolved, not on its inputs.
_RESULT_LINES = ("Conflicts resolved:", "Stacker-Resolution:")


@dataclass
class ReusedStep(StepResult):
    """A step taken from the published bundle; `outcome` is what the step did when it was built."""

    outcome: str = "applied"  # "applied" or "already-applied"
    carried: dict = field(default_factory=dict)  # the step's entry in the previous bundle.json
    trailer_resolutions: tuple[str, ...] = ()

    @property
    def resolutions_applied(self) -> list[str]:
        return sorted(set(self.trailer_resolutions) | set(super().resolutions_applied))


def outcome(step: StepResult) -> str:
    """What a step did to the bundle, whether it was applied now or reused."""
    return step.outcome if isinstance(step, ReusedStep) else step.status


@dataclass(frozen=True)
class _Inputs:
    """The part of a `Step` that `input_key` reads, rebuilt from stack.lock."""

    fork: str
    head: str


@dataclass(frozen=True)
class PublishedStep:
    number: int
    key: str
    present_before: frozenset[int]  # PRs in the bundle before this step (transforms depend on them)
    includes: dict[int, str]
    commit: CommitInfo | None  # None: the step changed nothing (already applied on the base)


@dataclass
class PreviousBundle:
    """The published bundle's steps, by input key."""

    head: str
    steps: dict[str, PublishedStep]
    details: dict[str, dict]  # input key -> the step's entry in the previous bundle.json

    def reuse(self, ctx: StepContext, tip: CommitInfo, step: Step, present: frozenset[int]) -> ReusedStep | None:
        """The published step with exactly these inputs, or None when the step must be applied."""
        key = input_key(tip.sha, step, ctx.inputs_digest)
        published = self.steps.get(key)
        if published is None or published.number != step.number or published.present_before != present:
            return None
        if published.includes != {i.number: i.head for i in step.includes}:
            return None
        carried = self.details.get(key, {})
        transforms = [TransformRecord(**{**t, "paths": tuple(t.get("paths", ()))}) for t in carried.get("transforms", [])]
        if published.commit is None:
            return ReusedStep(step=step, status="reused", parent=tip.sha, tree=tip.tree, input_key=key,
                              outcome="already-applied", carried=carried, transforms=transforms)
        commit = published.commit
        if commit.parents != (tip.sha,) or not _same_provenance(ctx, step, tip.sha, key, commit.message):
            return None
        return ReusedStep(step=step, status="reused", parent=tip.sha, commit=commit.sha, tree=commit.tree,
                          input_key=key, outcome="applied", carried=carried, transforms=transforms,
                          trailer_resolutions=tuple(_RESOLUTION_TRAILER.findall(commit.message)))


def load_previous(repo: Repository, branch_head: str | None, lock_path: Path, report_json: Path) -> PreviousBundle | None:
    """The published bundle's steps, or None when stack.lock does not describe the branch."""
    if branch_head is None or not lock_path.exists():
        return None
    try:
        lock = read_lock(lock_path)
    except StackerError:
        return None
    if lock.head != branch_head or lock.tool_version != __version__:
        return None
    steps = _published_steps(repo, lock)
    if steps is None:
        return None
    return PreviousBundle(head=branch_head, steps=steps, details=_details(report_json))


def _published_steps(repo: Repository, lock: Lock) -> dict[str, PublishedStep] | None:
    """Replay the lock's chain of steps over the branch; None at the first thing that disagrees.

    The stack's own patches are steps of the chain too (after the PR they name, default the last),
    but they are never reused — applying one is cheap — so they only move the parent along.
    """
    steps: dict[str, PublishedStep] = {}
    parent = lock.base
    present: set[int] = set()
    last = lock.prs[-1].number if lock.prs else None
    for locked in lock.prs:
        key = input_key(parent, _Inputs(fork=locked.fork, head=locked.head), lock.inputs_digest)
        commit = None
        if locked.commit:
            commit = _chained(repo, locked.commit, parent, key)
            if commit is None:
                return None
            parent = commit.sha
        includes = {int(n): sha for n, sha in locked.includes.items()}
        steps[key] = PublishedStep(number=locked.number, key=key, present_before=frozenset(present),
                                   includes=includes, commit=commit)
        present |= {locked.number, *includes}
        for patch in lock.patches:
            if (patch.get("after") or last) == locked.number and patch.get("commit"):
                chained = _chained(repo, patch["commit"], parent, None)
                if chained is None:
                    return None
                parent = chained.sha
    return steps if parent == lock.head else None


def _chained(repo: Repository, sha: str, parent: str, key: str | None) -> CommitInfo | None:
    """The commit, if it is there, sits on `parent` and (for a PR step) carries `key`."""
    if not repo.has_object(sha):
        return None
    commit = repo.commit(sha)
    if commit.parents != (parent,) or (key is not None and _INPUT_TRAILER.findall(commit.message) != [key]):
        return None
    return commit


def _details(report_json: Path) -> dict[str, dict]:
    """Per-step details of the last build's report, for steps that recorded their input key."""
    try:
        report = json.loads(report_json.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {s["input_key"]: s for s in report.get("steps", []) if isinstance(s, dict) and s.get("input_key")}


def _same_provenance(ctx: StepContext, step: Step, parent: str, key: str, message: str) -> bool:
    """The commit's message names this step's PR, title, upstream, includes and key."""
    expected = step_message(ctx, step, StepResult(step=step, status="applied", parent=parent, input_key=key))
    return _provenance(expected) == _provenance(message)


def _provenance(message: str) -> list[str]:
    return [line for line in message.strip().splitlines() if not line.startswith(_RESULT_LINES)]

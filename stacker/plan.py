"""From the stack and the fetched upstream refs to the ordered steps of a build.

A PR's change is `fork..head`. The fork is where the PR left the branch it targets:
merge-base(target tip, head) — not merge-base(build base, head), which for a base older than the
PR would drag in every upstream commit between the base and the PR's real fork. When an earlier PR
of the stack is an ancestor of this head (a PR stacked on another), the fork is that PR's head, so
the earlier PR's commits are not applied twice.

The stack's own patches (stacker/patches.py) are steps too, placed after the PR they name. A patch
has no fork or head in upstream's history: its step gets synthetic ones when it is applied
(stacker/patch_step.py), so in the plan they are empty.
"""

from __future__ import annotations

from dataclasses import dataclass

from stacker.config import PullRequest, Stack
from stacker.gitrepo import Repository
from stacker.patches import PatchSource, patch_sources
from stacker.upstream import UpstreamRefs


@dataclass(frozen=True)
class Included:
    """A PR whose commits come along inside another PR's change."""

    number: int
    head: str
    listed: bool  # named in stack.yaml's `includes`, or only detected


@dataclass(frozen=True)
class Step:
    pr: PullRequest | None  # None for a patch step
    head: str
    fork: str
    stacked_on: int | None
    includes: tuple[Included, ...]
    commits: int  # commits in fork..head
    behind: int  # upstream commits between the fork and the base
    contained: bool  # head already in the base (merged or superseded upstream)
    warnings: tuple[str, ...] = ()
    patch: PatchSource | None = None  # set for a patch step (then `pr` is None)

    @property
    def number(self) -> int | None:
        return self.pr.number if self.pr else None

    @property
    def label(self) -> str:
        if self.patch:
            return self.patch.name
        extra = "".join(f" (+#{i.number})" for i in self.includes)
        return f"#{self.pr.number}{extra}"

    @property
    def name(self) -> str:
        """How a sentence names the step: '#2349', or 'patch patches/fix.patch'."""
        return f"patch {self.patch.name}" if self.patch else f"#{self.pr.number}"


@dataclass(frozen=True)
class Plan:
    stack: Stack
    upstream: UpstreamRefs
    steps: tuple[Step, ...]

    @property
    def base(self) -> str:
        return self.upstream.base


def make_plan(repo: Repository, stack: Stack, upstream: UpstreamRefs,
              heads_override: dict[int, str] | None = None) -> Plan:
    """Compute every step's fork, included PRs and distances; reads git, writes nothing."""
    heads = {**upstream.others, **upstream.heads, **(heads_override or {})}
    steps: list[Step] = []
    for pr in stack.prs:
        head = heads[pr.number]
        earlier = [s for s in steps if repo.is_ancestor(s.head, head)]
        if earlier:
            stacked = earlier[-1]
            fork, stacked_on = stacked.head, stacked.number
        else:
            fork = repo.merge_base(upstream.target, head) or repo.merge_base(upstream.base, head) or head
            stacked_on = None
        includes, warnings = _includes(repo, stack, pr, head, fork, heads, {s.number for s in steps})
        steps.append(Step(
            pr=pr, head=head, fork=fork, stacked_on=stacked_on, includes=includes,
            commits=repo.count(f"{fork}..{head}"),
            behind=repo.count(f"{fork}..{upstream.base}"),
            contained=repo.is_ancestor(head, upstream.base),
            warnings=warnings,
        ))
    return Plan(stack=stack, upstream=upstream, steps=_with_patches(steps, patch_sources(repo, stack)))


def _with_patches(steps: list[Step], patches: list[PatchSource]) -> tuple[Step, ...]:
    """Each patch right after the PR its `after` names (default: the last PR), in listed order."""
    last = steps[-1].number
    ordered: list[Step] = []
    for step in steps:
        ordered.append(step)
        ordered += [Step(pr=None, head="", fork="", stacked_on=None, includes=(), commits=1, behind=0,
                         contained=False, patch=p) for p in patches if (p.after or last) == step.number]
    return tuple(ordered)


def _includes(repo: Repository, stack: Stack, pr: PullRequest, head: str, fork: str,
              heads: dict[int, str], applied: set[int]) -> tuple[tuple[Included, ...], tuple[str, ...]]:
    found: list[Included] = []
    warnings: list[str] = []
    known = list(stack.pr_numbers) + sorted(n for n in heads if n not in stack.pr_numbers)
    for number in known:
        if number == pr.number or number in applied or number not in heads:
            continue
        other = heads[number]
        inside = repo.is_ancestor(other, head) and not repo.is_ancestor(other, fork)
        listed = number in pr.includes
        if inside:
            found.append(Included(number=number, head=other, listed=listed))
        elif listed:
            warnings.append(f"#{number} is listed in 'includes' of #{pr.number} (stack.yaml:{pr.line}) "
                            f"but its head {other[:12]} is not in #{pr.number}'s history")
    return tuple(found), tuple(warnings)

"""`stacker plan`'s data: the plan plus each step's diff size and the overlap forecast (patches included)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from stacker.build import upstream_url
from stacker.config import Stack
from stacker.gitrepo import Repository
from stacker.overlap import Change, Overlap, change_between, change_from_diff, overlaps
from stacker.plan import Plan, Step, make_plan
from stacker.upstream import fetch, resolve_local, wants_for
from stacker.workspace import workspace_for


@dataclass(frozen=True)
class PlanView:
    plan: Plan
    changes: dict[int | str, Change]  # PR number (patch: its file) -> its change
    upstream_changes: dict[int, Change]  # PR number -> what the base changed since its fork
    overlaps: list[Overlap]
    upstream_overlaps: dict[int | str, Overlap | None]  # a patch has no fork: None

    def change(self, step: Step) -> Change:
        return self.changes[_key(step)]

    def upstream_overlap(self, step: Step) -> Overlap | None:
        return self.upstream_overlaps[_key(step)]


def _key(step: Step) -> int | str:
    return step.number if step.pr else step.label


def plan_view(stack: Stack, base: str | None, upstream: str | None, offline: bool,
              workdir: Path | None) -> PlanView:
    ws = workspace_for(stack.path, workdir)
    with ws.locked() as repo:
        url = upstream_url(stack, upstream)
        want = wants_for(stack, base)
        refs = resolve_local(repo, url, want) if offline else fetch(repo, url, want)
        plan = make_plan(repo, stack, refs)
        return _view(repo, plan)


def _view(repo: Repository, plan: Plan) -> PlanView:
    changes = {_key(s): change_from_diff(s.label, s.patch.patch.diff) if s.patch else
               change_between(repo, s.label, s.fork, s.head) for s in plan.steps}
    upstream_changes = {}
    upstream_overlaps: dict[int | str, Overlap | None] = {_key(s): None for s in plan.steps if s.patch}
    for s in plan.steps:
        if s.patch:
            continue
        since = repo.merge_base(s.fork, plan.base) or s.fork
        up = change_between(repo, f"base since #{s.number}'s fork", since, plan.base)
        upstream_changes[s.number] = up
        found = overlaps([changes[s.number], up])
        upstream_overlaps[s.number] = found[0] if found else None
    return PlanView(plan=plan, changes=changes, upstream_changes=upstream_changes,
                    overlaps=overlaps(list(changes.values())), upstream_overlaps=upstream_overlaps)

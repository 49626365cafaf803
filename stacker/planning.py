"""`stacker plan`'s data: the plan plus each PR's diff size and the overlap forecast."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from stacker.build import upstream_url
from stacker.config import Stack
from stacker.gitrepo import Repository
from stacker.overlap import Change, Overlap, change_between, overlaps
from stacker.plan import Plan, make_plan
from stacker.upstream import fetch, resolve_local, wants_for
from stacker.workspace import workspace_for


@dataclass(frozen=True)
class PlanView:
    plan: Plan
    changes: dict[int, Change]  # PR number -> its change
    upstream_changes: dict[int, Change]  # PR number -> what the base changed since its fork
    overlaps: list[Overlap]
    upstream_overlaps: dict[int, Overlap | None]


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
    changes = {s.number: change_between(repo, s.label, s.fork, s.head) for s in plan.steps}
    upstream_changes = {}
    upstream_overlaps = {}
    for s in plan.steps:
        since = repo.merge_base(s.fork, plan.base) or s.fork
        up = change_between(repo, f"base since #{s.number}'s fork", since, plan.base)
        upstream_changes[s.number] = up
        found = overlaps([changes[s.number], up])
        upstream_overlaps[s.number] = found[0] if found else None
    return PlanView(plan=plan, changes=changes, upstream_changes=upstream_changes,
                    overlaps=overlaps(list(changes.values())), upstream_overlaps=upstream_overlaps)

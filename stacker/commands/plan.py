"""`stacker plan`: the stack before anything is applied, and where conflicts will come from."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from stacker.cli_options import JSON, OFFLINE, STACK, UPSTREAM, WORKDIR, open_stack
from stacker.cli_options import console as make_console
from stacker.planning import PlanView, plan_view


def register(app: typer.Typer) -> None:
    @app.command("plan")
    def plan_command(
        base: str = typer.Option(None, "--base", help="Branch, tag or commit to plan onto."),
        stack: Path = STACK,
        workdir: Path = WORKDIR,
        upstream: str = UPSTREAM,
        offline: bool = OFFLINE,
        as_json: bool = JSON,
    ) -> int:
        """Show each PR's fork point, size, distance from the base, and the pairwise overlap matrix."""
        view = plan_view(open_stack(stack), base, upstream, offline, workdir)
        if as_json:
            print(json.dumps(to_json(view), indent=2))
        else:
            show(view)
        return 0


def to_json(view: PlanView) -> dict:
    plan = view.plan
    return {
        "base": {"name": plan.upstream.base_name, "sha": plan.base},
        "target": {"name": plan.upstream.target_name, "sha": plan.upstream.target},
        "upstream": plan.upstream.url,
        "steps": [{
            "number": s.number, "title": s.pr.title if s.pr else s.patch.subject, "head": s.head or None,
            "fork": s.fork or None, "stacked_on": s.stacked_on,
            "includes": [{"number": i.number, "head": i.head, "listed": i.listed} for i in s.includes],
            "commits": s.commits, "behind": s.behind, "contained_in_base": s.contained,
            "files": sorted(view.change(s).files), "added": view.change(s).added,
            "removed": view.change(s).removed, "warnings": list(s.warnings),
            "upstream_overlap": _overlap_json(view.upstream_overlap(s)),
            "kind": "patch" if s.patch else "pr",
            "patch": _patch_json(s) if s.patch else None,
        } for s in plan.steps],
        "overlaps": [_overlap_json(o) for o in view.overlaps],
    }


def _patch_json(s) -> dict:
    return {"file": s.patch.name, "sha256": s.patch.patch.sha256, "after": s.patch.after, "mode": s.patch.mode,
            "mode_reason": s.patch.mode_reason, "format": s.patch.patch.kind, "stack_line": s.patch.entry.line}


def _overlap_json(o):
    return None if o is None else {"a": o.a, "b": o.b, "files": list(o.files), "colliding": list(o.colliding)}


def show(view: PlanView) -> None:
    console = make_console()
    plan = view.plan
    console.print(f"base [bold]{plan.upstream.base_name}[/] {plan.base[:12]}  (forks taken against "
                  f"{plan.upstream.target_name} {plan.upstream.target[:12]})  from {plan.upstream.url}")
    table = Table(title="Stack", title_justify="left")
    for column in ("step", "PR", "head", "fork", "commits", "files", "+/-", "behind base", "notes"):
        table.add_column(column)
    for i, s in enumerate(plan.steps, 1):
        change = view.change(s)
        if s.patch:
            after = f"after #{s.patch.after}" if s.patch.after else "after the last PR"
            table.add_row(str(i), s.label, "—", "—", "1", str(len(change.files)),
                          f"+{change.added}/-{change.removed}", "—", f"patch, {after}; {s.patch.mode_reason}")
            continue
        notes = []
        for inc in s.includes:
            notes.append(f"includes #{inc.number} ({'listed' if inc.listed else 'detected'})")
        if s.stacked_on:
            notes.append(f"stacked on #{s.stacked_on}")
        if s.contained:
            notes.append("head already in base")
        notes += [f"warning: {w}" for w in s.warnings]
        table.add_row(str(i), s.label, s.head[:10], s.fork[:10], str(s.commits), str(len(change.files)),
                      f"+{change.added}/-{change.removed}", str(s.behind), "; ".join(notes))
    console.print(table)

    labels = [s.label for s in plan.steps]
    matrix = Table(title="Overlap (files both change / with colliding hunks)", title_justify="left")
    matrix.add_column("")
    for label in labels:
        matrix.add_column(label)
    matrix.add_column("base since fork")
    pairs = {(o.a, o.b): o for o in view.overlaps}
    for s in plan.steps:
        row = [s.label]
        for other in plan.steps:
            if other.label == s.label:
                row.append("—")
                continue
            o = pairs.get((s.label, other.label)) or pairs.get((other.label, s.label))
            row.append(_cell(o))
        row.append(_cell(view.upstream_overlap(s)) if s.pr else "n/a")
        matrix.add_row(*row)
    console.print(matrix)
    for o in view.overlaps:
        if o.colliding:
            console.print(f"  likely conflict: {o.a} × {o.b} in {', '.join(o.colliding)}")
    for s in plan.steps:
        o = view.upstream_overlap(s)
        if o and o.colliding:
            console.print(f"  likely conflict: {s.label} × base ({s.behind} commits since its fork) in "
                          f"{', '.join(o.colliding)}")


def _cell(o) -> str:
    if o is None:
        return "·"
    return f"{len(o.files)} / [red]{len(o.colliding)}[/]" if o.colliding else f"{len(o.files)} / 0"

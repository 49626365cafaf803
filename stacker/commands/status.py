"""`stacker status`: what moved upstream since stack.lock, and whether the bundle needs a rebuild."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from stacker.cli_options import JSON, OFFLINE, STACK, UPSTREAM, WORKDIR, open_stack
from stacker.cli_options import console as make_console
from stacker.status import EXIT_CURRENT, EXIT_REBUILD, PRStatus, StackStatus, stack_status

_MAX_LISTED = 20


def register(app: typer.Typer) -> None:
    @app.command("status", help=f"Fetch and compare upstream with stack.lock: what moved, and whether the bundle "
                      f"needs a rebuild. Exit {EXIT_CURRENT}: current, {EXIT_REBUILD}: rebuild needed, 2: error.")
    def status_command(
        base: str = typer.Option(None, "--base", help="Compare with this base instead of stack.yaml's."),
        stack: Path = STACK,
        workdir: Path = WORKDIR,
        upstream: str = UPSTREAM,
        offline: bool = OFFLINE,
        as_json: bool = JSON,
    ) -> int:
        status = stack_status(open_stack(stack), upstream, offline, workdir, base)
        if as_json:
            print(json.dumps(to_json(status), indent=2))
        else:
            show(status)
        return status.exit_code


def to_json(status: StackStatus) -> dict:
    base = status.base
    lock = status.lock
    return {
        "current": status.current,
        "exit_code": status.exit_code,
        "reasons": status.reasons,
        "stack": status.stack.name,
        "upstream": status.upstream,
        "lock": None if lock is None else {"head": lock.head, "base": lock.base, "base_name": lock.base_name,
                                           "branch": lock.branch, "tool_version": lock.tool_version},
        "base": None if base is None else {
            "name": base.name, "locked_name": base.locked_name, "locked": base.locked, "now": base.now,
            "moved": base.moved, "commits": base.commits, "first_parent": base.first_parent,
            "rewritten": base.rewritten,
            "touching": [{"sha": c.sha, "subject": c.subject, "files": list(c.files)} for c in base.touching],
        },
        "prs": [{"number": p.number, "included_in": p.included_in, "locked_head": p.locked_head, "head": p.head,
                 "state": p.state, "new_commits": p.new_commits, "old_head_available": p.old_head_available,
                 "fork_moved": p.fork_moved, "contained": p.contained, "was_contained": p.was_contained}
                for p in status.prs],
        "removed": status.removed,
        "reordered": status.reordered,
        "resolutions_changed": status.resolutions_changed,
        "resolution_files": status.resolution_files,
        "patches": status.patches,
    }


def show(status: StackStatus) -> None:
    console = make_console()
    if status.lock is None:
        console.print(f"[yellow]rebuild needed[/]: {status.reasons[0]}; run `stacker build`")
        return
    lock = status.lock
    table = Table(title=f"{status.stack.name}: {lock.branch} at {lock.head[:12]} (stack.lock) vs {status.upstream}",
                  title_justify="left")
    for column in ("input", "locked", "now", "state"):
        table.add_column(column)
    base = status.base
    if base is not None:
        if not base.moved:
            state = "[green]unchanged[/]"
        elif base.rewritten:
            state = "[red]rewritten[/] (the locked base is not in its history)"
        else:
            state = (f"[yellow]moved[/] {base.commits} commit(s), {base.first_parent} first-parent; "
                     f"{len(base.touching)} touch the stack's files")
        table.add_row(f"base {base.name}", base.locked[:12], base.now[:12], state)
    for pr in status.prs:
        label = f"#{pr.number}" + (f" (in #{pr.included_in})" if pr.included_in else "")
        table.add_row(label, (pr.locked_head or "—")[:12], pr.head[:12], _pr_state(pr))
    for number in status.removed:
        locked = lock.pr(number)
        table.add_row(f"#{number}", locked.head[:12] if locked else "—", "—", "[yellow]removed from stack.yaml[/]")
    for name, how in sorted(status.patches.items()):
        table.add_row(f"patch {name}", "", "", f"[yellow]{how}[/]")
    digest_state = "[yellow]changed[/]" if status.resolutions_changed else "[green]unchanged[/]"
    if status.resolution_files:
        digest_state += ": " + ", ".join(status.resolution_files)
    table.add_row("resolutions", lock.inputs_digest[:12], "", digest_state)
    console.print(table)
    if base is not None and base.touching:
        console.print(f"upstream commits since the lock that touch files the stack changes ({len(base.touching)}):")
        for commit in base.touching[:_MAX_LISTED]:
            console.print(f"  {commit.sha[:12]} {commit.subject}  [dim]{', '.join(commit.files)}[/]", highlight=False)
        if len(base.touching) > _MAX_LISTED:
            console.print(f"  … {len(base.touching) - _MAX_LISTED} more (see --json)")
    if status.current:
        console.print(f"[green]current[/]: nothing moved since {lock.head[:12]} was built")
    else:
        console.print("[yellow]rebuild needed[/]:")
        for reason in status.reasons:
            console.print(f"  - {reason}", markup=False)


def _pr_state(pr: PRStatus) -> str:
    parts = []
    if pr.state == "unchanged":
        parts.append("[green]unchanged[/]")
    elif pr.state == "new commits":
        parts.append(f"[yellow]{pr.new_commits} new commit(s)[/] on top")
    elif pr.state == "force-pushed":
        parts.append("[yellow]force-pushed[/]" + ("" if pr.old_head_available else " (old head no longer fetchable)"))
    else:
        parts.append("[yellow]new in stack.yaml[/]")
    if pr.fork_moved:
        parts.append("fork point moved")
    if pr.contained:
        parts.append("contained in the base" + (" (as before)" if pr.was_contained else " — merged or superseded"))
    return "; ".join(parts)

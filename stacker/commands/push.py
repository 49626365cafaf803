"""`stacker push`: push the bundle branch to a remote with a lease (never over a branch that moved)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from stacker.cli_options import JSON, STACK, WORKDIR, open_stack
from stacker.cli_options import console as make_console
from stacker.push import push


def register(app: typer.Typer) -> None:
    @app.command("push")
    def push_command(
        remote: str = typer.Option(..., "--remote", help="Git URL or path to push to."),
        branch: str = typer.Option(None, "--branch", help="Branch name on the remote (default: stack.yaml's branch)."),
        expect: str = typer.Option(None, "--expect", help="Replace the remote branch only if it is at this commit "
                                   "('' = only if absent); default: what stacker last pushed there (stack.lock)."),
        stack: Path = STACK,
        workdir: Path = WORKDIR,
        as_json: bool = JSON,
    ) -> int:
        """Push the built bundle branch with --force-with-lease. Exit 0 pushed or up to date, 1 refused, 2 error."""
        result = push(open_stack(stack), remote, branch, expect, workdir)
        if as_json:
            print(json.dumps({"remote": result.remote, "branch": result.branch, "pushed": result.pushed,
                              "previous": result.previous, "up_to_date": result.up_to_date}, indent=2))
        elif result.up_to_date:
            make_console().print(f"{result.remote} {result.branch} is already at {result.pushed[:12]}")
        else:
            make_console().print(f"[green]pushed[/] {result.branch} {(result.previous or 'new')[:12]} -> "
                                 f"{result.pushed[:12]} to {result.remote}")
        return 0

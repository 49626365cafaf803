"""Options several subcommands share, and loading the stack they name."""

from __future__ import annotations

from pathlib import Path

import typer

from stacker.config import Stack, load_stack

STACK = typer.Option(Path("stack.yaml"), "--stack", "-s", help="The stack file.", show_default=True)
WORKDIR = typer.Option(None, "--workdir", help="stacker's work directory (default: .stacker/ beside stack.yaml).")
UPSTREAM = typer.Option(None, "--upstream", help="Upstream git URL or path (overrides stack.yaml).")
OFFLINE = typer.Option(False, "--offline", help="Use what is already fetched; no network.")
JSON = typer.Option(False, "--json", help="Print one JSON object instead of tables.")


def open_stack(path: Path) -> Stack:
    return load_stack(path)


def console(stderr: bool = False):
    """A rich console; wide when not on a terminal, so logs and CI output keep their tables."""
    import sys

    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    return Console(highlight=False, soft_wrap=True, stderr=stderr, width=None if stream.isatty() else 160)

"""`stacker report`: print the last build's conflicts log."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markdown import Markdown

from stacker.cli_options import STACK, WORKDIR, console
from stacker.errors import ConfigError
from stacker.workspace import workspace_for


def register(app: typer.Typer) -> None:
    @app.command("report")
    def report_command(
        stack: Path = STACK,
        workdir: Path = WORKDIR,
        as_json: bool = typer.Option(False, "--json", help="Print bundle.json instead."),
        raw: bool = typer.Option(False, "--raw", help="Print the Markdown source, not rendered."),
    ) -> int:
        """Print BUNDLE.md (or bundle.json) of the last build."""
        ws = workspace_for(stack.resolve(), workdir)
        path = ws.report_json if as_json else ws.report_markdown
        if not path.exists():
            raise ConfigError(f"{path}: no report yet; run `stacker build` first")
        text = path.read_text(encoding="utf-8")
        if as_json or raw:
            print(text, end="")
        else:
            console().print(Markdown(text))
        return 0

"""The command line: parses arguments and prints; every command's work is importable elsewhere.

Each module in `stacker.commands` registers its own subcommand(s) through `register(app)`, so a
new command is a new file and nothing here changes.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

import typer

from stacker import __version__, commands
from stacker.clirun import run_app

app = typer.Typer(
    name="stacker",
    help="Keep a bundle branch of open upstream pull requests alive on a moving upstream.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        print(f"stacker {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """stacker: build, verify, validate and publish a bundle of upstream PRs."""


for _info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
    importlib.import_module(f"{commands.__name__}.{_info.name}").register(app)


def main(argv: list[str] | None = None) -> int:
    """Entry point: a `StackerError` becomes one line on stderr and its exit code."""
    return run_app(app, argv)


if __name__ == "__main__":
    sys.exit(main())

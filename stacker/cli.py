"""The command line: parses arguments and prints; every command's work is importable elsewhere.

Each module in `stacker.commands` registers its own subcommand(s) through `register(app)`, so a
new command is a new file and nothing here changes.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

import typer
from rich.console import Console

from stacker import __version__, commands
from stacker.errors import StackerError

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


def _is_click_exception(error: Exception) -> bool:
    """click's exceptions, whether from click itself or the copy typer vendors (typer._click)."""
    return any(cls.__name__ == "ClickException" for cls in type(error).__mro__) and hasattr(error, "show")


def main(argv: list[str] | None = None) -> int:
    """Entry point: a `StackerError` becomes one line on stderr and its exit code."""
    try:
        returned = app(args=argv, standalone_mode=False)
    except StackerError as error:
        Console(stderr=True, highlight=False, soft_wrap=True).print(f"[bold red]stacker:[/] {error}")
        return error.exit_code
    except typer.Exit as done:
        return done.exit_code
    except (typer.Abort, KeyboardInterrupt):
        print("stacker: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # click's usage errors arrive here in non-standalone mode
        if _is_click_exception(error):
            error.show()
            return getattr(error, "exit_code", 2) or 2
        raise
    return returned if isinstance(returned, int) else 0


if __name__ == "__main__":
    sys.exit(main())

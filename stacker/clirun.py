"""Running a typer app the stacker way: an error is one line on stderr and an exit code, never a
traceback. Shared by the full CLI and the validate command's light standalone entry point (which
the device runs without importing every command)."""

from __future__ import annotations

import sys

import typer
from rich.console import Console
from rich.markup import escape

from stacker.errors import StackerError


def _is_click_exception(error: Exception) -> bool:
    """click's exceptions, whether from click itself or the copy typer vendors (typer._click)."""
    return any(cls.__name__ == "ClickException" for cls in type(error).__mro__) and hasattr(error, "show")


def run_app(app: typer.Typer, argv: list[str] | None = None) -> int:
    """`app(argv)` with a `StackerError` as one line and its exit code, usage errors as click shows
    them (exit 2), an interrupt as exit 130."""
    try:
        returned = app(args=argv, standalone_mode=False)
    except StackerError as error:
        Console(stderr=True, highlight=False, soft_wrap=True).print(f"[bold red]stacker:[/] {escape(str(error))}")
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

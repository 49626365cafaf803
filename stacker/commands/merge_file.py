"""`stacker merge-file`: merge one file three ways; usable as a git merge driver."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from stacker.linemerge import Labels
from stacker.mergedriver import merge_paths


def register(app: typer.Typer) -> None:
    @app.command("merge-file")
    def merge_file_command(
        base: Path = typer.Argument(..., help="The common ancestor's version (git's %O)."),
        ours: Path = typer.Argument(..., help="Our version (git's %A); the result is written here."),
        theirs: Path = typer.Argument(..., help="Their version (git's %B)."),
        path: str = typer.Option(None, "--path", help="The file's path in the repository (git's %P): "
                                 "decides whether it is Python."),
        marker_size: int = typer.Option(7, "--marker-size", help="Conflict marker length (git's %L)."),
        out: Path = typer.Option(None, "-o", "--output", help="Write the result here ('-': stdout) "
                                 "instead of over OURS."),
        diff3: bool = typer.Option(None, "--diff3/--no-diff3", help="Show the base section in conflicts "
                                   "(default: follow git's merge.conflictStyle)."),
        label: list[str] = typer.Option([], "-L", "--label", help="Marker labels, up to three: ours, base, "
                                        "theirs (git >= 2.44 passes them as %X %S %Y)."),
        strict: bool = typer.Option(True, "--strict/--stack-order", help="Where both sides inserted at one "
                                    "place and any order would be correct (new methods, keyword arguments): "
                                    "leave a conflict (--strict, the default), or keep both, ours first, "
                                    "as `stacker build` does (--stack-order)."),
        quiet: bool = typer.Option(False, "-q", "--quiet", help="Do not list structural merges on stderr."),
    ) -> int:
        """Merge BASE, OURS and THEIRS: git's line merge, then structural merges for Python.

        Exit 0 when clean, 1 when conflicts are left (marked in the output), 2 on bad input.
        """
        if len(label) > 3:
            raise typer.BadParameter("at most three labels: ours, base, theirs")
        names = [*label, *("ours", "base", "theirs")[len(label):]]
        result = merge_paths(base, ours, theirs, path=path, out=out,
                             labels=Labels(ours=names[0], base=names[1], theirs=names[2]),
                             marker_size=marker_size, diff3=diff3, stack_order=not strict)
        if out is not None and str(out) == "-":
            sys.stdout.write(result.text)
        if not quiet:
            for note in result.notes:
                print(f"stacker: merged {note}", file=sys.stderr)
        return 0 if result.clean else 1

"""`stacker export series|wheel`: the published bundle as a patch series, or as an installable wheel."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from stacker.bundle import published_bundle
from stacker.cli_options import JSON, STACK, WORKDIR, open_stack
from stacker.cli_options import console as make_console
from stacker.export_series import export_series
from stacker.export_wheel import export_wheel

REV = typer.Option(None, "--rev", help="Export this commit of stacker's repository instead of the bundle branch.")


def register(app: typer.Typer) -> None:
    export = typer.Typer(name="export", help="Write the published bundle out: a patch series, or a wheel.",
                         no_args_is_help=True)
    app.add_typer(export)

    @export.command("series")
    def series_command(
        out: Path = typer.Option(..., "--out", "-o", help="Directory for the series (empty, or an earlier series)."),
        stack: Path = STACK,
        workdir: Path = WORKDIR,
        rev: str = REV,
        as_json: bool = JSON,
    ) -> int:
        """One git format-patch file per bundle commit and a `series` file; checked to rebuild the head's tree."""
        result = export_series(published_bundle(open_stack(stack), workdir, rev), out)
        if as_json:
            print(json.dumps(result.to_json(), indent=2))
            return 0
        console = make_console()
        b = result.bundle
        console.print(f"series of {len(result.patches)} patch(es) in {result.out}  (base {b.base[:12]}, "
                      f"head {b.head[:12]})")
        for p in result.patches:
            console.print(f"  {p.file}", markup=False)
        console.print(f"checked: applied to the base it gives the head's tree {result.verified_tree[:12]}")
        if result.binary_files:
            console.print(f"[yellow]note:[/] patch -p1 cannot apply the binary changes to "
                          f"{', '.join(result.binary_files)} (git am can)")
        return 0

    @export.command("wheel")
    def wheel_command(
        out: Path = typer.Option(..., "--out", "-o", help="Directory to write the wheel into."),
        stack: Path = STACK,
        workdir: Path = WORKDIR,
        rev: str = REV,
        isolation: bool = typer.Option(True, "--build-isolation/--no-build-isolation",
                                       help="Let pip fetch the package's build backend into an isolated "
                                            "environment (default), or use the one installed for --python."),
        python: str = typer.Option(None, "--python", help="Interpreter that runs the build (default: stacker's)."),
        check_install: bool = typer.Option(False, "--check-install",
                                           help="Install the wheel into a fresh venv (no deps) and report it."),
        as_json: bool = JSON,
    ) -> int:
        """Build the bundle's Python package (stack.yaml `package:`) as a wheel with a PEP 440 local version."""
        result = export_wheel(published_bundle(open_stack(stack), workdir, rev), out, isolation=isolation,
                              python=python, check_install=check_install)
        if as_json:
            print(json.dumps(result.to_json(), indent=2))
            return 0
        console = make_console()
        base = result.base_version
        since = (f"tag {base.tag}, {base.distance} commit(s) before the base" if base.tag
                 else "the package's own version")
        console.print(f"{result.wheel}", markup=False)
        console.print(f"  version {result.version}  (base version {base.version} from {since})", markup=False)
        console.print(f"  sha256 {result.sha256}  (SOURCE_DATE_EPOCH={result.source_date_epoch}, head "
                      f"{result.bundle.head[:12]})", markup=False)
        if result.install:
            console.print(f"  installs into a fresh venv as version {result.install.version}", markup=False)
            for line in result.install.pip_show.splitlines():
                console.print(f"    {line}", markup=False)
        return 0

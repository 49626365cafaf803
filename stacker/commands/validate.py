"""`stacker validate`: run the stack's validation suites on the GPU at hand and report.

Also runnable on its own, `python -m stacker.commands.validate ...`, so a GPU host needs only
this command's dependencies (typer, rich, PyYAML), not every other command's.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path

import typer
from rich.markup import escape

from stacker.cli_options import STACK, WORKDIR
from stacker.cli_options import console as stdout_console
from stacker.clirun import run_app
from stacker.errors import ConfigError, ValidationFailed
from stacker.junit import write_junit
from stacker.validation import ValidateOptions, list_cases, run_validation
from stacker.validation_markdown import write_markdown
from stacker.validation_model import Case, CaseResult
from stacker.validation_plugin import RunContext
from stacker.validation_report import ValidationReport, format_number, render, report_from_json
from stacker.validation_runner import Shard


def _parse_options(pairs: list[str]) -> dict[str, str]:
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--option '{pair}': expected KEY=VALUE")
        options[key.strip()] = value.strip()
    return options


def _split(values: list[str]) -> tuple[str, ...]:
    return tuple(item.strip() for value in values for item in value.split(",") if item.strip())


def _progress_line(result: CaseResult) -> str:
    judged = ""
    if result.value is not None:
        judged = f" {result.metric or ''} {format_number(result.value)}"
        if result.tolerance is not None:
            judged += f" ≤ {format_number(result.tolerance)}"
    detail = f" — {result.detail}" if result.detail and not result.status.value == "pass" else ""
    return escape(f"{result.status.value:>11}  {result.id}{judged}{detail}"[:400])


def validate(
    gpu: str = typer.Option("auto", "--gpu", help="GPU target (see kernels/targets.toml) or auto (read the device)."),
    suite: list[str] = typer.Option([], "--suite", help="Suite(s) to run, repeatable or comma-separated; default all."),
    case: list[str] = typer.Option([], "--case", help="Only cases whose id (suite::name) matches this pattern; repeatable."),
    json_path: Path | None = typer.Option(None, "--json", help="Write the full report as JSON here."),
    junit_path: Path | None = typer.Option(None, "--junit", help="Write JUnit XML here (for CI)."),
    markdown_path: Path | None = typer.Option(None, "--markdown", help="Write the report as Markdown here."),
    render_path: Path | None = typer.Option(None, "--render", help="Run nothing: show a saved --json report "
                                            "(and write --junit/--markdown from it)."),
    shard: str = typer.Option("0/1", "--shard", help="Run the i-th of n contiguous blocks of cases (0-based)."),
    tree: Path | None = typer.Option(None, "--tree", help="Validate this directory instead of an export."),
    tree_commit: str | None = typer.Option(None, "--tree-commit", help="What --tree holds (commit), for the report."),
    repo: Path | None = typer.Option(None, "--repo", help="Repository to export from (default: the work repository)."),
    ref: str | None = typer.Option(None, "--ref", help="Ref to export (default: the stack's bundle branch)."),
    stack: Path = STACK,
    workdir: Path | None = WORKDIR,
    strict: bool = typer.Option(False, "--strict", help="Count a feature the tree lacks as a failure."),
    option: list[str] = typer.Option([], "--option", "-o", help="KEY=VALUE passed to the suites."),
    case_timeout: float = typer.Option(900.0, "--case-timeout", help="Seconds before a silent case is killed."),
    gpus: int | None = typer.Option(None, "--gpus", help="Use at most this many visible GPUs."),
    logs: Path | None = typer.Option(None, "--logs", help="Keep the worker processes' logs here."),
    list_only: bool = typer.Option(False, "--list", help="List the cases and exit (no GPU needed for a named target)."),
) -> None:
    """Compile and check the bundle's kernels against a float32 reference on this GPU."""
    options = ValidateOptions(
        gpu=gpu, suites=_split(suite), cases=tuple(case), tree=tree, tree_commit=tree_commit, repo=repo, ref=ref,
        workdir=workdir, shard=Shard.parse(shard), strict=strict, options=_parse_options(option), case_timeout=case_timeout,
        max_gpus=gpus, logs=logs,
    )
    console = stdout_console()
    if render_path is not None:
        report = _load_report(render_path)
        render(report, console)
        _write(report, None, junit_path, markdown_path)
        return
    if list_only:
        context, cases = list_cases(stack, options)
        console.print(f"{len(cases)} cases for {context.label} (shard {options.shard}):")
        for case in cases:
            console.print(escape(f"  {case.id}"))
        return
    lock = threading.Lock()

    def on_plan(context: RunContext, cases: list[Case]) -> None:
        console.print(escape(f"validating {len(cases)} cases on {context.device or '?'}: {context.label} "
                             f"(tree {context.tree}, shard {options.shard})"))

    def on_results(results: list[CaseResult]) -> None:
        with lock:
            for result in results:
                console.print(_progress_line(result))

    # SIGTERM (a CI timeout) must unwind like Ctrl-C, so the runner can stop its workers.
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        report = run_validation(stack, options, on_plan=on_plan, on_results=on_results)
    finally:
        signal.signal(signal.SIGTERM, previous)
    render(report, console)
    _write(report, json_path, junit_path, markdown_path)
    if report.interrupted:
        raise ValidationFailed(f"interrupted; the reports hold the {len(report.results)} results so far")
    if report.failures:
        raise ValidationFailed(f"{len(report.failures)} of {len(report.results)} validation results failed "
                               f"({report.label})")


def _load_report(path: Path) -> ValidationReport:
    try:
        return report_from_json(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise ConfigError(f"--render {path}: no such file") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"--render {path}: not a stacker validation report ({exc})") from None


def _write(report: ValidationReport, json_path: Path | None, junit_path: Path | None,
           markdown_path: Path | None) -> None:
    if json_path is not None:
        report.write_json(json_path)
    if junit_path is not None:
        write_junit(report, junit_path)
    if markdown_path is not None:
        write_markdown(report, markdown_path)


def _terminate(signum, frame) -> None:
    raise KeyboardInterrupt


def register(app: typer.Typer) -> None:
    app.command("validate")(validate)


def _standalone(argv: list[str] | None = None) -> int:
    """This command alone, with the CLI's error handling (one line, the error's exit code)."""
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.command()(validate)
    return run_app(app, argv)


if __name__ == "__main__":
    sys.exit(_standalone())

"""`stacker kernels`: compile the stack's kernel matrix for a GPU target, with no GPU needed.

Parses options, picks the tree (the bundle branch in the work repository, a ref of another
repository, or an exported directory), runs `stacker.compile_matrix`, and prints; exit 1 when a
variant fails to compile or (with --compare) regresses.
"""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from stacker.cli_options import console
from stacker.compile_compare import Comparison, compare
from stacker.compile_matrix import default_parallelism, options_for, run_plan
from stacker.compile_plan import CompilePlan, load_plan
from stacker.compile_report import CompileRun, failure_line, identical_cubins, write_json, write_junit, write_markdown
from stacker.compile_result import FAILED, OK, CompileResult
from stacker.compile_tree import TreeSource, from_directory, from_git
from stacker.config import load_stack
from stacker.errors import BuildStopped, ConfigError
from stacker.upstream import PREFIX as UPSTREAM_REFS
from stacker.workspace import workspace_for

# where `stacker build` keeps what it fetched, so `--compare main` finds the base in the work repo
FETCHED = (f"{UPSTREAM_REFS}/heads/", f"{UPSTREAM_REFS}/tags/")


def register(app: typer.Typer) -> None:
    app.command("kernels")(kernels)


def kernels(
    gpu: str = typer.Option(None, "--gpu", help="GPU target of the matrix's main group (e.g. sm121a, sm120a, sm90a); "
                                                "default: the kernels plugin's."),
    ref: str = typer.Option(None, "--ref", help="Revision to compile. Default: the stack's bundle branch."),
    repo: Path = typer.Option(None, "--repo", help="Repository holding --ref and --compare. Default: the work "
                                                   "repository (.stacker/repo.git)."),
    tree: Path = typer.Option(None, "--tree", help="Compile an already exported tree (a directory) instead of a ref."),
    stack_file: Path = typer.Option(Path("stack.yaml"), "--stack", help="The stack file."),
    workdir: Path = typer.Option(None, "--workdir", help="Work directory (cache, logs). Default: .stacker next to "
                                                         "stack.yaml."),
    jobs: int = typer.Option(None, "-j", "--jobs", help="Parallel compiles. Default: the number of cores."),
    only: list[str] = typer.Option([], "--only", help="Compile only these variant ids (globs allowed); repeatable."),
    list_only: bool = typer.Option(False, "--list", help="List the matrix and exit."),
    compare_ref: str = typer.Option(None, "--compare", help="Compile the same matrix from REF and flag regressions."),
    json_path: Path = typer.Option(None, "--json", help="Write the results as JSON to this file."),
    junit_path: Path = typer.Option(None, "--junit", help="Write the results as JUnit XML to this file."),
    markdown_path: Path = typer.Option(None, "--markdown", help="Write the results table as Markdown to this file."),
    fail_on_spill: bool = typer.Option(False, "--fail-on-spill-increase",
                                       help="With --compare: new or larger spills, or more kernels at the "
                                            "register ceiling, fail the run too."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Compile everything afresh (results are still stored)."),
    targets_file: Path = typer.Option(None, "--targets", help="TOML overriding/adding GPU targets of the plugin."),
    timeout: float = typer.Option(600.0, "--timeout", help="Seconds one variant may take."),
) -> None:
    """Compile the kernel matrix for a GPU target on this machine (no GPU needed) and report resources."""
    out, err = console(), console(stderr=True)
    stack = load_stack(stack_file)
    workspace = workspace_for(stack.path, workdir)
    plan = load_plan(stack.kernels, gpu, targets_file).select(tuple(only))
    if list_only:
        _print_matrix(out, plan)
        return
    if jobs is not None and jobs < 1:
        raise ConfigError(f"-j {jobs}: must be at least 1")
    if tree is not None and ref is not None:
        raise ConfigError("--tree and --ref name two trees: give one")

    repo_path = (repo or workspace.repo_path).resolve()
    if tree is not None:
        source = from_directory(tree, plan.export_paths)
    else:
        source = from_git(_existing_repo(repo_path, repo), ref or stack.branch, plan.export_paths, FETCHED)
    reference = from_git(_existing_repo(repo_path, repo), compare_ref, plan.export_paths, FETCHED) \
        if compare_ref else None

    options = options_for(workspace.root, jobs or default_parallelism(), timeout, read_cache=not no_cache)
    started = time.perf_counter()
    results = _run(err, plan, source, options, f"{source.description}")
    comparison: Comparison | None = None
    if reference is not None:
        before = _run(err, plan, reference, options, f"{reference.description} (reference)")
        comparison = compare(before, results, reference.description)
    run = CompileRun(plan=plan, source=source.description, commit=source.commit, results=tuple(results),
                     wall_seconds=time.perf_counter() - started, comparison=comparison,
                     fail_on_resource_regression=fail_on_spill)

    _print_results(out, run)
    if json_path:
        write_json(run, json_path)
    if junit_path:
        write_junit(run, junit_path)
    if markdown_path:
        write_markdown(run, markdown_path)
    line = failure_line(run)
    if line:
        raise BuildStopped(line)


def _existing_repo(path: Path, given: Path | None) -> Path:
    if not path.exists():
        if given is None:
            raise ConfigError(f"no work repository at {path} (run `stacker build` first, or pass --repo PATH)")
        raise ConfigError(f"--repo {path}: no such repository")
    return path


def _run(err: Console, plan: CompilePlan, source: TreeSource, options, what: str) -> list[CompileResult]:
    total = len(plan.jobs)
    if not err.is_terminal:
        err.print(f"compiling {total} kernel variants of {what} ({options.parallel} in parallel)")
        done = [0]

        def report(result: CompileResult) -> None:
            done[0] += 1
            if not result.cached:  # a log line per compile; cache hits are summed up below
                err.print(f"[{done[0]}/{total}] {result.id}: {_status_text(result, markup=False)}")

        results = run_plan(plan, source, options, on_done=report)
        cached = sum(1 for r in results if r.cached)
        if cached:
            err.print(f"{cached} of {total} from the cache")
        return results
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("{task.fields[last]}"), console=err, transient=True) as progress:
        task = progress.add_task(f"compiling {what}", total=total, last="")

        def advance(result: CompileResult) -> None:
            progress.update(task, advance=1, last=f"{result.id}: {result.status}")

        return run_plan(plan, source, options, on_done=advance)


def _status_text(result: CompileResult, markup: bool = True) -> str:
    if result.status == OK:
        text = f"ok {result.compile_seconds:.1f} s" + (" (cached)" if result.cached else "")
        return f"[green]{text}[/]" if markup else text
    if result.status == FAILED:
        return f"[bold red]FAILED[/] {result.error}" if markup else f"FAILED {result.error}"
    return f"[yellow]skipped[/] {result.error}" if markup else f"skipped {result.error}"


def _print_matrix(out: Console, plan: CompilePlan) -> None:
    table = Table(title=f"kernel matrix: --gpu {plan.gpu} ({plan.label})", title_justify="left")
    table.add_column("variant", no_wrap=True)  # ids are typed back into --only: never cut them
    table.add_column("target", no_wrap=True)
    table.add_column("what")
    for job in plan.jobs:
        table.add_row(job.id, job.target, job.title)
    out.print(table)
    out.print(f"{len(plan.jobs)} variants")


def _num(value: int | None, delta: int | None = None) -> str:
    if value is None:
        return "-"
    if delta:
        return f"{value} ({delta:+d})"
    return str(value)


def _print_results(out: Console, run: CompileRun) -> None:
    """A table of short cells (it must fit a terminal), then one line per variant that needs words."""
    changes = {c.id: c for c in run.comparison.changes} if run.comparison else {}
    same = identical_cubins(run.results)
    title = f"{run.plan.label}: {run.source}"
    if run.comparison:
        title += f" vs {run.comparison.reference}"
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
    longest = max((len(r.id) for r in run.results), default=10)
    # ids are typed back into --only: as wide as the terminal allows, folded (never cut) beyond
    table.add_column("variant", overflow="fold", min_width=max(10, min(longest, out.width - 56)))
    for column in ("target", "result", "s", "regs", "stack", "spills B", "smem"):
        table.add_column(column, justify="left" if column in ("target", "result") else "right", no_wrap=True)
    if run.comparison:
        table.add_column(f"vs {run.comparison.reference}", overflow="fold")
    for result in run.results:
        change = changes.get(result.id)

        def d(name: str, change=change) -> int | None:
            return change.delta(name) if change else None

        status = {"ok": "[green]ok[/]", "failed": "[bold red]FAILED[/]", "skipped": "[yellow]skipped[/]"}[result.status]
        spills = "-" if result.spill_stores is None else f"{result.spill_stores}/{result.spill_loads}"
        spill_delta = (d("spill_stores"), d("spill_loads"))
        if any(spill_delta):
            spills += f" ({spill_delta[0] or 0:+d}/{spill_delta[1] or 0:+d})"
        row = [result.id, result.target, status, f"{result.compile_seconds:.1f}" if result.ok else "-",
               _num(result.registers, d("registers")), _num(result.stack, d("stack")), spills,
               _num(result.shared, d("shared"))]
        if run.comparison:
            row.append(_compare_cell(change))
        table.add_row(*row)
    out.print(table)
    for result in run.results:
        if result.status == FAILED:
            where = f" (full output: {result.log})" if result.log else ""
            out.print(f"[bold red]FAILED[/] {result.id}: {result.error}{where}")
        elif result.status != OK:
            out.print(f"[yellow]skipped[/] {result.id}: {result.error}")
        elif result.id in same:
            out.print(f"[magenta]same cubin[/] {result.id}: byte-identical to {same[result.id]}")
    counts = {status: sum(1 for r in run.results if r.status == status) for status in ("ok", "failed", "skipped")}
    cached = sum(1 for r in run.results if r.cached)
    out.print(f"{counts['ok']} ok, {counts['failed']} failed, {counts['skipped']} skipped (feature absent)"
              f"{f', {cached} from cache' if cached else ''}; {run.wall_seconds:.1f} s wall")
    out.print(f"compiled for {', '.join(run.targets())}, not run ({run.plan.label}; no GPU was used)")


def _compare_cell(change) -> str:
    if change is None:
        return ""
    if change.before is None:
        return "[dim]not in reference[/]"
    parts = [f"[bold red]{flag}[/]" for flag in change.flags] + [f"[cyan]{note}[/]" for note in change.notes]
    if not parts and change.before.status != OK:
        parts.append(f"[dim]ref {change.before.status}[/]")
    return ", ".join(parts) if parts else "[dim]same[/]" if not any(
        change.delta(n) for n in ("registers", "stack", "spill_stores", "spill_loads", "shared")) else ""

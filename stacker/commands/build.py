"""`stacker build`: stack the PRs onto the base and publish the bundle branch."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from stacker.build import EXIT_OLDER_BASE, BuildOptions, BuildResult, build
from stacker.cli_options import JSON, OFFLINE, STACK, UPSTREAM, WORKDIR, open_stack
from stacker.cli_options import console as make_console
from stacker.report import bundle_json, step_ref, write_reports


def register(app: typer.Typer) -> None:
    @app.command("build")
    def build_command(
        base: str = typer.Option(None, "--base", help="Branch, tag or commit to stack onto (default: stack.yaml's base)."),
        stack: Path = STACK,
        workdir: Path = WORKDIR,
        upstream: str = UPSTREAM,
        offline: bool = OFFLINE,
        locked: bool = typer.Option(False, "--locked", help="Rebuild exactly the SHAs in stack.lock."),
        skip_verify: list[str] = typer.Option([], "--skip-verify", help="Skip the named verify: check (never in CI)."),
        advance: bool = typer.Option(False, "--advance", help="If the stack does not build on the base, publish it on "
                                     "the newest older base it builds on and name the upstream commit that breaks it "
                                     f"(exit {EXIT_OLDER_BASE})."),
        full: bool = typer.Option(False, "--full", help="Apply every step again instead of reusing unchanged ones."),
        assume_present: list[int] = typer.Option(
            [], "--assume-present", help="Treat this PR as already in the base (for developing resolutions on a "
            "partly stacked base; repeatable)."),
        as_json: bool = JSON,
    ) -> int:
        """Fetch, apply every PR in order, resolve, verify, publish the bundle branch, write the log.

        Exit 0 published (or already current), 1 stopped, 2 bad input, 4 published on an older base (--advance).
        """
        result = build(open_stack(stack), BuildOptions(base=base, upstream=upstream, offline=offline, locked=locked,
                                                       workdir=workdir, skip_verify=tuple(skip_verify),
                                                       reuse=not full, advance=advance,
                                                       assume_present=tuple(assume_present)))
        markdown, _ = write_reports(result)
        if as_json:
            print(json.dumps(bundle_json(result), indent=2))
        else:
            show(result, markdown)
        return result.exit_code


def show(result: BuildResult, markdown: Path) -> None:
    console = make_console()
    plan = result.plan
    if plan:
        console.print(f"base [bold]{plan.upstream.base_name}[/] {plan.base[:12]} from {plan.upstream.url}")
    for s in result.steps:
        resolved = [a for f in s.files for a in f.actions]
        layers: dict[str, int] = {}
        for action in resolved:
            layers[action.layer] = layers.get(action.layer, 0) + max(1, len(action.hunks))
        detail = ", ".join(f"{n} {layer}" for layer, n in layers.items())
        initial = sum(f.initial_conflicts for f in s.files)
        color = {"applied": "green", "already-applied": "yellow", "reused": "cyan"}.get(s.status, "red")
        line = f"  {s.step.label:<18} [{color}]{s.status:<15}[/] {(s.commit or '')[:12]:<12}"
        if initial:
            line += f"  {initial} conflict hunk(s) from git; resolved: {detail or 'none'}"
        if s.resolutions_applied:
            line += f"  resolutions: {', '.join(s.resolutions_applied)}"
        if s.step.patch and s.status == "already-applied":
            line += "  already in the bundle: the patch can be dropped"
        console.print(line)
        for warning in s.step.warnings:
            console.print(f"    [yellow]warning:[/] {warning}")
        for u in s.unresolved:
            where = f" in {u.qualname}" if u.qualname else ""
            lines = f":{u.lines[0]}-{u.lines[1]}" if u.lines[0] else ""
            console.print(f"    [red]conflict[/] {u.path}{lines}{where} ({u.kind}) applying {s.step.name}")
            if u.message:
                console.print(f"      {u.message}")
            for blamed in u.other_side[:5]:
                console.print(f"      bundle side last touched by {blamed.sha[:12]} {blamed.subject}")
            if u.hunk:
                for label, text in (("bundle", u.hunk.ours), (s.step.name, u.hunk.theirs)):
                    lines_ = text.splitlines()
                    console.print(f"      {label}:", markup=False)
                    for line_ in lines_[:8]:
                        console.print(f"        | {line_}", markup=False)
                    if len(lines_) > 8:
                        console.print(f"        | … {len(lines_) - 8} more line(s)", markup=False)
        for finding in s.findings:
            console.print(f"    [red]check failed[/] {finding}")
    for v in result.verify:
        state = "[green]ok (cached)[/]" if v.cached else "[green]ok[/]" if v.result.ok else "[red]FAILED[/]"
        extra = f" — first fails at step {step_ref(v.first_failing_step)}" if v.first_failing_step else ""
        console.print(f"  verify {v.result.name}: {state} ({v.result.seconds} s) {v.result.summary()}{extra}",
                      markup=True)
    if result.advance is not None:
        show_advance(console, result)
    if result.unchanged:
        console.print(f"[green]unchanged[/] {result.stack.branch} at {result.head[:12]}: nothing moved since it was "
                      f"published ({len(result.reused)} of {len(result.steps)} steps reused); nothing republished")
    elif result.status == "ok":
        console.print(f"[green]published[/] {result.stack.branch} at {result.head[:12]} in {result.workspace.repo_path}"
                      + (f" ({len(result.reused)} of {len(result.steps)} steps reused)" if result.reused else ""))
    else:
        console.print(f"[red]stopped[/] ({result.status}); {result.stack.branch} not moved"
                      + (f" (still {result.previous_head[:12]})" if result.previous_head else ""))
        if result.conflict_worktree:
            console.print(f"conflicted files with markers: {result.conflict_worktree}  "
                          "(resolve there, then `stacker resolve`)")
    console.print(f"log: {markdown}")


def show_advance(console, result: BuildResult) -> None:
    report = result.advance
    name = report.requested_name
    if report.built_on is None:
        console.print(f"[red]nothing builds[/]: not on {name} {report.requested[:12]}; {report.note}")
        return
    if not report.fell_back:
        return
    console.print(f"[yellow]{name} {report.requested[:12]} breaks the stack[/]: built on {report.built_on[:12]} "
                  f"instead, {report.behind} first-parent commit(s) behind, after {len(report.probes)} probe(s)")
    bad = report.first_bad
    if bad is not None:
        console.print(f"  first breaking upstream commit: {bad.sha[:12]} {bad.subject}", markup=False)
    breakage = report.breakage
    if breakage is not None and breakage.steps and breakage.status != "ok":
        stopped = breakage.steps[-1]
        for u in stopped.unresolved:
            where = f" in {u.qualname}" if u.qualname else ""
            lines = f":{u.lines[0]}-{u.lines[1]}" if u.lines[0] else ""
            console.print(f"    conflict applying #{u.pr}: {u.path}{lines}{where} ({u.kind})", markup=False)
        for v in breakage.verify:
            if not v.result.ok:
                console.print(f"    check {v.result.name} fails: {v.result.summary()}", markup=False)

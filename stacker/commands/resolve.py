"""`stacker resolve`: record the resolutions made in the conflict worktree, then build again."""

from __future__ import annotations

from pathlib import Path

import typer

from stacker.build import BuildOptions, build
from stacker.cli_options import STACK, WORKDIR, console, open_stack
from stacker.commands.build import show
from stacker.conflict_worktree import load_state
from stacker.errors import ConfigError
from stacker.recorded import RecordedStore
from stacker.recording import collect, record_all
from stacker.report import write_reports
from stacker.workspace import workspace_for


def register(app: typer.Typer) -> None:
    @app.command("resolve")
    def resolve_command(
        stack: Path = STACK,
        workdir: Path = WORKDIR,
        rebuild: bool = typer.Option(True, "--build/--no-build", help="Build again after recording."),
    ) -> int:
        """Record how you resolved the conflicts in the work dir's conflict worktree (like git rerere)."""
        the_stack = open_stack(stack)
        if the_stack.resolutions is None:
            raise ConfigError(f"{the_stack.path.name}: no 'resolutions' directory to record into; create one")
        ws = workspace_for(the_stack.path, workdir)
        state = load_state(ws)
        if state is None:
            raise ConfigError(f"{ws.root}: no stopped build to resolve; run `stacker build` first")
        with ws.locked() as repo:
            resolutions = collect(repo, state)
            store = RecordedStore.load(the_stack.resolutions / "recorded")
            recorded = record_all(store, resolutions)
        out = console()
        for rec in recorded:
            out.print(f"recorded {rec.key[:12]} for {rec.path}::{rec.qualname or '(module)'} "
                      f"-> {the_stack.resolutions / 'recorded' / rec.filename()}")
        if not rebuild:
            return 0
        saved = dict(state.build_options)
        saved["assume_present"] = tuple(saved.get("assume_present", ()))
        options = BuildOptions(workdir=workdir, **saved)
        result = build(the_stack, options)
        markdown, _ = write_reports(result)
        show(result, markdown)
        return result.exit_code

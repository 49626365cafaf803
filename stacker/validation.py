"""`stacker validate`: from options to a `ValidationReport`.

Steps, each reading the previous one's result: load the stack and its validation package →
resolve the GPU target against the device → get the tree under test (an export of the bundle
branch, or a directory the user names) → plan the cases and take this shard's → run them in
worker processes with a scrubbed environment → a report. Nothing of the tree is imported here.
"""

from __future__ import annotations

import fnmatch
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import stacker
from stacker.child_env import scrubbed_environment
from stacker.config import Stack, load_stack
from stacker.errors import ConfigError
from stacker.gpu_device import Gpu, TargetLike, probe_gpus, resolve_target
from stacker.source import exported
from stacker.validation_model import Case, CaseResult
from stacker.validation_plugin import RunContext, load_validation_plugin
from stacker.validation_report import ValidationReport
from stacker.validation_runner import Shard, WorkerSpec, run_cases, select_shard


@dataclass(frozen=True)
class ValidateOptions:
    gpu: str = "auto"
    suites: tuple[str, ...] = ()
    cases: tuple[str, ...] = ()  # shell patterns on case ids (suite::name): run only those
    tree: Path | None = None  # a directory that already holds the code under test
    tree_commit: str | None = None  # what --tree is, for the report
    repo: Path | None = None  # else: export `ref` of this repository (default: the work repository)
    ref: str | None = None  # default: the stack's bundle branch
    workdir: Path | None = None  # stacker's work directory (default: .stacker/ beside stack.yaml)
    shard: Shard = Shard()
    strict: bool = False
    options: dict[str, str] = field(default_factory=dict)
    case_timeout: float = 900.0
    max_gpus: int | None = None
    logs: Path | None = None


@dataclass(frozen=True)
class TreeUnderTest:
    root: Path
    description: dict[str, Any]


def load_plugin(stack: Stack) -> ModuleType:
    if stack.validate is None:
        raise ConfigError(f"{stack.path.name}: no 'validate:' package is configured (or the directory is missing)")
    return load_validation_plugin(stack.validate)


def known_suites(plugin: ModuleType) -> list[str]:
    return list(plugin.suites())


def chosen_suites(plugin: ModuleType, requested: Sequence[str]) -> tuple[str, ...]:
    names = known_suites(plugin)
    unknown = [name for name in requested if name not in names]
    if unknown:
        raise ConfigError(f"unknown suite '{unknown[0]}' (known: {', '.join(names)})")
    return tuple(requested) if requested else tuple(names)


def targets_of(plugin: ModuleType) -> dict[str, TargetLike]:
    return dict(plugin.targets())


def resolve_device(plugin: ModuleType, requested: str,
                   probe: Callable[[], list[Gpu]] | None = None) -> tuple[TargetLike, list[Gpu]]:
    """The target to run and the GPUs it runs on; a device that does not match is an error."""
    targets = targets_of(plugin)
    if requested != "auto" and requested not in targets:
        raise ConfigError(f"unknown GPU target '{requested}' (known: {', '.join(sorted(targets))}, or auto)")
    gpus = (probe or probe_gpus)()
    return resolve_target(requested, targets, gpus), gpus


@contextmanager
def tree_under_test(stack: Stack, options: ValidateOptions, plugin: ModuleType) -> Iterator[TreeUnderTest]:
    """The directory whose code is validated: `--tree`, or an export of the bundle branch."""
    if options.tree is not None:
        root = options.tree.resolve()
        if not root.is_dir():
            raise ConfigError(f"--tree {options.tree}: no such directory")
        yield TreeUnderTest(root, {"path": str(root), "commit": options.tree_commit or ""})
        return
    if options.repo is not None:
        repo = options.repo.resolve()
    else:
        from stacker.workspace import workspace_for  # GitPython: only needed here, not on a GPU host given --tree

        repo = workspace_for(stack.path, options.workdir).repo_path
    ref = options.ref or stack.branch
    if not repo.exists():
        raise ConfigError(
            f"{repo}: no work repository (build the bundle first, or pass --repo PATH --ref REF, or --tree DIR)"
        )
    paths = tuple(getattr(plugin, "TREE_PATHS", ()))
    with exported(repo, ref, paths) as tree:
        prepare = getattr(plugin, "prepare_tree", None)
        if callable(prepare):
            prepare(tree.root)
        yield TreeUnderTest(tree.root, {"repo": str(repo), "ref": ref, "commit": tree.commit, "paths": list(paths)})


def plan_cases(plugin: ModuleType, context: RunContext, patterns: Sequence[str] = ()) -> list[Case]:
    """The suites' cases, each once; with `patterns`, only the cases whose id matches one."""
    cases = list(plugin.cases(context))
    seen: set[str] = set()
    for case in cases:
        if case.id in seen:
            raise ConfigError(f"the validation package plans case '{case.id}' twice")
        seen.add(case.id)
    if patterns:
        cases = [case for case in cases if any(fnmatch.fnmatchcase(case.id, p) for p in patterns)]
        if not cases:
            raise ConfigError(f"--case {' '.join(patterns)}: matches no case (see --list)")
    return cases


def worker_environment(plugin: ModuleType, target: TargetLike, tree: Path,
                       parent: dict[str, str] | None = None) -> dict[str, str]:
    """Scrubbed environment: the tree first on PYTHONPATH, then stacker itself; the target's variables."""
    stacker_root = Path(stacker.__file__).resolve().parent.parent
    return scrubbed_environment(
        dict(os.environ if parent is None else parent),
        allow=tuple(getattr(plugin, "PASS_ENV", ())),
        python_path=[str(tree), str(stacker_root)],
        set_vars=target.environment(),
    )


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def run_validation(
    stack_path: Path,
    options: ValidateOptions,
    *,
    probe: Callable[[], list[Gpu]] | None = None,
    on_plan: Callable[[RunContext, list[Case]], None] | None = None,
    on_results: Callable[[list[CaseResult]], None] | None = None,
) -> ValidationReport:
    stack = load_stack(stack_path)
    plugin = load_plugin(stack)
    suites = chosen_suites(plugin, options.suites)
    target, gpus = resolve_device(plugin, options.gpu, probe)
    slots: list[str | None] = [gpu.index for gpu in gpus][: options.max_gpus or None] or [None]
    with tree_under_test(stack, options, plugin) as tree:
        context = RunContext(
            target=target.name, label=target.label, compile_arch=target.compile_arch, tree=str(tree.root),
            suites=suites, device=gpus[0].name if gpus else "", capability=gpus[0].capability if gpus else None,
            options=dict(options.options),
        )
        cases = select_shard(plan_cases(plugin, context, options.cases), options.shard)
        if on_plan is not None:
            on_plan(context, cases)
        started = _now()
        with _log_dir(options.logs) as logs:
            spec = WorkerSpec(
                plugin=stack.validate, context=context, env=worker_environment(plugin, target, tree.root),
                cwd=tree.root, log_dir=logs, case_timeout=options.case_timeout,
                setup_timeout=options.case_timeout, on_results=on_results,
            )
            run = run_cases(cases, spec, slots)
        environment = next((w.ready_info for s in run.slots for w in s.workers if w.ready_info), {}) or {}
        return ValidationReport(
            target=target.name, label=target.label, compile_arch=target.compile_arch,
            device=context.device, capability=context.capability, tree=tree.description, results=run.results,
            started=started, finished=_now(), shard=str(options.shard), strict=options.strict,
            environment=environment, interrupted=run.interrupted,
            workers=[{"gpu": s.gpu, "processes": len(s.workers),
                      "crashed": [w.crashed_case for w in s.workers if w.crashed_case],
                      "retired_after": [list(w.results)[-1] for w in s.workers if w.retired and w.results]}
                     for s in run.slots],
        )


@contextmanager
def _log_dir(keep: Path | None) -> Iterator[Path]:
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        yield keep
        return
    with tempfile.TemporaryDirectory(prefix="stacker-validate-logs-") as tmp:
        yield Path(tmp)


def list_cases(stack_path: Path, options: ValidateOptions,
               probe: Callable[[], list[Gpu]] | None = None) -> tuple[RunContext, list[Case]]:
    """The cases a run would take (this shard's), without running them; no GPU needed for a named target."""
    stack = load_stack(stack_path)
    plugin = load_plugin(stack)
    suites = chosen_suites(plugin, options.suites)
    targets = targets_of(plugin)
    if options.gpu == "auto":
        target, _ = resolve_device(plugin, "auto", probe)
    elif options.gpu in targets:
        target = targets[options.gpu]
    else:
        raise ConfigError(f"unknown GPU target '{options.gpu}' (known: {', '.join(sorted(targets))}, or auto)")
    with tree_under_test(stack, options, plugin) as tree:
        context = RunContext(target=target.name, label=target.label, compile_arch=target.compile_arch,
                             tree=str(tree.root), suites=suites, options=dict(options.options))
        return context, select_shard(plan_cases(plugin, context, options.cases), options.shard)

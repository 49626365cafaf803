"""The contract between stacker's compile runner and a stack's own kernel matrix.

stacker compiles kernels it knows nothing about. The stack's `kernels:` directory (stack.yaml) is a
Python package that says what to compile: it defines

    def compile_plan(gpu: str | None, targets_file: Path | None = None) -> CompilePlan

returning the jobs (one subprocess each), the worker script that compiles one job inside the
exported tree, which paths of the tree to export and which small files to add to it, and the
versions of the toolchain that a cached result depends on. `gpu` is what the user passed to
`--gpu` (None: the plugin's default); an unknown one is the plugin's `StackerError` to raise.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from stacker.errors import ConfigError
from stacker.plugins import load_stack_module

ARTIFACTS = "{artifacts}"  # in a job's env values: replaced by the job's own artifact directory
_JOB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass(frozen=True)
class CompileJob:
    """One kernel variant compiled for one target, in a process of its own.

    `env` is the complete set of variables that select what is compiled (nothing else of the user's
    environment reaches the worker); `spec` is handed to the worker as JSON; `target` is the SASS
    architecture every cubin of the job must hold code for (e.g. "sm_121a").
    """

    id: str
    title: str
    target: str
    label: str
    env: Mapping[str, str]
    spec: Mapping[str, object]
    group: str = ""


@dataclass(frozen=True)
class CompilePlan:
    """Everything the runner needs from the stack: what to export, how to compile, what to run."""

    gpu: str
    label: str  # what the main target's results are called, e.g. "SM120 paths on sm_121a"
    jobs: tuple[CompileJob, ...]
    worker: Path
    export_paths: tuple[str, ...]
    shim_files: Mapping[str, str] = field(default_factory=dict)
    toolchain: Mapping[str, str] = field(default_factory=dict)

    def job(self, job_id: str) -> CompileJob:
        for job in self.jobs:
            if job.id == job_id:
                return job
        raise ConfigError(f"no kernel variant '{job_id}' in the matrix (see `stacker kernels --list`)")

    def select(self, patterns: tuple[str, ...]) -> CompilePlan:
        """The plan restricted to jobs whose id matches one of `patterns` (shell globs)."""
        if not patterns:
            return self
        import fnmatch

        chosen = [job for job in self.jobs if any(fnmatch.fnmatchcase(job.id, p) for p in patterns)]
        for pattern in patterns:
            if not any(fnmatch.fnmatchcase(job.id, pattern) for job in self.jobs):
                raise ConfigError(f"--only {pattern}: no kernel variant matches (see `stacker kernels --list`)")
        return replace(self, jobs=tuple(chosen))


def load_plan(kernels: Path | None, gpu: str | None, targets_file: Path | None = None) -> CompilePlan:
    """Import the stack's kernels package and ask it for its plan; check the plan's shape."""
    if kernels is None:
        raise ConfigError("stack.yaml names no 'kernels' directory: there is no kernel matrix to compile")
    module = load_stack_module(kernels, namespace="stacker_kernels")
    make = getattr(module, "compile_plan", None)
    if not callable(make):
        raise ConfigError(f"{kernels}/__init__.py: defines no compile_plan(gpu, targets_file)")
    plan = make(gpu, targets_file)
    if not isinstance(plan, CompilePlan):
        raise ConfigError(f"{kernels}: compile_plan() returned {type(plan).__name__}, not a CompilePlan")
    check_plan(plan, origin=str(kernels))
    return plan


def check_plan(plan: CompilePlan, origin: str) -> None:
    seen: set[str] = set()
    for job in plan.jobs:
        if not _JOB_ID.match(job.id):
            raise ConfigError(f"{origin}: kernel variant id '{job.id}' must be letters, digits, '.', '_', '-'")
        if job.id in seen:
            raise ConfigError(f"{origin}: kernel variant id '{job.id}' is used twice")
        seen.add(job.id)
    if not plan.worker.is_file():
        raise ConfigError(f"{origin}: worker script {plan.worker} does not exist")
    for path in (*plan.export_paths, *plan.shim_files):
        if path.startswith("/") or ".." in Path(path).parts:
            raise ConfigError(f"{origin}: '{path}' must be a relative path inside the tree")

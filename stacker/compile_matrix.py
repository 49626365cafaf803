"""Compile a stack's kernel matrix: one subprocess per variant, in parallel, results cached.

The stack's plan (`stacker.compile_plan`) says what to compile; this module runs it. Each job gets a
fresh process (a compiler crash or a leaked global in one variant cannot touch another), an
environment made only of a few neutral variables plus the job's own (so a CUTE_DSL_ARCH left in the
user's shell can never retarget a compile), the exported tree on PYTHONPATH, and a directory of its
own for the artifacts. What comes back is the worker's JSON verdict plus the resources of every cubin
the job left behind, each checked to hold code for the target the job asked for.

For bisecting which step of a stack broke a kernel, `compile_variant` compiles one variant of one
tree.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

from stacker.child_env import scrubbed_environment
from stacker.compile_cache import CompileCache, cache_key, file_digest
from stacker.compile_plan import ARTIFACTS, CompileJob, CompilePlan, load_plan
from stacker.compile_result import FAILED, OK, SKIPPED, CompileResult
from stacker.compile_tree import TreeSource, from_directory, from_git
from stacker.cubin import find_cuobjdump, read_cubin

DEFAULT_TIMEOUT = 600.0


def default_parallelism() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class RunOptions:
    parallel: int = 1
    timeout: float = DEFAULT_TIMEOUT
    cache: CompileCache | None = None
    log_dir: Path | None = None  # full output of each failed job is kept here
    pycache: Path | None = None  # byte-code of the exported tree, outside the tree


def run_plan(plan: CompilePlan, source: TreeSource, options: RunOptions,
             on_start: Callable[[CompileJob], None] | None = None,
             on_done: Callable[[CompileResult], None] | None = None) -> list[CompileResult]:
    """Compile every job of `plan` on `source`; results come back in the plan's order."""
    worker_digest = file_digest(plan.worker)
    keys = {job.id: cache_key(trees=source.trees, shim_files=plan.shim_files, job=job,
                              toolchain=plan.toolchain, worker_digest=worker_digest) for job in plan.jobs}
    results: dict[str, CompileResult] = {}
    misses: list[CompileJob] = []
    for job in plan.jobs:
        hit = options.cache.get(keys[job.id]) if options.cache else None
        if hit is not None:
            results[job.id] = hit
            if on_done:
                on_done(hit)
        else:
            misses.append(job)
    if misses:
        cuobjdump = find_cuobjdump()
        with tempfile.TemporaryDirectory(prefix="stacker-kernels-") as scratch:
            root = source.materialize(Path(scratch) / "tree", plan.shim_files)

            def compile_one(job: CompileJob) -> CompileResult:
                if on_start:
                    on_start(job)
                result = run_job(job, plan.worker, root, Path(scratch) / "jobs" / job.id, cuobjdump, options)
                if options.cache:
                    options.cache.put(keys[job.id], result)
                if on_done:
                    on_done(result)
                return result

            with ThreadPoolExecutor(max_workers=max(1, options.parallel)) as pool:
                for result in pool.map(compile_one, misses):
                    results[result.id] = result
    return [results[job.id] for job in plan.jobs]


def worker_environment(job: CompileJob, tree: Path, artifacts: Path, pycache: Path | None) -> dict[str, str]:
    """stacker's allow-list (`stacker.child_env`: no tokens, none of the user's compiler settings such
    as a stray CUTE_DSL_ARCH) plus the job's own variables, set on purpose.

    PYTHONPATH is the tree alone: what compiles must be the tree and the interpreter's installed
    packages, whose versions key the cache; a package reached through the caller's PYTHONPATH would
    not be in the key."""
    job_env = {name: value.replace(ARTIFACTS, str(artifacts)) for name, value in job.env.items()}
    extra = {"PYTHONNOUSERSITE": "1"}
    if pycache is not None:
        extra["PYTHONPYCACHEPREFIX"] = str(pycache)  # keep byte-code out of the tree being compiled
    return scrubbed_environment(os.environ, python_path=[str(tree)], keep_parent_python_path=False,
                                set_vars={**job_env, **extra})


def run_job(job: CompileJob, worker: Path, tree: Path, artifacts: Path, cuobjdump: Path,
            options: RunOptions) -> CompileResult:
    """One worker process for `job`; its verdict, checked against the cubins it left in `artifacts`."""
    artifacts.mkdir(parents=True, exist_ok=True)
    spec_file, result_file, log_file = artifacts / "spec.json", artifacts / "result.json", artifacts / "worker.log"
    spec_file.write_text(json.dumps(dict(job.spec)), encoding="utf-8")
    env = worker_environment(job, tree, artifacts, options.pycache)
    base = dict(id=job.id, title=job.title, target=job.target, group=job.group, env=dict(job.env))
    started = time.perf_counter()
    with open(log_file, "wb") as log:
        process = subprocess.Popen([sys.executable, str(worker), str(spec_file), str(result_file)],
                                   cwd=artifacts, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        try:
            returncode = process.wait(timeout=options.timeout)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            return _failed(base, f"timed out after {options.timeout:.0f} s", time.perf_counter() - started,
                           log_file, options.log_dir)
    wall = time.perf_counter() - started
    try:
        verdict = json.loads(result_file.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return _failed(base, f"worker died (exit {returncode}): {_last_line(log_file)}", wall, log_file,
                       options.log_dir)
    seconds = float(verdict.get("compile_seconds") or 0.0)
    if verdict.get("status") == "absent":
        return CompileResult(**base, status=SKIPPED, wall_seconds=wall, error=verdict.get("error"))
    if verdict.get("status") != "ok":
        if verdict.get("detail"):
            with open(log_file, "a", encoding="utf-8") as log:
                log.write("\n" + verdict["detail"])
        return _failed(base, verdict.get("error") or "compile failed", wall, log_file, options.log_dir, seconds)

    cubins = sorted(artifacts.rglob("*.cubin"))
    if not cubins:
        return _failed(base, "the compile reported success but left no cubin", wall, log_file, options.log_dir,
                       seconds)
    kernels = tuple(kernel for cubin in cubins for kernel in read_cubin(cubin, cuobjdump))
    wrong = [k for k in kernels if k.sass_arch != job.target]
    if wrong:
        return _failed(base, f"{wrong[0].cubin} holds code for {wrong[0].sass_arch}, asked for {job.target}",
                       wall, log_file, options.log_dir, seconds)
    return CompileResult(**base, status=OK, compile_seconds=seconds, wall_seconds=wall, kernels=kernels)


def _failed(base: dict, error: str, wall: float, log_file: Path, log_dir: Path | None,
            seconds: float = 0.0) -> CompileResult:
    kept = None
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        kept = log_dir / f"{base['id']}.log"
        kept.write_bytes(log_file.read_bytes() if log_file.exists() else b"")
    return CompileResult(**base, status=FAILED, compile_seconds=seconds, wall_seconds=wall, error=error,
                         log=str(kept) if kept else None)


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)  # the worker's whole session: it may have children
    except ProcessLookupError:
        pass
    process.wait()


def _last_line(log_file: Path) -> str:
    try:
        lines = [line.strip() for line in log_file.read_text(encoding="utf-8", errors="replace").splitlines()]
    except FileNotFoundError:
        return "no output"
    lines = [line for line in lines if line]
    return lines[-1][:300] if lines else "no output"


# --- one variant, for bisecting -----------------------------------------------------------------

def compile_variant(tree: Path, variant_id: str, *, kernels: Path, gpu: str | None = None,
                    workdir: Path | None = None, targets_file: Path | None = None,
                    timeout: float = DEFAULT_TIMEOUT) -> CompileResult:
    """Compile the single variant `variant_id` of the stack's matrix on the tree at `tree`.

    `tree` is a directory holding the bundle's files (a full export is fine: only the plan's export
    paths are copied, with its shims). `kernels` is the stack's kernels package (`Stack.kernels`).
    With `workdir`, results are cached under `workdir/kernels/cache` and failure logs kept under
    `workdir/kernels/logs`. Raises `StackerError` for an unknown variant or GPU target; a compile
    that fails is a result with status "failed" and its one-line error, not an exception.
    """
    plan = load_plan(kernels, gpu, targets_file)
    one = replace(plan, jobs=(plan.job(variant_id),))
    return run_plan(one, from_directory(tree, plan.export_paths), options_for(workdir, 1, timeout))[0]


def compile_variant_at(repo: Path, rev: str, variant_id: str, *, kernels: Path, gpu: str | None = None,
                       workdir: Path | None = None, targets_file: Path | None = None,
                       timeout: float = DEFAULT_TIMEOUT) -> CompileResult:
    """`compile_variant` on commit `rev` of `repo`, exported on the fly (e.g. each step of a stack)."""
    plan = load_plan(kernels, gpu, targets_file)
    one = replace(plan, jobs=(plan.job(variant_id),))
    return run_plan(one, from_git(repo, rev, plan.export_paths), options_for(workdir, 1, timeout))[0]


def options_for(workdir: Path | None, parallel: int, timeout: float = DEFAULT_TIMEOUT,
                read_cache: bool = True) -> RunOptions:
    """Run options rooted in the work directory: `kernels/cache`, `kernels/logs`, `kernels/pycache`."""
    if workdir is None:
        return RunOptions(parallel=parallel, timeout=timeout)
    base = workdir / "kernels"
    return RunOptions(parallel=parallel, timeout=timeout,
                      cache=CompileCache(base / "cache", read=read_cache),
                      log_dir=base / "logs", pycache=base / "pycache")

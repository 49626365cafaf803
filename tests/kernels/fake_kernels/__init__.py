"""A kernels plugin for tests: three variants whose "compile" is a tiny Python script.

The worker compiles nothing: it reads `pkg/behaviour.json` from the exported tree and does what it
says for each variant (succeed with given resources, fail, report the feature absent, crash, hang,
or build for the wrong architecture), writing a fake cubin that `fake_cuobjdump.py` renders as
cuobjdump output. So the runner, cache, comparison and CLI are tested without a real compile.
"""

from __future__ import annotations

import os
from pathlib import Path

from stacker.compile_plan import ARTIFACTS, CompileJob, CompilePlan
from stacker.errors import ConfigError

TARGETS = {"sm121a": ("sm_121a", "fake SM120 paths on sm_121a"), "sm120a": ("sm_120a", "fake SM120 paths on sm_120a")}
VARIANTS = ("fwd-a", "fwd-b", "bwd-a")


def compile_plan(gpu, targets_file=None):
    gpu = gpu or "sm121a"
    if gpu not in TARGETS:
        raise ConfigError(f"unknown GPU target '{gpu}' (known: {', '.join(sorted(TARGETS))})")
    arch, label = TARGETS[gpu]
    env = {"FAKE_ARCH": arch, "FAKE_DUMP": ARTIFACTS, "FAKE_RECORD": os.environ.get("FAKE_RECORD", "")}
    jobs = tuple(CompileJob(id=v, title=f"fake {v}", target=arch, label=label, env=env, spec={"id": v})
                 for v in VARIANTS)
    return CompilePlan(gpu=gpu, label=label, jobs=jobs, worker=Path(__file__).with_name("worker.py"),
                       export_paths=("pkg",), shim_files={"shim/__init__.py": ""},
                       toolchain={"fake-dsl": "1.0"})

"""This bundle's kernel build matrix and GPU targets (FlashAttention-4, CuTe DSL).

Loaded by stacker through `stack.yaml: kernels: kernels`; the engine itself knows no GPU code. It
asks `compile_plan(gpu, targets_file)` what to compile (see `stacker.compile_plan`):

- the tree: only `flash_attn/cute` is exported, plus an empty `flash_attn/__init__.py` (the repo
  root's `flash_attn/__init__.py` imports FA2's CUDA extension, which a CPU machine does not have);
- the jobs: `matrix.toml`'s SM120 group compiled for the `--gpu` target, the native groups for
  their own targets, each with its complete environment — FLASH_ATTENTION_ARCH (kernel path),
  CUTE_DSL_ARCH (compile target; never left unset, the DSL then silently builds sm_100a),
  FLASH_ATTENTION_NUM_SMS, the cubins kept in the job's artifact directory, FA4's own disk cache
  off so that every result is a real compile;
- the worker: `worker.py`, which calls FA4 under torch's FakeTensorMode;
- the toolchain that keys the cache: the CuTe DSL, torch and Python versions.
"""

from __future__ import annotations

import platform
from importlib import metadata
from pathlib import Path

from stacker.compile_plan import ARTIFACTS, CompileJob, CompilePlan
from stacker.errors import ConfigError

from .matrix import GPU_TARGET, load_matrix
from .targets import TARGETS_FILE, Target, load_targets

DEFAULT_GPU = "sm121a"
EXPORT_PATHS = ("flash_attn/cute",)
SHIM_FILES = {"flash_attn/__init__.py": ""}
WORKER = Path(__file__).with_name("worker.py")
TOOLCHAIN_PACKAGES = ("nvidia-cutlass-dsl", "torch", "quack-kernels", "apache-tvm-ffi")

# Beside the target's own variables: keep the cubins where stacker reads them, and compile for real.
COMPILE_ENV = {
    "CUTE_DSL_KEEP": "cubin",
    "CUTE_DSL_DUMP_DIR": ARTIFACTS,
    "CUTE_DSL_DISABLE_FILE_CACHING": "1",
    "FLASH_ATTENTION_CUTE_DSL_CACHE_ENABLED": "0",
}


def compile_plan(gpu: str | None, targets_file: Path | None = None) -> CompilePlan:
    targets = load_targets(TARGETS_FILE, targets_file)
    gpu = gpu or DEFAULT_GPU
    variants = load_matrix()
    sm120_paths = {v.kernel_path for v in variants if v.target == GPU_TARGET}
    if gpu not in targets:
        raise ConfigError(f"unknown GPU target '{gpu}' (known: {', '.join(sorted(targets))}; see kernels/targets.toml)")
    main = targets[gpu]
    if main.kernel_path not in sm120_paths:
        usable = sorted(name for name, t in targets.items() if t.kernel_path in sm120_paths)
        raise ConfigError(f"--gpu {gpu} compiles {main.kernel_path} kernels; the matrix's --gpu group needs a "
                          f"target with kernel path {'/'.join(sorted(sm120_paths))}: {', '.join(usable)}")
    jobs = []
    for variant in variants:
        chosen = main if variant.target == GPU_TARGET else _native(targets, variant.target, variant.id)
        if chosen.kernel_path != variant.kernel_path:
            raise ConfigError(f"kernels/matrix.toml: group {variant.group} runs {variant.kernel_path} kernels "
                              f"but its target {chosen.name} selects {chosen.kernel_path}")
        jobs.append(CompileJob(
            id=variant.id,
            title=variant.title,
            target=chosen.compile_arch,
            label=chosen.label,
            env={**chosen.environment(), **COMPILE_ENV},
            spec=variant.spec,
            group=variant.group,
        ))
    return CompilePlan(gpu=gpu, label=main.label, jobs=tuple(jobs), worker=WORKER, export_paths=EXPORT_PATHS,
                       shim_files=SHIM_FILES, toolchain=toolchain())


def _native(targets: dict[str, Target], name: str, variant_id: str) -> Target:
    if name not in targets:
        raise ConfigError(f"kernels/matrix.toml: {variant_id} names target '{name}', not in targets.toml")
    return targets[name]


def toolchain() -> dict[str, str]:
    """Versions a compile result depends on besides the tree (the cache key includes them)."""
    versions = {"python": platform.python_version()}
    for package in TOOLCHAIN_PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "absent"
    return versions

"""Cache keys: everything that decides the compile is in them; results round-trip; failures are not kept."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stacker.compile_cache import CompileCache, cache_key
from stacker.compile_plan import CompileJob
from stacker.compile_result import FAILED, OK, SKIPPED, CompileResult
from stacker.cubin import KernelResources

JOB = CompileJob(id="sm120-fwd", title="t", target="sm_121a", label="l",
                 env={"CUTE_DSL_ARCH": "sm_121a", "FLASH_ATTENTION_NUM_SMS": "48"}, spec={"head_dim": 128})
BASE = dict(trees={"flash_attn/cute": "a" * 40}, shim_files={"flash_attn/__init__.py": ""}, job=JOB,
            toolchain={"nvidia-cutlass-dsl": "4.8.1"}, worker_digest="w1")


def test_key_is_stable_and_order_free():
    again = dict(BASE, toolchain={"nvidia-cutlass-dsl": "4.8.1"},
                 job=CompileJob(id="sm120-fwd", title="other title", target="sm_121a", label="other",
                                env={"FLASH_ATTENTION_NUM_SMS": "48", "CUTE_DSL_ARCH": "sm_121a"},
                                spec={"head_dim": 128}))
    assert cache_key(**BASE) == cache_key(**again)  # titles and labels do not compile anything


@pytest.mark.parametrize("change", [
    {"trees": {"flash_attn/cute": "b" * 40}},
    {"shim_files": {"flash_attn/__init__.py": "import x\n"}},
    {"toolchain": {"nvidia-cutlass-dsl": "4.9.0"}},
    {"worker_digest": "w2"},
    {"job": CompileJob(id="sm120-fwd", title="t", target="sm_120a", label="l", env=JOB.env, spec=JOB.spec)},
    {"job": CompileJob(id="sm120-fwd", title="t", target="sm_121a", label="l",
                       env={**JOB.env, "FLASH_ATTENTION_NUM_SMS": "170"}, spec=JOB.spec)},
    {"job": CompileJob(id="sm120-fwd", title="t", target="sm_121a", label="l", env=JOB.env, spec={"head_dim": 64})},
    {"job": CompileJob(id="sm120-bwd", title="t", target="sm_121a", label="l", env=JOB.env, spec=JOB.spec)},
])
def test_key_changes_with_what_decides_the_compile(change):
    assert cache_key(**(BASE | change)) != cache_key(**BASE)


def _result(status: str) -> CompileResult:
    kernel = KernelResources(name="k", sass_arch="sm_121a", registers=255, stack=208, shared=1024, local=0,
                             spill_store_bytes=312, spill_load_bytes=288, cubin="k.cubin", cubin_sha256="ff")
    return CompileResult(id="sm120-fwd", title="t", target="sm_121a", status=status, compile_seconds=2.5,
                         wall_seconds=5.0, kernels=(kernel,) if status == OK else (),
                         error=None if status == OK else "boom", env={"A": "1"}, log="/tmp/x.log")


def test_round_trip_marks_cached(tmp_path: Path):
    cache = CompileCache(tmp_path)
    assert cache.get("k" * 64) is None
    cache.put("k" * 64, _result(OK))
    hit = cache.get("k" * 64)
    assert hit.cached and hit.log is None
    assert (hit.registers, hit.spill_stores, hit.spill_loads, hit.compile_seconds) == (255, 312, 288, 2.5)
    cache.put("s" * 64, _result(SKIPPED))
    assert cache.get("s" * 64).status == SKIPPED


def test_failures_are_never_cached(tmp_path: Path):
    cache = CompileCache(tmp_path)
    cache.put("f" * 64, _result(FAILED))
    assert cache.get("f" * 64) is None
    assert not list(tmp_path.rglob("*.json"))


def test_a_torn_entry_is_dropped(tmp_path: Path):
    cache = CompileCache(tmp_path)
    cache.put("t" * 64, _result(OK))
    [path] = tmp_path.rglob("*.json")
    path.write_text(json.dumps({"id": "x"})[:-3])
    assert cache.get("t" * 64) is None and not path.exists()

"""kernels/worker.py: what is 'feature absent', what is a failure, and the one error line it reports.

The worker runs here in-process on a small stand-in for FA4's interface, written for this test.
"""

from __future__ import annotations

import importlib
import json
import sys
import textwrap
from pathlib import Path

import pytest

from stacker.plugins import load_stack_module

REPO = Path(__file__).resolve().parents[2]

STAND_IN = '''
def _flash_attn_fwd(q, k, v, causal=False, page_table=None, seqused_k=None, cu_seqlens_q=None,
                    cu_seqlens_k=None, max_seqlen_q=None, max_seqlen_k=None, num_splits=1,
                    block_sparse_tensors=None):
    assert page_table is None, "Paged KV not supported on SM 12.0 in this PR"
    assert q.shape[-1] in (64, 128), "head_dim must be 64 or 128"
    if num_splits > 1:
        from flash_attn.cute import kernel
        kernel.build()
    return q


def _flash_attn_bwd(q, k, v, out, dout, lse, causal=False):
    raise NameError("name 'acc_scale' is not defined")
'''

KERNEL = '''
def build():
    assert False, "Paged KV not supported on SM 12.0 (but raised inside a kernel, not the interface)"
'''


@pytest.fixture
def worker(tmp_path: Path, monkeypatch):
    tree = tmp_path / "tree"
    (tree / "flash_attn" / "cute").mkdir(parents=True)
    (tree / "flash_attn" / "__init__.py").write_text("")
    (tree / "flash_attn" / "cute" / "__init__.py").write_text("")
    (tree / "flash_attn" / "cute" / "interface.py").write_text(STAND_IN)
    (tree / "flash_attn" / "cute" / "kernel.py").write_text(KERNEL)
    monkeypatch.syspath_prepend(str(tree))
    monkeypatch.setenv("CUTE_DSL_DUMP_DIR", str(tmp_path / "dump"))
    (tmp_path / "dump").mkdir()
    for name in [m for m in sys.modules if m == "flash_attn" or m.startswith("flash_attn.")]:
        monkeypatch.delitem(sys.modules, name)
    plugin = load_stack_module(REPO / "kernels", namespace="test_worker")
    return importlib.import_module(f"{plugin.__name__}.worker"), tmp_path


def _run(worker_and_dir, **spec) -> dict:
    worker, tmp = worker_and_dir
    base = {"id": "x", "pass": "fwd", "batch": 1, "seqlen_q": 128, "seqlen_k": 128, "heads": 2,
            "heads_kv": 2, "head_dim": 128, "dtype": "bf16", "causal": True}
    (tmp / "spec.json").write_text(json.dumps(base | spec))
    assert worker.main(["worker.py", str(tmp / "spec.json"), str(tmp / "result.json")]) == 0
    return json.loads((tmp / "result.json").read_text())


def test_plain_variant_compiles(worker):
    result = _run(worker)
    assert result["status"] == "ok" and result["error"] is None and result["compile_seconds"] >= 0


def test_missing_keyword_is_feature_absent(worker):
    result = _run(worker, dropout_p=0.1, requires_kwargs=["dropout_p"])
    assert result == {"status": "absent", "compile_seconds": 0.0,
                      "error": "feature absent: _flash_attn_fwd takes no 'dropout_p'", "detail": None}


def test_missing_module_is_feature_absent(worker):
    result = _run(worker, requires_modules=["flash_attn.cute.flash_fwd_sm120_tma"])
    assert result["status"] == "absent" and "no module flash_attn.cute.flash_fwd_sm120_tma" in result["error"]


def test_interface_assert_matching_the_feature_is_absent(worker):
    result = _run(worker, page_size=16, absent_asserts=[r"Paged KV not supported on SM 12\.0"])
    assert result["status"] == "absent"
    assert result["error"] == "feature absent: Paged KV not supported on SM 12.0 in this PR"


def test_interface_assert_without_a_declared_feature_fails(worker):
    result = _run(worker, page_size=16)
    assert result["status"] == "failed"
    assert result["error"].startswith("AssertionError: Paged KV not supported on SM 12.0 in this PR")
    assert "flash_attn/cute/interface.py:" in result["error"]


def test_other_interface_assert_fails_even_with_absent_patterns(worker):
    result = _run(worker, head_dim=96, absent_asserts=[r"Paged KV not supported"])
    assert result["status"] == "failed" and "head_dim must be 64 or 128" in result["error"]


def test_matching_assert_raised_outside_the_interface_is_a_failure(worker):
    result = _run(worker, num_splits=2, absent_asserts=[r"Paged KV not supported on SM 12\.0"])
    assert result["status"] == "failed"
    assert "flash_attn/cute/kernel.py:3" in result["error"]


def test_error_in_backward_names_the_error(worker):
    result = _run(worker, **{"pass": "bwd"})
    assert result["status"] == "failed"
    assert result["error"].startswith("NameError: name 'acc_scale' is not defined (flash_attn/cute/interface.py:")
    assert "Traceback" in result["detail"]


def test_expected_kernel_must_be_the_one_compiled(worker):
    _, tmp = worker
    (tmp / "dump" / "cutlass___call___flash_attncuteflash_fwd_sm120FlashAttentionForwardSm120_object_at__T.sm_121a.cubin"
     ).write_bytes(b"")
    result = _run(worker, expect_kernel="FlashAttentionForwardSm120Tma")
    assert result["status"] == "failed"
    assert "FlashAttentionForwardSm120Tma was not selected by the dispatch (compiled: FlashAttentionForwardSm120)" \
        in result["error"]


# --- the one line: DSL-style messages (this format mimics the CuTe DSL's, written for the test) ---

class DSLUserCodeError(Exception):
    pass


class DSLRuntimeError(Exception):
    pass


def _line(worker, error: BaseException) -> str:
    return worker[0].meaningful_line(error)


def test_line_of_a_dsl_user_error_with_pointer(worker):
    message = textwrap.dedent("""
        \x1b[91merror\x1b[0m: NameError in `__call__`: name 'tile_scale' is not defined
           --> /tmp/x/flash_attn/cute/flash_fwd.py:872
            |
        870 |         if tidx == 0:
        872 |         acc.fill(tile_scale * 0.0)
            |         ^
          = note: Caused exception: name 'tile_scale' is not defined
          suggestion: Variables used inside staged control flow must be defined before the
                      control flow region.
        """)
    assert _line(worker, DSLUserCodeError(message)) == (
        "DSLUserCodeError: NameError in `__call__`: name 'tile_scale' is not defined (flash_attn/cute/flash_fwd.py:872)")


def test_line_of_an_internal_error_shows_the_real_cause(worker):
    message = textwrap.dedent("""
        error[INTERNAL]: The compiler hit an internal DSL problem while compiling your code.
          note: This is a bug in the DSL, not a mistake in your kernel.
          error: Failed to bind arguments to function `__call__` with signature `(self, mQ:
                 Tensor, mK: Tensor, stream: CUstream = None)`
          error: Caused exception: too many positional arguments
          suggestion: Please report this with the snippet above and your kernel.
        """)
    assert _line(worker, DSLRuntimeError(message)) == (
        "DSLRuntimeError: Failed to bind arguments to function `__call__`; Caused exception: too many positional arguments")


def test_line_of_a_plain_error_and_of_an_empty_one(worker):
    assert _line(worker, TypeError("f() got an unexpected keyword argument 'is_split_kv'")) == \
        "TypeError: f() got an unexpected keyword argument 'is_split_kv'"
    assert _line(worker, RuntimeError("")) == "RuntimeError"
    assert len(_line(worker, RuntimeError("x" * 2000))) == 400

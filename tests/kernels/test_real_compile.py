"""Real CuTe DSL compiles of FA4 from the real upstream, on the CPU (opt-in: slow, needs the gpu extra).

    STACKER_TEST_COMPILE=1 STACKER_TEST_UPSTREAM=/work/up/fa.git python -m pytest -m compile tests/kernels
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from stacker.compile_matrix import compile_variant
from stacker.compile_result import FAILED, OK

REPO = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.compile,
    pytest.mark.upstream,
    pytest.mark.skipif(os.environ.get("STACKER_TEST_COMPILE") != "1", reason="real compiles are opt-in: "
                       "STACKER_TEST_COMPILE=1"),
]


def test_main_sm120_forward_compiles_for_sm121a_and_paged_is_absent(real_upstream: Path, run_cli, tmp_path: Path):
    json_path = tmp_path / "r.json"
    code, out, err = run_cli("kernels", "--stack", str(REPO / "stack.yaml"), "--repo", str(real_upstream),
                             "--ref", "main", "--workdir", str(tmp_path / "wd"), "--json", str(json_path),
                             "--only", "sm120-fwd-bf16-d128-causal", "--only", "sm120-fwd-paged16-bf16-d128-causal")
    assert code == 0, err
    assert "compiled for sm_121a, not run" in out
    import json

    ok, paged = json.loads(json_path.read_text())["results"]
    assert ok["status"] == "ok" and ok["kernels"] and all(k["sass_arch"] == "sm_121a" for k in ok["kernels"])
    assert 0 < ok["registers"] <= 255
    assert paged["status"] == "skipped" and "Paged KV not supported" in paged["error"]
    code, out, _ = run_cli("kernels", "--stack", str(REPO / "stack.yaml"), "--repo", str(real_upstream), "--ref",
                           "main", "--workdir", str(tmp_path / "wd"), "--only", "sm120-fwd-bf16-d128-causal")
    assert code == 0 and "1 from cache" in out


def test_an_undefined_local_in_a_kernel_fails_with_its_place(real_upstream: Path, tmp_path: Path):
    tree = tmp_path / "tree"
    tree.mkdir()
    archive = subprocess.run(["git", "-C", str(real_upstream), "archive", "main", "flash_attn/cute"],
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "x", "-C", str(tree)], input=archive, check=True)
    source = tree / "flash_attn" / "cute" / "flash_fwd.py"
    text = source.read_text()
    anchor = "        acc_O.fill(0.0)\n"
    if text.count(anchor) < 1:
        pytest.skip("upstream's SM80 mainloop changed shape; pick another anchor")
    # a local defined only inside a dynamic branch: what the DSL's SSA analysis rejects
    source.write_text(text.replace(anchor, "        if tidx == 0:\n            only_in_branch = Float32(1.0)\n"
                                           "        acc_O.fill(only_in_branch * 0.0)\n", 1))
    result = compile_variant(tree, "sm120-fwd-bf16-d128-causal", kernels=REPO / "kernels", gpu="sm121a")
    assert result.status == FAILED
    assert "only_in_branch" in result.error and "flash_attn/cute/flash_fwd.py:" in result.error


def test_native_sm90_forward_compiles_for_sm90a(real_upstream: Path, tmp_path: Path):
    from stacker.compile_matrix import compile_variant_at

    result = compile_variant_at(real_upstream, "main", "sm90-fwd-bf16-d128-causal", kernels=REPO / "kernels")
    assert result.status == OK and {k.sass_arch for k in result.kernels} == {"sm_90a"}

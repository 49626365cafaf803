"""Opt-in (STACKER_TEST_UPSTREAM): #2348 and #2349 on the real flash-attention main, with this bundle's
resolutions — what every one of them reports, and the shape of the result."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from tests.gitrepos import git, write_stack

pytestmark = pytest.mark.upstream
RESOLUTIONS = Path(__file__).resolve().parents[2] / "resolutions"


def test_steps_2348_2349_build_and_log_each_resolution(tmp_path: Path, real_upstream: Path, run_cli) -> None:
    stack = write_stack(tmp_path / "s", real_upstream, [{"number": 2348, "includes": [2336]}, {"number": 2349}],
                        base="main", branch="bundle/steps-1-2", resolutions=str(RESOLUTIONS))
    code, out, err = run_cli("build", "--stack", str(stack), "--json")
    assert code == 0, out + err
    report = json.loads(out)
    status = {r["id"]: (r["status"], r["step"]) for r in report["resolutions"]}
    assert status["sm120-dispatch"] == ("applied", 2349)
    assert status["sm120-split-kv-scheduler-metadata"] == ("applied", 2348)
    assert status["split-kv-epilogue-main-offsets"] == ("applied", 2348)
    for port in ("sm120-tma-aux-data", "sm120-tma-score-vec-size", "sm120-tma-make-rmem-tensor",
                 "sm120-tma-varlen-scheduler-inputs", "sm120-tma-unpacked-gqa"):
        assert status[port] == ("applied", 2349), port
    assert status["sm120-tma-stream-last"][0] == "already satisfied"
    assert status["sm120-cpasync-packed-gqa"][0] == "not applicable"
    assert status["sm120-tma-dropout-seeds"][0] == "not applicable"
    step1, step2 = report["steps"]
    assert sorted(a["layer"] for a in step1["resolved"]) == ["equivalent", "moved", "structural"]
    assert [a["resolution"] for a in step2["resolved"]] == ["sm120-dispatch"]

    repo = tmp_path / "s" / ".stacker" / "repo.git"
    interface = git(repo, "show", "refs/heads/bundle/steps-1-2:flash_attn/cute/interface.py")
    start = interface.index("use_tma_sm120")
    arm = interface[interface.rindex("elif arch // 10 == 12:", 0, start):interface.index("raise ValueError", start)]
    assert "is_varlen =" not in arm and "and not is_split_kv" in arm
    assert "num_stages=2 if page_table is not None else 1" in arm
    tma = git(repo, "show", "refs/heads/bundle/steps-1-2:flash_attn/cute/flash_fwd_sm120_tma.py")
    ast.parse(tma)
    assert "aux_tensors" not in tma.replace("has_aux_tensors", "") and "cute.make_fragment(" not in tma

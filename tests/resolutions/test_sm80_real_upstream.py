"""The Sm80 resolutions on the real upstream (opt-in: STACKER_TEST_UPSTREAM, a path made by fa-upstream).

Step 1 of the bundle (#2348 on main) is built for real with this repository's resolutions; then the
step-3 conflict of flash_fwd.py (#2389 onto it; #2349 does not touch this file) goes through git's
merge and the codified layer, and the result must hold the two compile-time flows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from stacker.build import structural_layer
from stacker.codified import CodifiedLayer
from stacker.filemerge import FileVersions, merge_file
from stacker.plugins import load_stack_module
from stacker.pysource import parse_module
from stacker.resolution import SourceTree
from tests.gitrepos import git

pytestmark = pytest.mark.upstream
ROOT = Path(__file__).resolve().parents[2]
PATH = "flash_attn/cute/flash_fwd.py"


def _module(name: str):
    return load_stack_module(ROOT / "resolutions" / f"{name}.py", namespace="stacker_resolution")


def _show(repo: Path, rev: str, path: str = PATH) -> str:
    return git(repo, "show", f"{rev}:{path}") + "\n"


def test_sm80_resolutions_on_the_real_upstream(tmp_path: Path, real_upstream: Path, run_cli) -> None:
    stack = tmp_path / "s" / "stack.yaml"
    stack.parent.mkdir()
    stack.write_text(yaml.safe_dump({
        "name": "sm80", "upstream": str(real_upstream), "base": "main", "branch": "bundle/sm80",
        "resolutions": str(ROOT / "resolutions"), "prs": [{"number": 2348, "includes": [2336]}]}))
    code, out, err = run_cli("build", "--stack", str(stack), "--json")
    assert code == 0, out + err
    status = {r["id"]: r["status"] for r in json.loads(out)["resolutions"]}
    assert status["sm80-block-info-num-splits"] == "applied"
    assert status["sm80-split-kv-only-skip"] == "applied"

    repo = tmp_path / "s" / ".stacker" / "repo.git"
    ours = _show(repo, "refs/heads/bundle/sm80")
    head = git(real_upstream, "rev-parse", "refs/pull/2389/head")
    fork = git(real_upstream, "merge-base", "main", head)
    versions = FileVersions(PATH, _show(real_upstream, fork), ours, _show(real_upstream, head))
    flows = _module("sm80_block_sparse_flows")
    layer = CodifiedLayer([flows.BlockSparseDenseFlows()], 2389, frozenset({2348}), {PATH: versions})
    structural = structural_layer()  # the step's other hunk (`__call__`) is the generic layers' job
    result = merge_file(versions, [layer, *([structural] if structural else [])])
    assert result.is_clean
    assert parse_module(result.text) is not None

    merged = flows.merge_flows(result.merged.views(), (versions.base, versions.ours, versions.theirs))
    assert merged is None  # nothing left to claim: the kernel is already the two flows
    tree = SourceTree(files={PATH: result.text}, loader=lambda p: _show(repo, "refs/heads/bundle/sm80", p))
    assert flows.BlockSparseDenseFlows().inspect(tree).status == "satisfied"
    assert _module("sm80_split_kv_skip").SplitKVOnlySkip().inspect(tree).status == "satisfied"
    assert _module("sm80_block_info_num_splits").BlockInfoNumSplits().inspect(tree).status == "satisfied"
    # the 2026 log's two names are not enough; the one the DSL rejected first is renamed too (experiment e1)
    for name in ("bs_row_scale", "bs_sO", "bs_gmem_thr_copy_Q"):
        assert f"{name} = " in result.text

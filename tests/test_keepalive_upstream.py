"""Keep-alive on the real upstream (opt-in: STACKER_TEST_UPSTREAM, a path made by fa-upstream).

Nothing here knows what upstream contains: the stack is the first PR of this repository's
stack.yaml, built on the fork point of that PR, and the assertions are the properties the
keep-alive promises (status after a build, a no-op, --advance's pair of bases really builds /
really breaks).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.gitrepos import git

pytestmark = pytest.mark.upstream
ROOT = Path(__file__).resolve().parent.parent


def _first_pr_stack(directory: Path, upstream: Path) -> tuple[Path, str]:
    first = yaml.safe_load((ROOT / "stack.yaml").read_text())["prs"][0]
    first = first if isinstance(first, dict) else {"number": first}
    head = git(upstream, "rev-parse", f"refs/pull/{first['number']}/head")
    fork = git(upstream, "merge-base", "main", head)
    directory.mkdir(parents=True)
    stack = directory / "stack.yaml"
    stack.write_text(yaml.safe_dump({"name": "real", "upstream": str(upstream), "branch": "bundle/real",
                                     "prs": [{k: v for k, v in first.items() if k in ("number", "includes")}]}))
    return stack, fork


def test_status_noop_and_advance_on_the_real_upstream(tmp_path: Path, real_upstream: Path, run_cli) -> None:
    stack, fork = _first_pr_stack(tmp_path / "s", real_upstream)
    code, out, err = run_cli("build", "--stack", str(stack), "--base", fork)
    assert code == 0, out + err
    code, out, _ = run_cli("build", "--stack", str(stack), "--base", fork, "--json")
    assert code == 0 and json.loads(out)["unchanged"] is True
    code, out, _ = run_cli("status", "--stack", str(stack), "--base", fork, "--json")
    assert code == 0, out

    code, out, err = run_cli("build", "--stack", str(stack), "--advance", "--json")
    assert code in (0, 4), out + err
    advance = json.loads(out)["advance"]
    if code == 0:
        assert advance["built_on"] == advance["requested"]["sha"]
        return
    bad, good = advance["first_bad"]["sha"], advance["built_on"]
    assert git(real_upstream, "rev-parse", f"{bad}^1") == good  # adjacent on main's first-parent line
    # each end, built on its own, does what --advance says it does
    assert run_cli("build", "--stack", str(stack), "--base", bad, "--offline")[0] == 1
    assert run_cli("build", "--stack", str(stack), "--base", good, "--offline")[0] == 0

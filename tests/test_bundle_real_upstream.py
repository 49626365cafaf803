"""This repository's bundle, built on the real upstream (opt-in: STACKER_TEST_UPSTREAM, a path made
by fa-upstream). The compile gate is skipped here (the kernels tests cover it; it adds minutes);
what is checked is what a user of `stacker build` relies on: every PR applied or superseded with
nothing left to a person, one commit per applied PR carrying its provenance, a bundle whose Python
compiles, and the same commit when built twice.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.gitrepos import git

pytestmark = pytest.mark.upstream
ROOT = Path(__file__).resolve().parent.parent


def _build(run_cli, workdir: Path, upstream: Path) -> dict:
    code, out, err = run_cli("build", "--stack", str(ROOT / "stack.yaml"), "--upstream", str(upstream),
                             "--workdir", str(workdir), "--skip-verify", "kernels-sm121a", "--json")
    assert code == 0, out + err
    return json.loads(out)


def test_the_bundle_builds_on_the_real_upstream(tmp_path: Path, real_upstream: Path, run_cli) -> None:
    report = _build(run_cli, tmp_path / "a", real_upstream)
    stack = yaml.safe_load((ROOT / "stack.yaml").read_text())
    wanted = [pr["number"] if isinstance(pr, dict) else pr for pr in stack["prs"]]
    steps = {step["number"]: step for step in report["steps"]}
    assert list(steps) == wanted
    for number, step in steps.items():
        assert step["status"] in ("applied", "superseded"), (number, step["status"])
        assert not step["conflicts"], (number, step["conflicts"])
    assert steps[wanted[0]]["status"] == "applied"

    repo = tmp_path / "a" / "repo.git"
    head = report["head"]
    assert git(repo, "rev-parse", f"refs/heads/{stack['branch']}") == head
    applied = [n for n, s in steps.items() if s["status"] == "applied"]
    subjects = git(repo, "log", "--format=%(trailers:key=Stacker-PR,valueonly)", f"{report['base']['sha']}..{head}")
    assert [int(line) for line in subjects.split()] == list(reversed(applied))  # one commit per applied PR
    for number in applied:
        trailers = git(repo, "log", "-1", "--format=%(trailers)", steps[number]["commit"])
        assert f"Stacker-PR-Head: {steps[number]['head']}" in trailers

    # every Python file the bundle changed at least compiles (the gate checks far more; this needs no DSL)
    changed = git(repo, "diff", "--name-only", "--diff-filter=AM", report["base"]["sha"], head)
    assert changed
    for path in changed.split("\n"):
        if path.endswith(".py"):
            compile(git(repo, "show", f"{head}:{path}"), path, "exec")
    assert "## Conflicts and fixes" in (tmp_path / "a" / "BUNDLE.md").read_text()

    again = _build(run_cli, tmp_path / "b", real_upstream)  # another work directory, from scratch
    assert again["head"] == head

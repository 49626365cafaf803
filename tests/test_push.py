"""`stacker push`: the leased push of the bundle branch, and its refusal to overwrite a branch that moved."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stacker import push as push_module
from stacker.push import remote_key
from tests.gitrepos import Upstream, git
from tests.moving import MovingStack, moving_stack

BRANCH = "refs/heads/bundle/test-bundle"


def _built(tmp_path: Path, upstream: Upstream, run_cli) -> tuple[MovingStack, Path]:
    ms = moving_stack(tmp_path, upstream)
    assert run_cli("build", "--stack", str(ms.stack))[0] == 0
    remote = tmp_path / "published.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    return ms, remote


def _remote_head(remote: Path, ref: str = BRANCH) -> str | None:
    return git(remote, "rev-parse", "-q", "--verify", ref, check=False) or None


def _someone_pushes(remote: Path, onto: str) -> str:
    """A maintainer's hot fix pushed straight to the remote bundle branch."""
    env = {"GIT_AUTHOR_NAME": "M", "GIT_AUTHOR_EMAIL": "m@example.com", "GIT_COMMITTER_NAME": "M",
           "GIT_COMMITTER_EMAIL": "m@example.com"}
    tree = git(remote, "rev-parse", f"{onto}^{{tree}}")
    fix = git(remote, "commit-tree", tree, "-p", onto, "-m", "hot fix", env=env)
    git(remote, "update-ref", BRANCH, fix)
    return fix


def test_push_creates_the_branch_then_updates_it_under_the_lease(tmp_path: Path, upstream: Upstream, run_cli) -> None:
    ms, remote = _built(tmp_path, upstream, run_cli)
    first = ms.lock["head"]
    code, out, err = run_cli("push", "--stack", str(ms.stack), "--remote", str(remote))
    assert code == 0, out + err
    assert "pushed bundle/test-bundle new -> " in out
    assert _remote_head(remote) == first
    assert ms.lock["pushed"] == {str(remote.resolve()): {"bundle/test-bundle": first}}

    ms.force_push(3)
    assert run_cli("build", "--stack", str(ms.stack))[0] == 0
    assert ms.lock["pushed"][str(remote.resolve())]["bundle/test-bundle"] == first  # a build keeps the record
    code, out, err = run_cli("push", "--stack", str(ms.stack), "--remote", str(remote), "--json")
    assert code == 0, out + err
    result = json.loads(out)
    assert result["previous"] == first and result["pushed"] == ms.lock["head"] != first
    assert _remote_head(remote) == ms.lock["head"]

    code, out, _ = run_cli("push", "--stack", str(ms.stack), "--remote", str(remote))
    assert code == 0 and "is already at" in out


def test_push_refuses_to_overwrite_a_remote_branch_that_moved(tmp_path: Path, upstream: Upstream, run_cli) -> None:
    ms, remote = _built(tmp_path, upstream, run_cli)
    assert run_cli("push", "--stack", str(ms.stack), "--remote", str(remote))[0] == 0
    pushed = ms.lock["head"]
    fix = _someone_pushes(remote, pushed)
    ms.force_push(3)
    assert run_cli("build", "--stack", str(ms.stack))[0] == 0

    code, out, err = run_cli("push", "--stack", str(ms.stack), "--remote", str(remote))
    assert code == 1 and out == ""
    assert err.count("\n") == 1
    assert f"moved to {fix[:12]} since stacker pushed {pushed[:12]}; refusing to overwrite it" in err
    assert _remote_head(remote) == fix  # the hot fix is still there
    assert ms.lock["pushed"][str(remote.resolve())]["bundle/test-bundle"] == pushed

    code, out, err = run_cli("push", "--stack", str(ms.stack), "--remote", str(remote), "--expect", fix)
    assert code == 0, err
    assert _remote_head(remote) == ms.lock["head"]


def test_push_without_a_record_refuses_an_existing_branch(tmp_path: Path, upstream: Upstream, run_cli) -> None:
    ms, remote = _built(tmp_path, upstream, run_cli)
    empty_tree = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"  # git knows it without storing it
    other = git(remote, "commit-tree", empty_tree, "-m", "someone else's",
                env={"GIT_AUTHOR_NAME": "x", "GIT_AUTHOR_EMAIL": "x@x", "GIT_COMMITTER_NAME": "x", "GIT_COMMITTER_EMAIL": "x@x"})
    git(remote, "update-ref", BRANCH, other)
    code, _, err = run_cli("push", "--stack", str(ms.stack), "--remote", str(remote))
    assert code == 1 and "stacker has no record of pushing it; refusing to overwrite it" in err
    assert _remote_head(remote) == other


def test_the_lease_itself_stops_a_push_racing_another(tmp_path: Path, upstream: Upstream, run_cli,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The branch moves after stacker looked: git's --force-with-lease, checked at update time, refuses."""
    ms, remote = _built(tmp_path, upstream, run_cli)
    assert run_cli("push", "--stack", str(ms.stack), "--remote", str(remote))[0] == 0
    pushed = ms.lock["head"]
    ms.force_push(3)
    assert run_cli("build", "--stack", str(ms.stack))[0] == 0
    real = push_module._remote_head

    def look_then_race(repo, url, ref):
        seen = real(repo, url, ref)
        _someone_pushes(remote, pushed)  # lands between stacker's look and its push
        return seen

    monkeypatch.setattr(push_module, "_remote_head", look_then_race)
    code, _, err = run_cli("push", "--stack", str(ms.stack), "--remote", str(remote))
    assert code == 1 and "moved while pushing" in err
    assert git(remote, "log", "-1", "--format=%s", BRANCH) == "hot fix"


def test_push_before_any_build_is_an_error(tmp_path: Path, upstream: Upstream, run_cli) -> None:
    ms = moving_stack(tmp_path, upstream)
    code, _, err = run_cli("push", "--stack", str(ms.stack), "--remote", str(tmp_path / "r.git"))
    assert code == 2 and "stack.lock: no such file" in err


def test_push_to_an_unreachable_remote_is_one_line(tmp_path: Path, upstream: Upstream, run_cli) -> None:
    ms, _ = _built(tmp_path, upstream, run_cli)
    code, _, err = run_cli("push", "--stack", str(ms.stack), "--remote", str(tmp_path / "missing.git"))
    assert code == 2 and err.count("\n") == 1 and "cannot reach" in err


def test_remote_key_drops_credentials() -> None:
    assert remote_key("https://x-access-token:ghs_secret@github.com/o/r.git") == "https://github.com/o/r.git"
    assert remote_key("https://github.com/o/r.git") == "https://github.com/o/r.git"
    assert remote_key("git@github.com:o/r.git") == "git@github.com:o/r.git"

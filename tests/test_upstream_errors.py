"""Missing PRs, bases and unreachable upstreams: one line naming what is missing, exit 2."""

from __future__ import annotations

from pathlib import Path

from tests.gitrepos import Upstream, write_stack


def _stack(tmp_path: Path, upstream: Upstream, number: int = 1) -> Path:
    base = upstream.commit({"a.py": "x = 1\n"}, "initial")
    upstream.pr(1, {"b.py": "y = 2\n"}, "pr one", base)
    return write_stack(tmp_path / "s", upstream.path, [{"number": number}])


def test_missing_pr_names_it_and_its_line(tmp_path: Path, upstream: Upstream, run_cli) -> None:
    stack = _stack(tmp_path, upstream, number=99)
    code, _, err = run_cli("build", "--stack", str(stack))
    assert code == 2
    assert "stack.yaml:4: PR #99" in err and "refs/pull/99/head" in err


def test_missing_base(tmp_path: Path, upstream: Upstream, run_cli) -> None:
    stack = _stack(tmp_path, upstream)
    code, _, err = run_cli("build", "--stack", str(stack), "--base", "no-such-branch")
    assert code == 2 and "no branch, tag or commit named 'no-such-branch'" in err


def test_unreachable_upstream(tmp_path: Path, upstream: Upstream, run_cli) -> None:
    stack = _stack(tmp_path, upstream)
    code, _, err = run_cli("build", "--stack", str(stack), "--upstream", str(tmp_path / "gone.git"))
    assert code == 2 and "cannot reach upstream" in err and "gone.git" in err
    assert len(err.strip().splitlines()) == 1


def test_offline_before_any_fetch(tmp_path: Path, upstream: Upstream, run_cli) -> None:
    stack = _stack(tmp_path, upstream)
    code, _, err = run_cli("build", "--stack", str(stack), "--offline")
    assert code == 2 and "has not been fetched" in err


def test_offline_after_fetch_builds(tmp_path: Path, upstream: Upstream, run_cli) -> None:
    stack = _stack(tmp_path, upstream)
    assert run_cli("build", "--stack", str(stack))[0] == 0
    assert run_cli("build", "--stack", str(stack), "--offline", "--upstream", str(tmp_path / "gone.git"))[0] == 0


def test_locked_without_lock_file(tmp_path: Path, upstream: Upstream, run_cli) -> None:
    stack = _stack(tmp_path, upstream)
    code, _, err = run_cli("build", "--stack", str(stack), "--locked")
    assert code == 2 and "stack.lock: no such file" in err


def test_abbreviated_unknown_sha_asks_for_the_full_one(tmp_path: Path, upstream: Upstream, run_cli) -> None:
    stack = _stack(tmp_path, upstream)
    code, _, err = run_cli("build", "--stack", str(stack), "--base", "abcdef1")
    assert code == 2 and "full 40-character SHA" in err


def test_abbreviated_known_sha_works(tmp_path: Path, upstream: Upstream, run_cli) -> None:
    stack = _stack(tmp_path, upstream)
    assert run_cli("build", "--stack", str(stack))[0] == 0
    base = upstream.head()[:10]
    code, out, err = run_cli("build", "--stack", str(stack), "--base", base)
    assert code == 0, out + err

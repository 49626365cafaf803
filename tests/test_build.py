"""`stacker build` on real git repositories: stacking semantics, publishing, the lock."""

from __future__ import annotations

import json
from pathlib import Path

from tests.gitrepos import Upstream, branch_head, bundle_log, git, write_stack

BASE_FILES = {
    "kernel.py": "def launch(grid, block):\n    return (grid, block)\n",
    "interface.py": "def attention(q, k, v):\n    return q\n",
    "README": "hello\n",
}


def _setup(upstream: Upstream) -> str:
    return upstream.commit(BASE_FILES, "initial")


def test_clean_stack_one_commit_per_pr_with_trailers(tmp_path: Path, upstream: Upstream, run_cli) -> None:
    base = _setup(upstream)
    head1 = upstream.pr(1, {"kernel.py": BASE_FILES["kernel.py"] + "\n\ndef paged():\n    pass\n"}, "paged", base)
    upstream.pr(2, {"interface.py": "def attention(q, k, v, dropout=0.0):\n    return q\n"}, "dropout", base)
    stack = write_stack(tmp_path / "s", upstream.path, [{"number": 1, "title": "Paged"}, {"number": 2}])
    code, out, err = run_cli("build", "--stack", str(stack))
    assert code == 0, out + err
    work = tmp_path / "s" / ".stacker"
    assert bundle_log(work) == ["initial", "Apply PR #1: Paged", "Apply PR #2: dropout"]
    message = git(work / "repo.git", "log", "-1", "--format=%B", "refs/heads/bundle/test-bundle~1")
    assert "Stacker-PR: 1" in message
    assert f"Stacker-PR-Head: {head1}" in message
    assert f"Stacker-Fork: {base}" in message
    tree = git(work / "repo.git", "show", "refs/heads/bundle/test-bundle:interface.py")
    assert "dropout=0.0" in tree
    assert "published" in out
    assert (tmp_path / "s" / "stack.lock").exists()
    assert (work / "BUNDLE.md").read_text().startswith("# Bundle `test-bundle`")


def test_stacked_pr_listed_includes_and_fork_at_earlier_head(tmp_path: Path, upstream: Upstream, run_cli) -> None:
    base = _setup(upstream)
    split = upstream.pr(10, {"kernel.py": "def launch(grid, block, splits=1):\n    return (grid, block)\n"},
                        "split-kv", base)
    upstream.pr(20, {"paged.py": "PAGE = 16\n"}, "paged on split", split)
    stack = write_stack(tmp_path / "s", upstream.path, [{"number": 20, "includes": [10]}])
    code, out, err = run_cli("build", "--stack", str(stack), "--json")
    assert code == 0, err
    report = json.loads(out)
    step = report["steps"][0]
    assert step["includes"] == [10]
    assert step["fork"] == base  # the fork is main's, so #10's commit comes along inside #20
    assert bundle_log(tmp_path / "s" / ".stacker")[-1] == "Apply PR #20 (+#10): paged on split"
    files = git(tmp_path / "s" / ".stacker" / "repo.git", "show", "refs/heads/bundle/test-bundle:kernel.py")
    assert "splits=1" in files


def test_stacked_pr_detected_when_listed_separately(tmp_path: Path, upstream: Upstream, run_cli) -> None:
    base = _setup(upstream)
    split = upstream.pr(10, {"kernel.py": "def launch(grid, block, splits=1):\n    return (grid, block)\n"},
                        "split-kv", base)
    upstream.pr(20, {"paged.py": "PAGE = 16\n"}, "paged on split", split)
    stack = write_stack(tmp_path / "s", upstream.path, [{"number": 10}, {"number": 20}])
    code, out, _ = run_cli("build", "--stack", str(stack), "--json")
    assert code == 0
    steps = json.loads(out)["steps"]
    assert steps[1]["stacked_on"] == 10
    assert steps[1]["fork"] == split  # only #20's own commit is applied in step 2
    diff = git(tmp_path / "s" / ".stacker" / "repo.git", "diff", "--name-only",
               "refs/heads/bundle/test-bundle~1", "refs/heads/bundle/test-bundle")
    assert diff.splitlines() == ["paged.py"]


def test_included_pr_detected_without_being_listed(tmp_path: Path, upstream: Upstream, run_cli) -> None:
    base = _setup(upstream)
    split = upstream.pr(10, {"kernel.py": "def launch(grid, block, splits=1):\n    return (grid, block)\n"},
                        "split-kv", base)
    upstream.pr(20, {"paged.py": "PAGE = 16\n"}, "paged on split", split)
    # #10 comes after #20 in the stack: its head is inside #20, so it is detected as included.
    stack = write_stack(tmp_path / "s", upstream.path, [{"number": 20}, {"number": 10}])
    code, out, _ = run_cli("build", "--stack", str(stack), "--json")
    assert code == 0
    steps = json.loads(out)["steps"]
    assert steps[0]["includes"] == [10]
    assert steps[1]["status"] == "already-applied"
    code, out, _ = run_cli("plan", "--stack", str(stack), "--offline")
    assert "includes #10 (detected)" in out


def test_included_pr_outside_the_stack_detected_from_upstreams_pr_heads(tmp_path: Path, upstream: Upstream,
                                                                        run_cli) -> None:
    base = _setup(upstream)
    split = upstream.pr(10, {"kernel.py": "def launch(grid, block, splits=1):\n    return (grid, block)\n"},
                        "split-kv", base)
    upstream.pr(20, {"paged.py": "PAGE = 16\n"}, "paged on split", split)
    upstream.pr(30, {"README": "unrelated\n"}, "unrelated", base)  # a PR head outside #20: not included
    # stack.yaml names only #20; #10's head is one of #20's own commits, so upstream's PR list says
    # that #20 carries #10
    stack = write_stack(tmp_path / "s", upstream.path, [{"number": 20}])
    code, out, err = run_cli("build", "--stack", str(stack), "--json")
    assert code == 0, out + err
    step = json.loads(out)["steps"][0]
    assert step["includes"] == [10]
    assert bundle_log(tmp_path / "s" / ".stacker")[-1] == "Apply PR #20 (+#10): paged on split"
    head = branch_head(tmp_path / "s" / ".stacker")
    code, out, _ = run_cli("plan", "--stack", str(stack), "--offline")
    assert "includes #10 (detected)" in out and "#30" not in out
    # offline, from scratch: the same commit (the detection was recorded with what was fetched)
    code, out, err = run_cli("build", "--stack", str(stack), "--offline", "--full", "--json")
    assert code == 0, out + err
    assert json.loads(out)["head"] == head


def test_base_older_than_fork_lands_only_the_prs_change(tmp_path: Path, upstream: Upstream, run_cli) -> None:
    old = _setup(upstream)
    newer = upstream.commit({"README": "hello, newer upstream\n"}, "upstream moves")
    upstream.pr(1, {"paged.py": "PAGE = 16\n"}, "paged", newer)
    stack = write_stack(tmp_path / "s", upstream.path, [{"number": 1}])
    code, out, err = run_cli("build", "--stack", str(stack), "--base", old)
    assert code == 0, out + err
    repo = tmp_path / "s" / ".stacker" / "repo.git"
    assert git(repo, "show", "refs/heads/bundle/test-bundle:README") == "hello"  # upstream's later commit not dragged in
    assert git(repo, "show", "refs/heads/bundle/test-bundle:paged.py") == "PAGE = 16"
    assert git(repo, "rev-parse", "refs/heads/bundle/test-bundle~1") == old


def test_pr_already_in_base_is_skipped_and_reported(tmp_path: Path, upstream: Upstream, run_cli) -> None:
    base = _setup(upstream)
    head = upstream.pr(1, {"paged.py": "PAGE = 16\n"}, "paged", base)
    upstream.commit({}, "merge #1", parent=head)  # fast-forward main onto the PR: merged upstream
    upstream.pr(2, {"interface.py": "def attention(q, k, v, scale=None):\n    return q\n"}, "scale", base)
    stack = write_stack(tmp_path / "s", upstream.path, [{"number": 1}, {"number": 2}])
    code, out, _ = run_cli("build", "--stack", str(stack), "--json")
    assert code == 0
    steps = json.loads(out)["steps"]
    assert [s["status"] for s in steps] == ["already-applied", "applied"]
    md = (tmp_path / "s" / ".stacker" / "BUNDLE.md").read_text()
    assert "PR #1 is already applied" in md


def test_conflict_stops_and_leaves_branch_with_precise_report(tmp_path: Path, upstream: Upstream, run_cli) -> None:
    base = _setup(upstream)
    upstream.pr(1, {"interface.py": "def attention(q, k, v):\n    return q * 2\n"}, "double it", base)
    stack = write_stack(tmp_path / "s", upstream.path, [{"number": 1}])
    assert run_cli("build", "--stack", str(stack))[0] == 0
    work = tmp_path / "s" / ".stacker"
    published = branch_head(work)
    upstream.commit({"interface.py": "def attention(q, k, v):\n    return q + 1\n"}, "Fix attention offset (#77)")
    code, out, err = run_cli("build", "--stack", str(stack))
    assert code == 1
    assert branch_head(work) == published
    assert "interface.py:2-8 in attention" in out
    assert "Fix attention offset (#77)" in out  # the upstream commit behind the other side
    assert "return q + 1" in out and "return q * 2" in out
    conflicted = (work / "conflict" / "interface.py").read_text()
    assert "<<<<<<< bundle" in conflicted and ">>>>>>> #1" in conflicted
    report = json.loads((work / "bundle.json").read_text())
    assert report["status"] == "conflict"
    assert report["steps"][0]["conflicts"][0]["lines"] == [2, 8]


def test_rebuild_gives_identical_shas(tmp_path: Path, upstream: Upstream, run_cli) -> None:
    base = _setup(upstream)
    upstream.pr(1, {"paged.py": "PAGE = 16\n"}, "paged", base)
    upstream.pr(2, {"interface.py": "def attention(q, k, v, scale=None):\n    return q\n"}, "scale", base)
    heads = []
    for name in ("a", "b"):
        stack = write_stack(tmp_path / name, upstream.path, [{"number": 1}, {"number": 2}])
        assert run_cli("build", "--stack", str(stack))[0] == 0
        heads.append(branch_head(tmp_path / name / ".stacker"))
    assert heads[0] == heads[1]
    # and building again in the same work dir changes nothing either
    assert run_cli("build", "--stack", str(tmp_path / "a" / "stack.yaml"))[0] == 0
    assert branch_head(tmp_path / "a" / ".stacker") == heads[0]


def test_locked_rebuilds_the_pinned_shas(tmp_path: Path, upstream: Upstream, run_cli) -> None:
    base = _setup(upstream)
    upstream.pr(1, {"paged.py": "PAGE = 16\n"}, "paged", base)
    stack = write_stack(tmp_path / "s", upstream.path, [{"number": 1}])
    assert run_cli("build", "--stack", str(stack))[0] == 0
    work = tmp_path / "s" / ".stacker"
    first = branch_head(work)
    lock = json.loads((tmp_path / "s" / "stack.lock").read_text())
    assert lock["head"] == first and lock["prs"][0]["number"] == 1
    upstream.commit({"README": "moved\n"}, "upstream moves")
    upstream.pr(1, {"paged.py": "PAGE = 32\n"}, "paged, force-pushed", base)
    assert run_cli("build", "--stack", str(stack), "--locked")[0] == 0
    assert branch_head(work) == first
    assert run_cli("build", "--stack", str(stack))[0] == 0
    assert branch_head(work) != first


def test_users_checkout_is_never_touched(tmp_path: Path, upstream: Upstream, run_cli, monkeypatch) -> None:
    base = _setup(upstream)
    upstream.pr(1, {"paged.py": "PAGE = 16\n"}, "paged", base)
    user = tmp_path / "user"
    git(tmp_path, "clone", "-q", str(upstream.path), str(user))
    (user / "README").write_text("my uncommitted edit\n")
    git(user, "checkout", "-q", "-b", "my-work")
    before = (git(user, "status", "--porcelain"), git(user, "branch", "--list"), git(user, "rev-parse", "HEAD"))
    write_stack(user, upstream.path, [{"number": 1}])
    monkeypatch.chdir(user)
    assert run_cli("build")[0] == 0
    after = (git(user, "status", "--porcelain"), git(user, "branch", "--list"), git(user, "rev-parse", "HEAD"))
    # stacker added stack.lock beside the user's new stack.yaml; .stacker/ ignores itself
    assert sorted(after[0].splitlines()) == sorted(before[0].splitlines() + ["?? stack.lock", "?? stack.yaml"])
    assert after[1:] == before[1:]
    assert (user / "README").read_text() == "my uncommitted edit\n"

"""`stacker status` against an upstream that moves: what it says, its exit code, and the rebuild after."""

from __future__ import annotations

import json
from pathlib import Path

from tests.gitrepos import Upstream, branch_head, git, write_stack
from tests.moving import MovingStack, moving_stack


def _built(tmp_path: Path, upstream: Upstream, run_cli) -> MovingStack:
    ms = moving_stack(tmp_path, upstream)
    code, out, err = run_cli("build", "--stack", str(ms.stack))
    assert code == 0, out + err
    return ms


def _status(run_cli, ms: MovingStack, *extra: str) -> tuple[int, dict]:
    code, out, err = run_cli("status", "--stack", str(ms.stack), "--json", *extra)
    assert err == "", err
    return code, json.loads(out)


def _rebuild(run_cli, ms: MovingStack) -> dict:
    code, out, err = run_cli("build", "--stack", str(ms.stack), "--json")
    assert code == 0, out + err
    return json.loads(out)


def _pr(status: dict, number: int) -> dict:
    return next(p for p in status["prs"] if p["number"] == number)


def test_nothing_moved_is_current(tmp_path: Path, upstream: Upstream, run_cli) -> None:
    ms = _built(tmp_path, upstream, run_cli)
    code, status = _status(run_cli, ms)
    assert code == 0
    assert status["current"] and status["reasons"] == []
    assert [p["state"] for p in status["prs"]] == ["unchanged"] * 3
    code, out, _ = run_cli("status", "--stack", str(ms.stack))
    assert code == 0 and "current: nothing moved" in out


def test_unrelated_upstream_commit(tmp_path: Path, upstream: Upstream, run_cli) -> None:
    ms = _built(tmp_path, upstream, run_cli)
    moved_to = ms.unrelated_commit()
    code, status = _status(run_cli, ms)
    assert code == 3
    assert status["base"]["now"] == moved_to and status["base"]["commits"] == 1
    assert status["base"]["touching"] == []
    assert status["reasons"] == ["base main moved 1 commit(s) (0 touch files the stack changes)"]
    report = _rebuild(run_cli, ms)
    # every step's parent changed with the base, so the reusable prefix is empty
    assert report["reused"] == [] and [s["status"] for s in report["steps"]] == ["applied"] * 3
    assert _status(run_cli, ms)[0] == 0


def test_touching_commit_is_named_with_its_files(tmp_path: Path, upstream: Upstream, run_cli) -> None:
    ms = _built(tmp_path, upstream, run_cli)
    ms.unrelated_commit()
    touching = ms.touching_commit()
    code, status = _status(run_cli, ms)
    assert code == 3
    assert status["base"]["commits"] == 2
    assert status["base"]["touching"] == [{"sha": touching, "subject": "Add kernel header", "files": ["kernel.py"]}]
    code, out, _ = run_cli("status", "--stack", str(ms.stack))
    assert code == 3
    assert "1 touch the stack's files" in out and f"{touching[:12]} Add kernel header" in out
    assert _rebuild(run_cli, ms)["reused"] == []
    assert _status(run_cli, ms)[0] == 0


def test_force_pushed_pr_reuses_the_prefix_before_it(tmp_path: Path, upstream: Upstream, run_cli) -> None:
    ms = _built(tmp_path, upstream, run_cli)
    before = ms.commits()
    ms.force_push(3)
    code, status = _status(run_cli, ms)
    assert code == 3
    assert [_pr(status, n)["state"] for n in (1, 2, 3)] == ["unchanged", "unchanged", "force-pushed"]
    assert status["reasons"] == ["#3 was force-pushed"]
    report = _rebuild(run_cli, ms)
    assert report["reused"] == [1, 2]
    assert [s["status"] for s in report["steps"]] == ["reused", "reused", "applied"]
    after = ms.commits()
    assert after[1] == before[1] and after[2] == before[2] and after[3] != before[3]
    assert _status(run_cli, ms)[0] == 0


def test_new_commits_on_a_pr_are_told_apart_from_a_force_push(tmp_path: Path, upstream: Upstream, run_cli) -> None:
    ms = _built(tmp_path, upstream, run_cli)
    ms.add_commit_to(2)
    code, status = _status(run_cli, ms)
    assert code == 3
    assert _pr(status, 2)["state"] == "new commits" and _pr(status, 2)["new_commits"] == 1
    assert status["reasons"] == ["#2 has 1 new commit(s)"]
    assert _rebuild(run_cli, ms)["reused"] == [1]
    assert _status(run_cli, ms)[0] == 0


def test_pr_squash_merged_upstream_is_contained(tmp_path: Path, upstream: Upstream, run_cli) -> None:
    ms = _built(tmp_path, upstream, run_cli)
    merged = ms.squash_merge(1)
    code, status = _status(run_cli, ms)
    assert code == 3
    assert _pr(status, 1)["contained"] and not _pr(status, 1)["was_contained"]
    assert not _pr(status, 2)["contained"]
    assert "#1 is now contained in main (merged or superseded upstream; drop it from stack.yaml)" in status["reasons"]
    assert status["base"]["touching"] == [{"sha": merged, "subject": "pr 1 (#1)", "files": ["kernel.py"]}]
    report = _rebuild(run_cli, ms)
    assert [s["outcome"] for s in report["steps"]] == ["already-applied", "applied", "applied"]
    code, status = _status(run_cli, ms)
    assert code == 0 and _pr(status, 1)["was_contained"]  # still contained, but nothing new
    # and the already-applied step is reused from the lock: the next build is a no-op
    assert _rebuild(run_cli, ms)["unchanged"] is True


def test_pr_merged_by_fast_forward_is_contained(tmp_path: Path, upstream: Upstream, run_cli) -> None:
    ms = _built(tmp_path, upstream, run_cli)
    upstream.commit({}, "Merge #2", parent=ms.heads[2])
    code, status = _status(run_cli, ms)
    assert code == 3 and _pr(status, 2)["contained"]


def test_resolution_change_needs_a_rebuild(tmp_path: Path, upstream: Upstream, run_cli) -> None:
    ms = moving_stack(tmp_path, upstream)
    helpers = ms.dir / "resolutions" / "_shared.py"
    helpers.parent.mkdir()
    helpers.write_text("MARGIN = 1\n")
    assert run_cli("build", "--stack", str(ms.stack))[0] == 0
    assert _status(run_cli, ms)[0] == 0
    helpers.write_text("MARGIN = 2\n")
    code, status = _status(run_cli, ms)
    assert code == 3 and status["resolutions_changed"]
    assert any(r.startswith("resolutions changed since the lock") for r in status["reasons"])
    assert _rebuild(run_cli, ms)["reused"] == []  # every step's input key holds the resolutions digest
    assert _status(run_cli, ms)[0] == 0


def test_stack_yaml_edits_need_a_rebuild(tmp_path: Path, upstream: Upstream, run_cli) -> None:
    ms = _built(tmp_path, upstream, run_cli)
    write_stack(ms.dir, upstream.path, [{"number": 2}, {"number": 1}])
    code, status = _status(run_cli, ms)
    assert code == 3
    assert status["removed"] == [3] and status["reordered"]


def test_offline_status_uses_what_was_fetched(tmp_path: Path, upstream: Upstream, run_cli) -> None:
    ms = _built(tmp_path, upstream, run_cli)
    ms.force_push(2)
    assert _status(run_cli, ms, "--offline")[0] == 0  # not fetched yet: as far as it knows, current
    assert _status(run_cli, ms)[0] == 3
    assert _status(run_cli, ms, "--offline")[0] == 3


def test_never_built_needs_a_build(tmp_path: Path, upstream: Upstream, run_cli) -> None:
    ms = moving_stack(tmp_path, upstream)
    code, status = _status(run_cli, ms)
    assert code == 3 and status["reasons"] == ["never built: no stack.lock"]
    assert branch_head(ms.work) is None


def test_unreachable_upstream_is_one_line_exit_2(tmp_path: Path, upstream: Upstream, run_cli) -> None:
    ms = _built(tmp_path, upstream, run_cli)
    code, out, err = run_cli("status", "--stack", str(ms.stack), "--upstream", str(tmp_path / "nowhere.git"))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "cannot reach upstream" in err


def test_included_pr_squash_merged_upstream_is_contained(tmp_path: Path, upstream: Upstream, run_cli) -> None:
    base = upstream.commit({"kernel.py": "def launch(grid, block):\n    return (grid, block)\n"}, "initial")
    split = {"kernel.py": "def launch(grid, block, splits=1):\n    return (grid, block)\n"}
    split_head = upstream.pr(10, split, "split-kv", base)
    upstream.pr(20, {"paged.py": "PAGE = 16\n"}, "paged on split", split_head)
    stack = write_stack(tmp_path / "s", upstream.path, [{"number": 20, "includes": [10]}])
    assert run_cli("build", "--stack", str(stack))[0] == 0
    upstream.commit(split, "Split KV (#10)")
    code, out, _ = run_cli("status", "--stack", str(stack), "--json")
    status = json.loads(out)
    assert code == 3
    assert _pr(status, 10)["included_in"] == 20 and _pr(status, 10)["contained"]
    assert not _pr(status, 20)["contained"]
    assert "#10 (in #20) is now contained in main (merged or superseded upstream; drop it from stack.yaml)" \
        in status["reasons"]


def test_a_changed_patch_needs_a_rebuild(tmp_path: Path, upstream: Upstream, run_cli) -> None:
    ms = moving_stack(tmp_path, upstream)
    (ms.dir / "patches").mkdir()
    patch = ms.dir / "patches" / "readme.diff"
    patch.write_text("--- a/README\n+++ b/README\n@@ -1 +1 @@\n-hello\n+hello, bundled\n")
    ms.stack.write_text(ms.stack.read_text() + "patches:\n  - file: patches/readme.diff\n")
    assert run_cli("build", "--stack", str(ms.stack))[0] == 0
    assert _status(run_cli, ms)[0] == 0
    patch.write_text("--- a/README\n+++ b/README\n@@ -1 +1 @@\n-hello\n+hello, patched again\n")
    code, status = _status(run_cli, ms)
    assert code == 3 and status["patches"] == {"patches/readme.diff": "changed"}
    assert status["reasons"] == ["patch patches/readme.diff was changed since the lock"]


def test_changed_resolution_files_are_named_from_the_stacks_history(tmp_path: Path, upstream: Upstream,
                                                                     run_cli) -> None:
    ms = moving_stack(tmp_path, upstream)
    recorded = ms.dir / "resolutions" / "recorded"
    recorded.mkdir(parents=True)
    (ms.dir / "resolutions" / "_shared.py").write_text("MARGIN = 1\n")
    assert run_cli("build", "--stack", str(ms.stack))[0] == 0
    git(ms.dir, "init", "-q")
    git(ms.dir, "add", "stack.yaml", "stack.lock", "resolutions")
    git(ms.dir, "-c", "user.name=M", "-c", "user.email=m@x", "commit", "-q", "-m", "bundle")
    (ms.dir / "resolutions" / "_shared.py").write_text("MARGIN = 2\n")
    code, status = _status(run_cli, ms)
    assert code == 3 and status["resolution_files"] == ["resolutions/_shared.py"]
    assert "resolutions changed since the lock: resolutions/_shared.py" in status["reasons"]

"""Incremental and no-op rebuilds: reused steps are exactly the commits a full rebuild makes."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from tests.gitrepos import Upstream, branch_head, git, write_stack
from tests.moving import moving_stack


def _build(run_cli, stack: Path, *extra: str) -> dict:
    code, out, err = run_cli("build", "--stack", str(stack), "--json", *extra)
    assert code == 0, out + err
    return json.loads(out)


def test_nothing_moved_is_a_noop_that_says_so(tmp_path: Path, upstream: Upstream, run_cli) -> None:
    ms = moving_stack(tmp_path, upstream, verify="echo ran >> {stack}.runs")
    runs = ms.dir / "stack.yaml.runs"
    first = _build(run_cli, ms.stack)
    lock_bytes = (ms.dir / "stack.lock").read_bytes()
    reflog = git(ms.work / "repo.git", "reflog", "show", "--format=%H", "refs/heads/bundle/test-bundle")
    assert runs.read_text() == "ran\n"

    code, out, err = run_cli("build", "--stack", str(ms.stack))
    assert code == 0, out + err
    assert "unchanged bundle/test-bundle" in out and "(3 of 3 steps reused); nothing republished" in out
    report = ms.report()
    assert report["unchanged"] is True and report["reused"] == [1, 2, 3]
    assert report["head"] == first["head"] == branch_head(ms.work)
    assert [v["cached"] for v in report["verify"]] == [True]
    assert runs.read_text() == "ran\n"  # the check was not run again on the unchanged bundle
    assert (ms.dir / "stack.lock").read_bytes() == lock_bytes
    assert git(ms.work / "repo.git", "reflog", "show", "--format=%H", "refs/heads/bundle/test-bundle") == reflog
    assert "**Status: unchanged**" in (ms.work / "BUNDLE.md").read_text()


def test_an_edited_check_runs_again_on_an_unchanged_bundle(tmp_path: Path, upstream: Upstream, run_cli) -> None:
    ms = moving_stack(tmp_path, upstream, verify="echo ran >> {stack}.runs")
    _build(run_cli, ms.stack)
    text = ms.stack.read_text().replace("echo ran", "echo again")
    ms.stack.write_text(text)
    report = _build(run_cli, ms.stack)
    assert report["unchanged"] is True and [v["cached"] for v in report["verify"]] == [False]
    assert (ms.dir / "stack.yaml.runs").read_text() == "ran\nagain\n"


def test_a_check_skipped_at_publish_runs_on_the_next_build(tmp_path: Path, upstream: Upstream, run_cli) -> None:
    ms = moving_stack(tmp_path, upstream, verify="echo ran >> {stack}.runs")
    _build(run_cli, ms.stack, "--skip-verify", "check")
    assert not (ms.dir / "stack.yaml.runs").exists()
    report = _build(run_cli, ms.stack)
    assert report["unchanged"] is True and [v["cached"] for v in report["verify"]] == [False]
    assert (ms.dir / "stack.yaml.runs").read_text() == "ran\n"


def test_incremental_rebuild_gives_the_shas_of_a_full_rebuild(tmp_path: Path, upstream: Upstream, run_cli) -> None:
    ms = moving_stack(tmp_path, upstream)
    first = _build(run_cli, ms.stack)
    ms.force_push(2)
    incremental = _build(run_cli, ms.stack)
    assert incremental["reused"] == [1]
    assert incremental["steps"][0]["commit"] == first["steps"][0]["commit"]
    fresh = write_stack(tmp_path / "fresh", upstream.path, [{"number": n} for n in (1, 2, 3)])
    full = _build(run_cli, fresh)
    assert full["reused"] == []
    assert full["head"] == incremental["head"]
    assert [s["commit"] for s in full["steps"]] == [s["commit"] for s in incremental["steps"]]
    # --full in the same work dir applies every step and lands on the same commit: nothing to publish
    again = _build(run_cli, ms.stack, "--full")
    assert again["reused"] == [] and again["head"] == incremental["head"]


def test_a_retitled_pr_is_applied_again(tmp_path: Path, upstream: Upstream, run_cli) -> None:
    """The title is in the commit message but not in the input key: reuse checks the message too."""
    ms = moving_stack(tmp_path, upstream)
    _build(run_cli, ms.stack)
    write_stack(ms.dir, upstream.path, [{"number": 1}, {"number": 2, "title": "Dropout"}, {"number": 3}])
    report = _build(run_cli, ms.stack)
    assert report["reused"] == [1]
    fresh = write_stack(tmp_path / "fresh", upstream.path, [{"number": 1}, {"number": 2, "title": "Dropout"},
                                                            {"number": 3}])
    assert _build(run_cli, fresh)["head"] == report["head"]


def test_a_lock_that_does_not_describe_the_branch_is_not_trusted(tmp_path: Path, upstream: Upstream, run_cli) -> None:
    ms = moving_stack(tmp_path, upstream)
    first = _build(run_cli, ms.stack)
    (ms.dir / "stack.lock").unlink()
    report = _build(run_cli, ms.stack)
    assert report["reused"] == [] and report["head"] == first["head"]
    lock = json.loads((ms.dir / "stack.lock").read_text())
    lock["prs"][0]["head"] = lock["prs"][1]["head"]  # a lock edited by hand no longer matches the commits
    (ms.dir / "stack.lock").write_text(json.dumps(lock))
    assert _build(run_cli, ms.stack)["reused"] == []


def test_dropping_an_already_applied_pr_does_not_reuse_steps_that_saw_it(tmp_path: Path, upstream: Upstream,
                                                                          run_cli) -> None:
    """Which PRs are present decides which transforms run, so it is part of what a step is reused by."""
    ms = moving_stack(tmp_path, upstream)
    ms.squash_merge(1)
    assert [s["outcome"] for s in _build(run_cli, ms.stack)["steps"]] == ["already-applied", "applied", "applied"]
    write_stack(ms.dir, upstream.path, [{"number": 2}, {"number": 3}])
    report = _build(run_cli, ms.stack)
    assert report["reused"] == []


KERNEL = textwrap.dedent("""\
    def launch(q):
        return run(
            q,
            block=128,
        )
    """)

KEEP_BOTH = textwrap.dedent('''\
    from stacker.resolution import Resolution


    class LaunchKwargsBoth(Resolution):
        id = "launch-kwargs-both"
        title = "Both PRs add launch kwargs"
        kind = "minor"
        prs = (1, 2)
        location = "kernel.py::launch"
        sides = {"#1": "adds paged=True", "#2": "adds dropout=p"}
        resolution = "keep both, #1's first"
        backport = "none needed"

        def claim(self, conflict):
            if "paged" in conflict.hunk.ours and "dropout" in conflict.hunk.theirs:
                return conflict.hunk.ours + conflict.hunk.theirs
            return None
    ''')


def test_reused_steps_keep_their_resolutions_in_the_report(tmp_path: Path, upstream: Upstream, run_cli) -> None:
    base = upstream.commit({"kernel.py": KERNEL}, "initial")
    upstream.pr(1, {"kernel.py": KERNEL.replace("block=128,\n", "block=128,\n        paged=True,\n")}, "paged", base)
    upstream.pr(2, {"kernel.py": KERNEL.replace("block=128,\n", "block=128,\n        dropout=0.1,\n")}, "dropout", base)
    upstream.pr(3, {"sparse.py": "MASK = 1\n"}, "sparse", base)
    stack = write_stack(tmp_path / "s", upstream.path, [{"number": 1}, {"number": 2}, {"number": 3}])
    (tmp_path / "s" / "resolutions").mkdir()
    (tmp_path / "s" / "resolutions" / "kwargs.py").write_text(KEEP_BOTH)
    first = _build(run_cli, stack)
    assert first["steps"][1]["resolved"][0]["resolution"] == "launch-kwargs-both"
    upstream.pr(3, {"sparse.py": "MASK = 2\n"}, "sparse, revised", base)
    report = _build(run_cli, stack)
    assert report["reused"] == [1, 2]
    step2 = report["steps"][1]
    assert step2["status"] == "reused" and step2["resolutions"] == ["launch-kwargs-both"]
    assert step2["resolved"] == first["steps"][1]["resolved"]  # carried from the build that made the commit
    resolution = next(r for r in report["resolutions"] if r["id"] == "launch-kwargs-both")
    assert resolution["status"] == "applied" and resolution["step"] == 2
    markdown = (tmp_path / "s" / ".stacker" / "BUNDLE.md").read_text()
    assert "| 2 | #2 | reused |" in markdown and "launch-kwargs-both" in markdown


def _with_patches(ms, upstream: Upstream, directory: Path) -> Path:
    """The moving stack with two patches of the maintainer's: one after #1, one after the last PR."""
    (directory / "patches").mkdir(parents=True, exist_ok=True)
    (directory / "patches" / "readme.diff").write_text(
        "--- a/README\n+++ b/README\n@@ -1 +1 @@\n-hello\n+hello, bundled\n")
    (directory / "patches" / "notes.diff").write_text(
        "--- /dev/null\n+++ b/NOTES\n@@ -0,0 +1 @@\n+bundle notes\n")
    text = write_stack(directory, upstream.path, [{"number": n} for n in (1, 2, 3)]).read_text()
    text += "patches:\n  - file: patches/readme.diff\n    after: 1\n  - file: patches/notes.diff\n"
    (directory / "stack.yaml").write_text(text)
    return directory / "stack.yaml"


def test_reuse_walks_over_the_stacks_own_patches(tmp_path: Path, upstream: Upstream, run_cli) -> None:
    ms = moving_stack(tmp_path, upstream)
    stack = _with_patches(ms, upstream, ms.dir)
    first = _build(run_cli, stack)
    assert [s["kind"] for s in first["steps"]] == ["pr", "patch", "pr", "pr", "patch"]
    noop = _build(run_cli, stack)
    assert noop["unchanged"] is True and noop["reused"] == [1, 2, 3]  # patches are applied again: same commits
    ms.force_push(3)
    incremental = _build(run_cli, stack)
    assert incremental["reused"] == [1, 2]
    assert [s["commit"] for s in incremental["steps"][:3]] == [s["commit"] for s in first["steps"][:3]]
    fresh = _with_patches(ms, upstream, tmp_path / "fresh")
    assert _build(run_cli, fresh)["head"] == incremental["head"]

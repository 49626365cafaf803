"""The stack's own patches: placed after their PR, one commit each with trailers, 3-way or exact,
already-applied when the bundle has them, a stop naming the hunk when they no longer apply."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from tests.gitrepos import Upstream, branch_head, bundle_log, git

KERNEL = "".join(f"line {i}\n" for i in range(1, 21))
BASE_FILES = {"kernel.py": KERNEL, "interface.py": "def attention(q, k, v):\n    return q\n", "README": "hello\n"}


def _replace(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new, 1)


def write_patch_stack(directory: Path, upstream: Path, prs: list[int], patches: list[dict]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    lines = ["name: test-bundle", f"upstream: {upstream}", "prs:"]
    lines += [f"  - number: {n}" for n in prs]
    if patches:
        lines.append("patches:")
        for p in patches:
            lines.append(f"  - file: {p['file']}")
            if "after" in p:
                lines.append(f"    after: {p['after']}")
    path = directory / "stack.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def format_patch(upstream: Upstream, files: dict[str, str | None], message: str, parent: str) -> str:
    """A `git format-patch` mail of one commit made on `parent` (outside every fetched ref)."""
    sha = upstream.commit(files, message, parent=parent, ref=None)
    return git(upstream.path, "format-patch", "-1", "--stdout", sha) + "\n"


def _commit_message(work: Path, rev: str) -> str:
    return git(work / "repo.git", "log", "-1", "--format=%B", rev)


@pytest.fixture
def two_prs(upstream: Upstream) -> str:
    base = upstream.commit(BASE_FILES, "initial")
    upstream.pr(1, {"kernel.py": _replace(KERNEL, "line 2\n", "line 2 paged\n")}, "paged", base)
    upstream.pr(2, {"interface.py": "def attention(q, k, v, dropout=0.0):\n    return q\n"}, "dropout", base)
    return base


def test_patch_after_first_of_two_prs_is_its_own_commit(tmp_path: Path, upstream: Upstream, two_prs: str,
                                                         run_cli) -> None:
    stack_dir = tmp_path / "s"
    (stack_dir / "patches").mkdir(parents=True)
    mail = format_patch(upstream, {"README": "hello, patched\n"}, "Fix the greeting\n\nA backport.", two_prs)
    (stack_dir / "patches" / "greeting.patch").write_text(mail)
    (stack_dir / "patches" / "later.diff").write_text(
        "Tidy the interface.\n\n--- a/interface.py\n+++ b/interface.py\n@@ -1,2 +1,2 @@\n"
        " def attention(q, k, v, dropout=0.0):\n-    return q\n+    return q  # unchanged\n")
    stack = write_patch_stack(stack_dir, upstream.path, [1, 2],
                              [{"file": "patches/greeting.patch", "after": 1}, {"file": "patches/later.diff"}])
    code, out, err = run_cli("build", "--stack", str(stack))
    assert code == 0, out + err
    work = stack_dir / ".stacker"
    assert bundle_log(work) == ["initial", "Apply PR #1: paged", "Fix the greeting", "Apply PR #2: dropout",
                                "Apply patch patches/later.diff"]
    message = _commit_message(work, "refs/heads/bundle/test-bundle~2")
    digest = hashlib.sha256((stack_dir / "patches" / "greeting.patch").read_bytes()).hexdigest()
    assert "Stacker-Patch: patches/greeting.patch" in message
    assert f"Stacker-Patch-Sha256: {digest}" in message
    assert "A backport." in message and "(3-way)" in message
    author = git(work / "repo.git", "log", "-1", "--format=%an <%ae>", "refs/heads/bundle/test-bundle~2")
    assert author == "Ada Author <ada@example.com>"  # the patch's From:
    last = _commit_message(work, "refs/heads/bundle/test-bundle")
    assert "Tidy the interface." in last and "(exact)" in last
    # the patch's diff and nothing else is in its commit
    diff = git(work / "repo.git", "diff", "--name-only", "refs/heads/bundle/test-bundle~3",
               "refs/heads/bundle/test-bundle~2")
    assert diff.splitlines() == ["README"]
    steps = json.loads((work / "bundle.json").read_text())["steps"]
    assert [(s["kind"], s["status"]) for s in steps] == [("pr", "applied"), ("patch", "applied"), ("pr", "applied"),
                                                          ("patch", "applied")]
    assert steps[1]["patch"]["mode"] == "3-way" and steps[3]["patch"]["mode"] == "exact"
    lock = json.loads((stack_dir / "stack.lock").read_text())
    assert [p["file"] for p in lock["patches"]] == ["patches/greeting.patch", "patches/later.diff"]
    # rebuilding gives the same commits, and --locked accepts the unchanged patches
    published = branch_head(work)
    assert run_cli("build", "--stack", str(stack))[0] == 0
    assert branch_head(work) == published
    assert run_cli("build", "--stack", str(stack), "--locked")[0] == 0
    assert branch_head(work) == published
    # ... and refuses a patch that changed since stack.lock
    (stack_dir / "patches" / "later.diff").write_text((stack_dir / "patches" / "later.diff").read_text() + "\n")
    code, _, err = run_cli("build", "--stack", str(stack), "--locked")
    assert code == 2 and "stack.yaml:9: patch 'patches/later.diff' changed since stack.lock" in err


def test_several_patches_after_one_pr_keep_listed_order(tmp_path: Path, upstream: Upstream, two_prs: str,
                                                        run_cli) -> None:
    stack_dir = tmp_path / "s"
    (stack_dir / "p").mkdir(parents=True)
    for name, text in (("b.patch", "hello, b\n"), ("a.patch", "hello, a\n")):
        (stack_dir / "p" / name).write_text(format_patch(upstream, {f"{name}.txt": text}, f"Add {name}", two_prs))
    stack = write_patch_stack(stack_dir, upstream.path, [1, 2],
                              [{"file": "p/b.patch", "after": 1}, {"file": "p/a.patch", "after": 1}])
    assert run_cli("build", "--stack", str(stack))[0] == 0
    assert bundle_log(stack_dir / ".stacker")[1:] == ["Apply PR #1: paged", "Add b.patch", "Add a.patch",
                                                      "Apply PR #2: dropout"]


def test_three_way_patch_merges_where_exact_context_no_longer_matches(tmp_path: Path, upstream: Upstream,
                                                                      run_cli) -> None:
    base = upstream.commit(BASE_FILES, "initial")
    # PR #1 edits line 6, inside the patch's context (lines 6-12 around line 9): exact apply would fail
    upstream.pr(1, {"kernel.py": _replace(KERNEL, "line 6\n", "line 6 changed by the PR\n")}, "edit six", base)
    stack_dir = tmp_path / "s"
    (stack_dir / "patches").mkdir(parents=True)
    (stack_dir / "patches" / "nine.patch").write_text(
        format_patch(upstream, {"kernel.py": _replace(KERNEL, "line 9\n", "line 9 patched\n")}, "Patch nine", base))
    stack = write_patch_stack(stack_dir, upstream.path, [1], [{"file": "patches/nine.patch"}])
    code, out, err = run_cli("build", "--stack", str(stack))
    assert code == 0, out + err
    kernel = git(stack_dir / ".stacker" / "repo.git", "show", "refs/heads/bundle/test-bundle:kernel.py")
    assert "line 6 changed by the PR" in kernel and "line 9 patched" in kernel


def test_stale_patch_is_already_applied_and_can_be_dropped(tmp_path: Path, upstream: Upstream, two_prs: str,
                                                           run_cli) -> None:
    stack_dir = tmp_path / "s"
    (stack_dir / "patches").mkdir(parents=True)
    mail = format_patch(upstream, {"README": "hello, fixed\n"}, "Fix README", two_prs)
    (stack_dir / "patches" / "readme.patch").write_text(mail)
    # the same fix as a plain diff without index lines: exact mode
    (stack_dir / "patches" / "readme.diff").write_text(
        "--- a/README\n+++ b/README\n@@ -1 +1 @@\n-hello\n+hello, fixed\n")
    upstream.commit({"README": "hello, fixed\n"}, "upstream fixes README too")  # main now has the change
    stack = write_patch_stack(stack_dir, upstream.path, [1, 2],
                              [{"file": "patches/readme.patch"}, {"file": "patches/readme.diff"}])
    code, out, err = run_cli("build", "--stack", str(stack))
    assert code == 0, out + err
    work = stack_dir / ".stacker"
    steps = json.loads((work / "bundle.json").read_text())["steps"]
    assert [s["status"] for s in steps] == ["applied", "applied", "already-applied", "already-applied"]
    assert [s["patch"]["mode"] for s in steps[2:]] == ["3-way", "exact"]
    assert bundle_log(work)[-2:] == ["Apply PR #1: paged", "Apply PR #2: dropout"]  # no commit for either
    assert "the patch can be dropped" in out
    md = (work / "BUNDLE.md").read_text()
    assert "patch `patches/readme.patch` (stack.yaml:7): already in the bundle — can be dropped" in md
    assert "patch `patches/readme.diff` (stack.yaml:8): already in the bundle — can be dropped" in md


def test_patch_that_no_longer_applies_stops_and_names_the_hunk(tmp_path: Path, upstream: Upstream, two_prs: str,
                                                               run_cli) -> None:
    stack_dir = tmp_path / "s"
    (stack_dir / "patches").mkdir(parents=True)
    (stack_dir / "patches" / "fix.diff").write_text(
        "Fix line twelve.\n\n--- a/kernel.py\n+++ b/kernel.py\n@@ -11,3 +11,3 @@\n line 11\n-line 12\n+line 12 fixed\n"
        " line 13\n")
    stack = write_patch_stack(stack_dir, upstream.path, [1, 2], [{"file": "patches/fix.diff", "after": 1}])
    assert run_cli("build", "--stack", str(stack))[0] == 0
    work = stack_dir / ".stacker"
    published = branch_head(work)
    upstream.commit({"kernel.py": _replace(KERNEL, "line 12\n", "line 12 rewritten upstream\n")},
                    "Rewrite line twelve (#80)")
    code, out, err = run_cli("build", "--stack", str(stack))
    assert code == 1, out + err
    assert branch_head(work) == published
    assert "kernel.py:11-13" in out and "applying patch patches/fix.diff" in out
    assert "hunk #1 @@ -11,3 +11,3 @@ of patches/fix.diff does not apply" in out
    assert "line 12 rewritten upstream" in out  # the bundle's lines ...
    assert "| line 12\n" in out  # ... beside the ones the patch expects
    assert "Rewrite line twelve (#80)" in out  # the commit that made it stale
    report = json.loads((work / "bundle.json").read_text())
    assert report["status"] == "conflict" and report["published"] is False
    conflict = report["steps"][1]["conflicts"][0]
    assert conflict["kind"] == "patch hunk does not apply" and conflict["lines"] == [11, 13]
    assert "Unresolved conflicts in step patch patches/fix.diff" in (work / "BUNDLE.md").read_text()
    assert not (work / "conflict").exists()  # nothing to resolve by hand in a worktree: refresh the patch
    assert not list((work / "repo.git").rglob("*.rej"))  # git apply --reject wrote nothing into stacker's repo


def test_three_way_patch_conflict_stops_with_markers(tmp_path: Path, upstream: Upstream, run_cli) -> None:
    base = upstream.commit(BASE_FILES, "initial")
    upstream.pr(1, {"kernel.py": _replace(KERNEL, "line 9\n", "line 9 by the PR\n")}, "edit nine", base)
    stack_dir = tmp_path / "s"
    (stack_dir / "patches").mkdir(parents=True)
    (stack_dir / "patches" / "nine.patch").write_text(
        format_patch(upstream, {"kernel.py": _replace(KERNEL, "line 9\n", "line 9 patched\n")}, "Patch nine", base))
    stack = write_patch_stack(stack_dir, upstream.path, [1], [{"file": "patches/nine.patch"}])
    code, out, _ = run_cli("build", "--stack", str(stack))
    assert code == 1
    assert branch_head(stack_dir / ".stacker") is None
    conflicted = (stack_dir / ".stacker" / "conflict" / "kernel.py").read_text()
    assert "<<<<<<< bundle" in conflicted and ">>>>>>> patch patches/nine.patch" in conflicted
    assert "line 9 by the PR" in out and "line 9 patched" in out


def test_plan_shows_patches_in_stack_and_overlap_matrix(tmp_path: Path, upstream: Upstream, two_prs: str,
                                                        run_cli) -> None:
    stack_dir = tmp_path / "s"
    (stack_dir / "patches").mkdir(parents=True)
    (stack_dir / "patches" / "two.patch").write_text(
        format_patch(upstream, {"kernel.py": _replace(KERNEL, "line 3\n", "line 3 patched\n")}, "Patch three",
                     two_prs))
    stack = write_patch_stack(stack_dir, upstream.path, [1, 2], [{"file": "patches/two.patch", "after": 1}])
    code, out, err = run_cli("plan", "--stack", str(stack), "--json")
    assert code == 0, err
    plan = json.loads(out)
    assert [s["kind"] for s in plan["steps"]] == ["pr", "patch", "pr"]
    patch = plan["steps"][1]
    assert patch["patch"]["file"] == "patches/two.patch" and patch["patch"]["mode"] == "3-way"
    assert patch["files"] == ["kernel.py"] and patch["added"] == 1 and patch["removed"] == 1
    assert {"a": "#1", "b": "patches/two.patch", "files": ["kernel.py"], "colliding": ["kernel.py"]} in plan["overlaps"]
    code, out, _ = run_cli("plan", "--stack", str(stack), "--offline")
    assert code == 0
    assert "patches/two.patch" in out and "after #1" in out
    assert "likely conflict: #1 × patches/two.patch in kernel.py" in out


@pytest.mark.parametrize("file, content, expected", [
    ("patches/missing.patch", None, "stack.yaml:6: patch 'patches/missing.patch': no such file"),
    ("patches/notes.patch", "just some notes\n", "stack.yaml:6: patch 'patches/notes.patch': no diff found"),
    ("patches/short.patch", "--- a/x\n+++ b/x\n@@ -1,3 +1,3 @@\n a\n-b\n",
     "stack.yaml:6: patch 'patches/short.patch': not a valid unified diff: Hunk is shorter than expected"),
    ("patches", None, "stack.yaml:6: patch 'patches': is a directory"),
])
def test_bad_patch_entries_are_one_line_config_errors(tmp_path: Path, upstream: Upstream, run_cli, file: str,
                                                      content: str | None, expected: str) -> None:
    stack_dir = tmp_path / "s"
    (stack_dir / "patches").mkdir(parents=True)
    if content is not None:
        (stack_dir / file).write_text(content)
    stack = write_patch_stack(stack_dir, upstream.path, [1], [{"file": file}])
    code, out, err = run_cli("build", "--stack", str(stack))
    assert code == 2
    assert expected in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


@pytest.mark.parametrize("entries, expected", [
    ("  - file: patches/a.patch\n    after: 7\n", "stack.yaml:7: patch 'after: 7' names no PR of the stack"),
    ("  - after: 1\n", "stack.yaml:6: a 'patches' entry needs 'file'"),
    ("  - file: patches/a.patch\n    colour: red\n", "stack.yaml:7: unknown key 'colour' in a 'patches' entry"),
    ("  - file: patches/a.patch\n  - file: patches/a.patch\n",
     "stack.yaml:7: patch 'patches/a.patch' is listed twice (first at line 6)"),
])
def test_bad_patch_keys_are_one_line_config_errors(tmp_path: Path, run_cli, entries: str, expected: str) -> None:
    stack_dir = tmp_path / "s"
    (stack_dir / "patches").mkdir(parents=True)
    (stack_dir / "patches" / "a.patch").write_text("--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n")
    (stack_dir / "stack.yaml").write_text(f"name: t\nupstream: x\nprs:\n  - number: 1\npatches:\n{entries}")
    code, _, err = run_cli("plan", "--stack", str(stack_dir / "stack.yaml"))
    assert code == 2
    assert expected in err and len(err.strip().splitlines()) == 1


def test_three_way_patch_conflict_is_recorded_and_replayed_like_a_prs(tmp_path: Path, upstream: Upstream,
                                                                       run_cli) -> None:
    base = upstream.commit(BASE_FILES, "initial")
    upstream.pr(1, {"kernel.py": _replace(KERNEL, "line 9\n", "line 9 by the PR\n")}, "edit nine", base)
    stack_dir = tmp_path / "s"
    (stack_dir / "patches").mkdir(parents=True)
    (stack_dir / "resolutions").mkdir()
    (stack_dir / "patches" / "nine.patch").write_text(
        format_patch(upstream, {"kernel.py": _replace(KERNEL, "line 9\n", "line 9 patched\n")}, "Patch nine", base))
    stack = write_patch_stack(stack_dir, upstream.path, [1], [{"file": "patches/nine.patch"}])
    assert run_cli("build", "--stack", str(stack))[0] == 1
    conflicted = stack_dir / ".stacker" / "conflict" / "kernel.py"
    text = conflicted.read_text()
    start, end = text.index("<<<<<<<"), text.index(">>>>>>>")
    conflicted.write_text(text[:start] + "line 9 by the PR, patched\n" + text[text.index("\n", end) + 1:])
    code, out, err = run_cli("resolve", "--stack", str(stack))
    assert code == 0, out + err
    work = stack_dir / ".stacker"
    kernel = git(work / "repo.git", "show", "refs/heads/bundle/test-bundle:kernel.py")
    assert "line 9 by the PR, patched\n" in kernel + "\n"
    assert "Conflicts resolved: 1 by recorded." in _commit_message(work, "refs/heads/bundle/test-bundle")


def test_patch_whose_preimages_stacker_lacks_applies_exactly(tmp_path: Path, upstream: Upstream, two_prs: str,
                                                             run_cli) -> None:
    # the maintainer made the patch on a private commit upstream never published: its preimage
    # blob of README is unknown to stacker, so the index lines cannot be used
    private = upstream.commit({"README": "hello\nprivate notes\n"}, "private", parent=two_prs, ref=None)
    mail = format_patch(upstream, {"README": "hello, patched\nprivate notes\n"}, "Patch the greeting", private)
    stack_dir = tmp_path / "s"
    (stack_dir / "patches").mkdir(parents=True)
    (stack_dir / "patches" / "greet.patch").write_text(mail)
    stack = write_patch_stack(stack_dir, upstream.path, [1, 2], [{"file": "patches/greet.patch"}])
    code, out, err = run_cli("plan", "--stack", str(stack), "--json")
    assert code == 0, err
    patch = json.loads(out)["steps"][2]["patch"]
    assert patch["mode"] == "exact" and "is not in stacker's repository" in patch["mode_reason"]
    code, out, err = run_cli("build", "--stack", str(stack))
    assert code == 1  # its context line "private notes" is not in the bundle: exact apply refuses
    assert "hunk #1 @@ -1,2 +1,2 @@ of patches/greet.patch does not apply" in out

"""`stacker build --advance`: the newest base the stack builds on, and the upstream commit that breaks it."""

from __future__ import annotations

import json
from pathlib import Path

from tests.gitrepos import Upstream, branch_head, git
from tests.moving import MovingStack, moving_stack

# Upstream's own edit of the line PR #2 changes: applying #2 on top of it conflicts.
UPSTREAM_SCALE = "def attention(q, k, v, scale=None):\n    out = q\n    return out\n"


def _advance(run_cli, ms: MovingStack) -> tuple[int, dict]:
    code, out, err = run_cli("build", "--stack", str(ms.stack), "--advance", "--json")
    assert err == "", err
    return code, json.loads(out)


def _history(ms: MovingStack, breaking: dict[str, str], at: int, count: int = 6) -> tuple[list[str], str]:
    """`count` upstream commits after the locked base; the one at index `at` carries `breaking`."""
    commits = []
    for i in range(count):
        files = breaking if i == at else {f"notes/{i}.md": f"note {i}\n"}
        commits.append(ms.upstream.commit(files, f"Upstream change {i}" + (" (breaks it)" if i == at else "")))
    return commits, commits[at]


def test_advance_publishes_the_last_good_base_and_names_the_breaking_commit(tmp_path: Path, upstream: Upstream,
                                                                            run_cli) -> None:
    ms = moving_stack(tmp_path, upstream)
    assert run_cli("build", "--stack", str(ms.stack))[0] == 0
    commits, bad = _history(ms, {"interface.py": UPSTREAM_SCALE}, at=3)

    code, report = _advance(run_cli, ms)
    assert code == 4
    advance = report["advance"]
    assert advance["built_on"] == commits[2] and advance["fell_back"] and advance["behind"] == 3
    assert advance["first_bad"]["sha"] == bad
    assert advance["first_bad"]["subject"] == "Upstream change 3 (breaks it)"
    assert advance["first_bad"]["files"] == ["interface.py"]
    breakage = advance["breakage"]
    assert breakage["status"] == "conflict" and breakage["step"] == 2
    assert [c["path"] for c in breakage["conflicts"]] == ["interface.py"]
    assert "scale=None" in breakage["conflicts"][0]["ours"] and "dropout_p" in breakage["conflicts"][0]["theirs"]
    assert len(advance["probes"]) <= 4  # main, then a bisection over 6 first-parent commits

    # published on the good base, and the lock says so (its base name is still main's)
    assert report["published"] and report["base"]["sha"] == commits[2]
    lock = json.loads((ms.dir / "stack.lock").read_text())
    assert lock["base"] == commits[2] and lock["base_name"] == "main"
    assert git(ms.work / "repo.git", "rev-parse", f"{branch_head(ms.work)}~3") == commits[2]

    markdown = (ms.work / "BUNDLE.md").read_text()
    assert "## Manual merge needed" in markdown
    assert f"{bad[:12]} Upstream change 3 (breaks it)" in markdown
    assert "`interface.py` lines" in markdown and "a file this commit changes" in markdown
    # the breaking conflict is kept for `stacker resolve`, which would rebuild on exactly that commit
    assert "<<<<<<< bundle" in (ms.work / "conflict" / "interface.py").read_text()
    state = json.loads((ms.work / "conflict.json").read_text())
    assert state["step_pr"] == 2 and state["build_options"]["base"] == bad

    # the bundle is behind main now: status says a rebuild is needed
    assert run_cli("status", "--stack", str(ms.stack))[0] == 3


def test_advance_catches_a_base_that_applies_cleanly_but_fails_a_check(tmp_path: Path, upstream: Upstream,
                                                                       run_cli) -> None:
    ms = moving_stack(tmp_path, upstream, verify="test ! -e broken.flag")
    assert run_cli("build", "--stack", str(ms.stack))[0] == 0
    commits, bad = _history(ms, {"broken.flag": "x\n"}, at=1, count=4)
    code, report = _advance(run_cli, ms)
    assert code == 4
    advance = report["advance"]
    assert advance["built_on"] == commits[0] and advance["first_bad"]["sha"] == bad
    assert advance["breakage"]["status"] == "verify-failed"
    assert [v["name"] for v in advance["breakage"]["verify"]] == ["check"]
    assert "a check fails" in (ms.work / "BUNDLE.md").read_text()


def test_advance_on_a_main_that_builds_is_a_plain_build(tmp_path: Path, upstream: Upstream, run_cli) -> None:
    ms = moving_stack(tmp_path, upstream)
    assert run_cli("build", "--stack", str(ms.stack))[0] == 0
    main = ms.unrelated_commit()
    code, report = _advance(run_cli, ms)
    assert code == 0
    assert report["advance"]["built_on"] == main and not report["advance"]["fell_back"]
    assert report["advance"]["probes"] == [{"base": main, "status": "ok", "stopped_at": None}]


def test_advance_when_the_locked_base_breaks_too_publishes_nothing(tmp_path: Path, upstream: Upstream,
                                                                   run_cli) -> None:
    ms = moving_stack(tmp_path, upstream)
    assert run_cli("build", "--stack", str(ms.stack))[0] == 0
    published = branch_head(ms.work)
    _history(ms, {"interface.py": UPSTREAM_SCALE}, at=0, count=2)
    # #3 is rewritten to edit the line #2 edits: it collides with #2 on any base, the locked one too
    ms.upstream.pr(3, {"interface.py": "def attention(q, k, v, mask=None):\n    out = q\n    return out\n"},
                   "pr 3, rewritten", ms.base)
    code, report = _advance(run_cli, ms)
    assert code == 1
    assert report["advance"]["built_on"] is None and "locked base" in report["advance"]["note"]
    assert branch_head(ms.work) == published
    assert "## Nothing builds" in (ms.work / "BUNDLE.md").read_text()


def test_advance_without_a_lock_has_nothing_to_fall_back_to(tmp_path: Path, upstream: Upstream, run_cli) -> None:
    ms = moving_stack(tmp_path, upstream)
    ms.upstream.commit({"interface.py": UPSTREAM_SCALE}, "breaks it")
    code, report = _advance(run_cli, ms)
    assert code == 1 and report["advance"]["note"].startswith("no stack.lock to fall back to")


def test_advance_and_locked_contradict(tmp_path: Path, upstream: Upstream, run_cli) -> None:
    ms = moving_stack(tmp_path, upstream)
    assert run_cli("build", "--stack", str(ms.stack))[0] == 0
    code, out, err = run_cli("build", "--stack", str(ms.stack), "--advance", "--locked")
    assert code == 2 and "--advance moves the base and --locked pins it" in err

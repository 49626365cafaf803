"""The stack's `verify:` commands: run on the bundle tree before publishing; a failure stops the
build, names the first step that breaks the check, and uses the entry's cheaper bisect command."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tests.gitrepos import Upstream, branch_head

CHECK = "import pathlib, sys; sys.exit(1 if 'BAD' in pathlib.Path('{file}').read_text() else 0)"


def _stack(tmp_path: Path, upstream: Upstream, bisect_log: Path) -> Path:
    base = upstream.commit({"a.py": "x = 1\n", "b.py": "y = 1\n", "c.py": "z = 1\n"}, "initial")
    upstream.pr(1, {"a.py": "x = 2\n"}, "one", base)
    upstream.pr(2, {"b.py": "y = 'BAD'\n"}, "two breaks the check", base)
    upstream.pr(3, {"c.py": "z = 3\n"}, "three", base)
    directory = tmp_path / "s"
    directory.mkdir()
    check = CHECK.format(file="b.py")
    (directory / "stack.yaml").write_text(f"""\
name: test-bundle
upstream: {upstream.path}
prs: [1, 2, 3]
verify:
  - name: no-bad
    run: "{sys.executable} -c \\"{check}\\" || (echo 'check failed on b.py'; exit 1)"
    failing: 'check failed on (\\S+)'
    bisect: "echo {{failing}} >> {bisect_log}; {sys.executable} -c \\"{check}\\""
""")
    return directory / "stack.yaml"


def test_failing_check_stops_and_names_the_first_breaking_step(tmp_path: Path, upstream: Upstream,
                                                               run_cli) -> None:
    log = tmp_path / "bisect.log"
    stack = _stack(tmp_path, upstream, log)
    code, out, err = run_cli("build", "--stack", str(stack), "--json")
    assert code == 1, err
    report = json.loads(out)
    assert report["status"] == "verify-failed"
    (check,) = report["verify"]
    assert check["ok"] is False and check["summary"] == "check failed on b.py"
    assert check["first_failing_step"] == 2
    assert log.read_text().split() == ["b.py"] * len(log.read_text().split())  # the bisect command ran
    assert branch_head(tmp_path / "s" / ".stacker") is None
    assert "first fails at step #2" in (tmp_path / "s" / ".stacker" / "BUNDLE.md").read_text()


def test_skip_verify_publishes(tmp_path: Path, upstream: Upstream, run_cli) -> None:
    stack = _stack(tmp_path, upstream, tmp_path / "bisect.log")
    code, out, err = run_cli("build", "--stack", str(stack), "--skip-verify", "no-bad")
    assert code == 0, out + err
    assert branch_head(tmp_path / "s" / ".stacker") is not None


def test_bisect_placeholder_without_regex_is_a_config_error(tmp_path: Path, run_cli) -> None:
    (tmp_path / "stack.yaml").write_text("name: x\nupstream: y\nprs: [1]\nverify:\n  - name: v\n    run: 'true'\n"
                                         "    bisect: 'run {failing}'\n")
    code, _, err = run_cli("build", "--stack", str(tmp_path / "stack.yaml"))
    assert code == 2 and "stack.yaml:7: verify 'bisect' uses {failing}" in err

"""stack.yaml mistakes: one line naming stack.yaml:LINE, exit code 2, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from stacker.config import load_stack
from tests.gitrepos import write_stack

GOOD = """\
name: demo
upstream: https://example.invalid/up.git
prs:
  - number: 2348
    title: Paged KV
    includes: [2336]
  - number: 2349
"""


def test_good_stack_parses_with_defaults(tmp_path: Path) -> None:
    stack = load_stack(write_stack(tmp_path, "", GOOD))
    assert stack.name == "demo"
    assert stack.base == "main" and stack.branch == "bundle/demo"
    assert [p.number for p in stack.prs] == [2348, 2349]
    assert stack.prs[0].includes == (2336,) and stack.prs[0].line == 4
    assert stack.pr_numbers == (2336, 2348, 2349)


@pytest.mark.parametrize("text, expected", [
    (GOOD + "colour: blue\n", "stack.yaml:8: unknown key 'colour'"),
    (GOOD + "  - number: 2348\n", "stack.yaml:8: PR #2348 is listed twice (first at line 4)"),
    (GOOD.replace("number: 2349", "number: abc"), "stack.yaml:7: PR 'number' must be an integer, got 'abc'"),
    (GOOD.replace("number: 2349", "number: 23.5"), "stack.yaml:7: PR 'number' must be an integer"),
    ("name: demo\nupstream: x\nprs: []\n", "stack.yaml:3: 'prs' is empty"),
    ("name: demo\nupstream: x\nprs:\n  - number: 1\n   title: [\n", "stack.yaml:5: invalid YAML"),
    ("name: demo\nupstream: x\n", "stack.yaml:1: missing required key 'prs'"),
    ("", "stack.yaml:1: the file is empty"),
    ("- 1\n", "stack.yaml:1: stack.yaml must be a mapping"),
    (GOOD.replace("includes: [2336]", "includes: [2349]"), "stack.yaml:7: PR #2349 is listed twice (first at line 4)"),
    (GOOD.replace("    title: Paged KV\n", "    titel: Paged KV\n"), "stack.yaml:5: unknown key 'titel' in a 'prs' entry"),
    (GOOD + "branch: 'bad..name'\n", "stack.yaml:8: 'branch' 'bad..name' is not a valid git ref name"),
    (GOOD + "base: main\nbase: dev\n", "stack.yaml:9: duplicate key 'base'"),
    (GOOD + "patches:\n  - file: patches/x.patch\n    after: 99\n", "stack.yaml:10: patch 'after: 99' names no PR"),
])
def test_bad_config_is_one_line_with_file_and_line(tmp_path: Path, run_cli, text: str, expected: str) -> None:
    path = write_stack(tmp_path, "", text)
    code, out, err = run_cli("build", "--stack", str(path))
    assert code == 2
    assert expected in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in out + err


def test_missing_stack_file(tmp_path: Path, run_cli) -> None:
    code, _, err = run_cli("build", "--stack", str(tmp_path / "nope.yaml"))
    assert code == 2 and "nope.yaml: no such file" in err


def test_unknown_option_is_a_usage_error_not_a_traceback(run_cli) -> None:
    code, out, err = run_cli("build", "--bogus")
    assert code == 2
    assert "No such option: --bogus" in err and "Traceback" not in out + err

"""Whole-definition claims: they see the file's original three versions (the views are lossy), and
the log counts only the hunks inside the definition they answered for."""

from __future__ import annotations

import textwrap
from pathlib import Path

from stacker.codified import CodifiedLayer
from stacker.filemerge import FileVersions, merge_file
from stacker.pysource import definition_span, source_lines
from stacker.resolution import MergedNode, Resolution
from tests.gitrepos import Upstream, git, write_stack

BASE = textwrap.dedent("""\
    def f(x):
        a = 1
        return a


    def g(x):
        b = 2
        return b
    """)
OURS = BASE.replace("a = 1", "a = 10").replace("b = 2", "b = 20")
THEIRS = BASE.replace("a = 1", "a = 100").replace("b = 2", "b = 200")


class TakeTheirsF(Resolution):
    id = "take-theirs-f"
    title = "f: theirs"
    kind = "minor"
    prs = (1, 2)
    location = "m.py::f"
    sides = {"#1": "a = 10", "#2": "a = 100"}
    resolution = "theirs' f, read from the original file"
    backport = "none"

    def claim(self, conflict):
        if conflict.originals is None:
            return None
        theirs = conflict.originals[2]
        return MergedNode("f", source_lines(theirs, definition_span(theirs, "f")))


def test_a_node_claim_counts_only_the_hunks_inside_its_definition():
    versions = FileVersions("m.py", BASE, OURS, THEIRS)
    layer = CodifiedLayer([TakeTheirsF()], 2, frozenset({1}), {"m.py": versions})
    result = merge_file(versions, [layer])
    assert result.initial_conflicts == 2
    assert not result.is_clean  # g is still in conflict
    [action] = result.actions[-1:]
    assert action.resolution_id == "take-theirs-f" and len(action.hunks) == 1
    assert "a = 100" in result.merged.view("ours") and "b = 20" in result.merged.view("ours")


def test_without_originals_a_claim_that_needs_them_declines():
    versions = FileVersions("m.py", BASE, OURS, THEIRS)
    result = merge_file(versions, [CodifiedLayer([TakeTheirsF()], 2, frozenset({1}))])
    assert len(result.merged.conflicts) == 2


RESOLUTION_FILE = '''
from stacker.pysource import definition_span, source_lines
from stacker.resolution import MergedNode, Resolution


class TakeTheirs(Resolution):
    id = "take-theirs"
    title = "theirs, from the original file"
    kind = "minor"
    prs = (1, 2)
    location = "m.py"
    sides = {"#1": "edits", "#2": "edits"}
    resolution = "theirs"
    backport = "none"

    def claim(self, conflict):
        if conflict.originals is None:
            return None
        theirs = conflict.originals[2]
        return MergedNode(conflict.qualname, source_lines(theirs, definition_span(theirs, conflict.qualname)))
'''


def test_the_build_hands_the_originals_to_claims(tmp_path: Path, upstream: Upstream, run_cli) -> None:
    base = upstream.commit({"m.py": BASE}, "initial")
    upstream.pr(1, {"m.py": OURS}, "ours", base)
    upstream.pr(2, {"m.py": THEIRS}, "theirs", base)
    stack = write_stack(tmp_path / "s", upstream.path, [{"number": 1}, {"number": 2}])
    (tmp_path / "s" / "resolutions").mkdir()
    (tmp_path / "s" / "resolutions" / "take.py").write_text(RESOLUTION_FILE)
    code, out, err = run_cli("build", "--stack", str(stack))
    assert code == 0, out + err
    merged = git(tmp_path / "s" / ".stacker" / "repo.git", "show", "refs/heads/bundle/test-bundle:m.py")
    assert merged.strip() == THEIRS.strip()

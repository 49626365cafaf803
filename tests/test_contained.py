"""The layer that keeps a side whose edit contains the other side's."""

from __future__ import annotations

import textwrap

import pytest

from stacker.contained import ContainedEditLayer, containing_side
from stacker.filemerge import FileVersions, merge_file
from stacker.linemerge import Clean, Conflict, MergedText
from stacker.mergedriver import merge_versions

BASE = textwrap.dedent("""\
    class TestLaunch(TestCase):
        def setUp(self):
            self.q = make_q()
    """)
# both added the marker; ours also moved to pytest's style (no base class, setup_method)
OURS = textwrap.dedent("""\
    @pytest.mark.requires_gpu
    class TestLaunch:
        def setup_method(self):
            self.q = make_q()
    """)
THEIRS = textwrap.dedent("""\
    @pytest.mark.requires_gpu
    class TestLaunch(TestCase):
        def setUp(self):
            self.q = make_q()
    """)


def test_the_side_that_did_everything_the_other_did_and_more_is_kept() -> None:
    result = merge_file(FileVersions("t.py", BASE, OURS, THEIRS), [ContainedEditLayer()])
    assert result.is_clean and result.text == OURS
    assert [a.layer for a in result.actions] == ["contained"]
    swapped = merge_file(FileVersions("t.py", BASE, THEIRS, OURS), [ContainedEditLayer()])
    assert swapped.is_clean and swapped.text == OURS
    assert "kept theirs" in swapped.actions[-1].detail


def test_a_reformat_contained_in_the_other_sides_reformat_and_annotation() -> None:
    base = "def skip(name, minversion=None):\n    return name\n"
    ours = "def skip(\n    name, minversion=None\n):\n    return name\n"
    theirs = "def skip(\n    name: str, minversion: str = None\n) -> str:\n    return name\n"
    assert containing_side(Conflict(base, ours, theirs)) == "theirs"
    # the same annotations, another layout: neither contains the other
    ours = "def skip(name: str,\n         minversion: str = None) -> str:\n    return name\n"
    assert containing_side(Conflict(base, ours, theirs)) is None


@pytest.mark.parametrize(("ours", "theirs"), [
    # two version bumps in one record: their word-level union is a version nobody released
    ("version_info = (7, 2, 0, 'beta', 0)\n", "version_info = (7, 1, 1, 'final', 0)\n"),
    # different edits of one line, far apart
    ("run(q, k, v, causal=True)\n", "run(q, k, v2, causal=False)\n"),
    # one side inserts a line after the line the other rewrote
    ("from unittest import skipIf\nfrom unittest.mock import patch\n", "from warnings import catch_warnings\n"),
])
def test_edits_that_are_not_contained_stay_a_conflict(ours: str, theirs: str) -> None:
    base = {"v": "version_info = (7, 1, 0, 'final', 0)\n", "r": "run(q, k, v, causal=False)\n",
            "f": "from unittest import skipIf\n"}[ours[0]]
    assert containing_side(Conflict(base, ours, theirs)) is None
    result = merge_file(FileVersions("m.py", base, ours, theirs), [ContainedEditLayer()])
    assert not result.is_clean


def test_a_kept_section_that_does_not_parse_in_its_place_stays_a_conflict() -> None:
    # theirs' second hunk closes the bracket theirs opened in the first, which stays a conflict
    merged = MergedText((Conflict("x = [\n", "x = [0,\n", "x = (0,\n"), Clean("    # items\n"),
                         Conflict("    1, 3]\n", "    2, 3]\n", "    2, 3)\n")))
    assert containing_side(merged.conflicts[1]) == "theirs"
    assert ContainedEditLayer().resolve("m.py", merged) is None
    outcome = ContainedEditLayer().resolve("m.txt", merged)  # no parse check outside Python
    assert outcome is not None and len(outcome.actions) == 1


def test_the_merge_driver_runs_the_layer() -> None:
    result = merge_versions(BASE, OURS, THEIRS, "tests/test_launch.py")
    assert result.clean and result.text == OURS
    assert any(note.startswith("contained line 1") for note in result.notes), result.notes

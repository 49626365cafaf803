"""A line base, ours and theirs all hold once cannot vanish from their merge."""

from __future__ import annotations

from stacker.linemerge import Clean, MergedText
from stacker.structural.checks import guard_clean
from stacker.structural.kept_lines import lost_common_line

BASE = (
    "def revision(data):\n"
    "    if data.startswith('10'):\n"
    "        rows = data.split('\\n')\n"
    "        url = rows[3]\n"
    "    elif data.startswith('<?xml'):\n"
    "        url = pattern.search(data).group(1)\n"
    "    return url\n"
)
# ours: the two branches swapped; theirs: one line inside the first one edited
OURS = (
    "def revision(data):\n"
    "    if data.startswith('<?xml'):\n"
    "        url = pattern.search(data).group(1)\n"
    "    else:\n"
    "        rows = data.split('\\n')\n"
    "        url = rows[3]\n"
    "    return url\n"
)
THEIRS = BASE.replace("data.split('\\n')", "list(data.split('\\n'))")
# what a merge that paired the wrong branch's lines wrote: `url = rows[3]` is gone
LOST = OURS.replace("data.split('\\n')", "list(data.split('\\n'))").replace(
    "        url = rows[3]\n", "        url = pattern.search(data).group(1)\n")
RIGHT = OURS.replace("data.split('\\n')", "list(data.split('\\n'))")


def test_a_line_all_three_have_once_must_survive():
    assert lost_common_line(LOST, BASE, OURS, THEIRS) == "lost `url = rows[3]`, a line base, ours and theirs all have"
    assert lost_common_line(RIGHT, BASE, OURS, THEIRS) is None


def test_reindented_lines_are_kept_and_repeated_lines_are_not_checked():
    wrapped = RIGHT.replace("    return url\n", "    if url:\n        return url\n")
    assert lost_common_line(wrapped, BASE, OURS, THEIRS) is None
    # a line each version holds twice: each side may delete a different copy
    base = "f(\n    1,\n)\ng(\n    2,\n)\n"
    ours, theirs = "f(1)\ng(\n    2,\n)\n", "f(\n    1,\n)\ng(2)\n"
    assert lost_common_line("f(1)\ng(2)\n", base, ours, theirs) is None


def test_the_final_check_turns_such_a_clean_merge_into_a_conflict():
    merged, refusal = guard_clean(MergedText((Clean(LOST),)), BASE, OURS, THEIRS, "svn.py", made_by="the merge")
    assert not merged.is_clean
    assert refusal is not None and "lost `url = rows[3]`" in refusal.reason
    merged, refusal = guard_clean(MergedText((Clean(RIGHT),)), BASE, OURS, THEIRS, "svn.py", made_by="the merge")
    assert merged.is_clean and refusal is None

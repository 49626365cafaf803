"""A package one side moved; the other side's new import still uses the old path."""

from __future__ import annotations

from stacker.mergedriver import merge_versions
from stacker.structural.import_paths import PackageMove, package_moves, stale_import_path

BASE = (
    "from __future__ import absolute_import\n"
    "\n"
    "from tool._vendor import six\n"
    "\n"
    "from tool.commands.build import BuildCommand\n"
    "from tool.commands.clean import CleanCommand\n"
    "from tool.utils import display_path\n"
    "\n"
    "commands = [BuildCommand, CleanCommand]\n"
)
# the package moved under `_internal`; the vendored one did not
MOVED = (BASE.replace("from tool.commands", "from tool._internal.commands")
         .replace("from tool.utils import", "from tool._internal.utils.misc import"))
# the other side's new lines, written against the old layout
TYPED = BASE.replace(
    "from tool.utils import display_path\n",
    "from tool.utils import display_path\nfrom tool.utils.typing import CHECKING\n\nif CHECKING:\n"
    "    from tool.basecommand import Command\n",
)


def test_a_new_import_from_the_moved_package_makes_the_merge_a_conflict():
    for ours, theirs, mover in ((TYPED, MOVED, "theirs"), (MOVED, TYPED, "ours")):
        result = merge_versions(BASE, ours, theirs, "tool/commands/__init__.py")
        assert not result.clean
        assert "<<<<<<<" in result.text
        assert any(f"{mover} moved the imports from `tool` to `tool._internal`" in note for note in result.notes)


def test_the_move_is_read_from_the_imports():
    base, moved = ({"tool._vendor", "tool.commands.build", "tool.commands.clean", "tool.utils"},
                   {"tool._vendor", "tool._internal.commands.build", "tool._internal.commands.clean",
                    "tool._internal.utils.misc"})
    assert PackageMove("tool", "tool._internal", 2) in package_moves(base, moved)
    merged = MOVED.replace("from tool._vendor import six\n",
                           "from tool._vendor import six\nfrom tool.utils.typing import CHECKING\n")
    assert "`tool.utils.typing`, the old path" in stale_import_path(merged, BASE, TYPED, MOVED)


def test_imports_that_did_not_move_are_not_flagged():
    # the vendored subpackage: the mover still imports it from where it was
    merged = MOVED.replace("from tool._vendor import six\n",
                           "from tool._vendor import six\nfrom tool._vendor import toml\n")
    assert stale_import_path(merged, BASE, merged, MOVED) is None
    # one module replaced by another package's (`compat.six` by `six`) is no move of `compat`
    base = "from compat.six import text\nfrom compat.timezone import now\n\nx = (text, now)\n"
    replaced = "from six import text\nfrom compat.timezone import now\n\nx = (text, now)\n"
    added = base.replace("from compat.timezone import now\n",
                         "from compat.timezone import now\nfrom compat.encoding import force\n")
    merged = replaced.replace("from compat.timezone import now\n",
                              "from compat.timezone import now\nfrom compat.encoding import force\n")
    assert stale_import_path(merged, base, added, replaced) is None
    # and a side that moved nothing merges with the new imports as before
    reordered = BASE.replace("[BuildCommand, CleanCommand]", "[CleanCommand, BuildCommand]")
    result = merge_versions(BASE, TYPED, reordered, "tool/commands/__init__.py")
    assert result.clean and "from tool.utils.typing import CHECKING" in result.text

"""Restoring an import one side deleted as unused while the other side's new code uses the name."""

from __future__ import annotations

import textwrap
from pathlib import Path

from stacker.imports import restore_lost_imports
from tests.gitrepos import Upstream, git, write_stack

BASE = textwrap.dedent("""\
    import math
    from dsl import Float32, Int32


    def f(x):
        return Int32(x)
    """)
LINTED = BASE.replace("from dsl import Float32, Int32", "from dsl import Int32")  # upstream's lint pass
FEATURE = BASE.replace("    return Int32(x)\n", "    return Int32(x) + Float32(0.5)\n")  # the PR uses it
MERGED = LINTED.replace("    return Int32(x)\n", "    return Int32(x) + Float32(0.5)\n")  # git's clean merge


def test_lint_removed_import_comes_back_into_its_statement():
    text, restored = restore_lost_imports("m.py", MERGED, BASE, LINTED, FEATURE)
    assert "from dsl import Float32, Int32\n" in text
    assert [(r.name, r.kept_by) for r in restored] == [("Float32", "theirs")]


def test_symmetric_when_the_pr_did_the_lint():
    text, restored = restore_lost_imports("m.py", MERGED, BASE, FEATURE, LINTED)
    assert "from dsl import Float32, Int32\n" in text and restored[0].kept_by == "ours"


def test_whole_statement_comes_back_when_the_module_is_no_longer_imported():
    base = BASE.replace("from dsl import Float32, Int32", "from dsl import Int32\nfrom extra import Float32")
    linted = base.replace("from extra import Float32\n", "")
    feature = base.replace("    return Int32(x)\n", "    return Float32(x)\n")
    merged = linted.replace("    return Int32(x)\n", "    return Float32(x)\n")
    text, restored = restore_lost_imports("m.py", merged, base, linted, feature)
    assert "from dsl import Int32\nfrom extra import Float32\n" in text and restored


def test_an_api_migration_is_not_undone():
    # the base used the name: the deleting side replaced its uses on purpose
    base = BASE.replace("    return Int32(x)\n", "    return Float32(x)\n")
    migrated = LINTED
    feature = base.replace("    return Float32(x)\n", "    return Float32(x) * 2\n")
    merged = LINTED.replace("    return Int32(x)\n", "    return Int32(x)\n\n\ndef g(x):\n    return Float32(x)\n")
    text, restored = restore_lost_imports("m.py", merged, base, migrated, feature)
    assert text == merged and not restored


def test_nothing_when_nothing_is_undefined_or_both_deleted_it():
    assert restore_lost_imports("m.py", LINTED, BASE, LINTED, BASE) == (LINTED, [])
    both = MERGED
    assert restore_lost_imports("m.py", both, BASE, LINTED, LINTED.replace("Int32(x)", "Int32(x) + Float32(0.5)"))[1] \
        == []


def test_a_build_restores_it_and_logs_it(tmp_path: Path, upstream: Upstream, run_cli) -> None:
    base = upstream.commit({"m.py": BASE}, "initial")
    upstream.commit({"m.py": LINTED}, "lint")
    upstream.pr(1, {"m.py": FEATURE}, "feature", base)
    stack = write_stack(tmp_path / "s", upstream.path, [{"number": 1}])
    code, out, err = run_cli("build", "--stack", str(stack), "--json")
    assert code == 0, out + err
    merged = git(tmp_path / "s" / ".stacker" / "repo.git", "show", "refs/heads/bundle/test-bundle:m.py")
    assert "from dsl import Float32, Int32" in merged and "Float32(0.5)" in merged
    assert "restored `from dsl import Float32, Int32`" in out

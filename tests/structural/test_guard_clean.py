"""The final check of every clean result: names pyflakes sees break where neither side's did."""

from __future__ import annotations

from stacker.linemerge import Clean, MergedText
from stacker.structural.checks import guard_clean


def test_an_import_the_merge_left_unused_makes_it_a_conflict():
    # ours replaced the compat helper by the builtin and dropped its import; theirs moved the
    # import up. Keeping theirs' moved copy imports a module ours' branch no longer has any use
    # for (setuptools' six migration, replaying its history).
    base = "import sys\n\nfrom compat import text\n\n\ndef show(x):\n    return text(x)\n"
    ours = "import sys\n\n\ndef show(x):\n    return str(x)\n"
    theirs = "from compat import text\nimport sys\n\n\ndef show(x):\n    return text(x)\n"
    merged = "from compat import text\nimport sys\n\n\ndef show(x):\n    return str(x)\n"
    result, refusal = guard_clean(MergedText((Clean(merged),)), base, ours, theirs, "m.py", made_by="the merge")
    assert not result.is_clean
    assert refusal is not None and "an unused import of the name `compat.text`" in refusal.reason
    # an import the sides left unused themselves is not the merge's doing
    ours_unused = ours.replace("import sys\n", "import sys\nfrom compat import text\n", 1)
    result, refusal = guard_clean(MergedText((Clean(merged),)), base, ours_unused, theirs, "m.py", made_by="the merge")
    assert result.is_clean and refusal is None

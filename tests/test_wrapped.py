"""The wrapped-block layer: one side put the block under new control flow, the other edited it."""

from __future__ import annotations

import textwrap

from stacker.filemerge import FileVersions, merge_file
from stacker.wrapped import WrappedBlockLayer, renamed_names, rewrap

BASE = textwrap.dedent("""\
    import helpers


    def step(acc, rows, fn):
        grad = acc.load()
        # debug: print(grad)
        for r in range(rows):
            grad[r] = helpers.old.sub(grad[r], 1)
        return grad
    """)
# upstream: the helper moved (helpers.old.sub -> helpers.new.sub) and gained an argument
OURS = BASE.replace("helpers.old.sub(grad[r], 1)", "helpers.new.sub(grad[r], 1, exact=True)")
# the PR: a dropout branch before the old code, the old code under `else:` (a comment dropped)
THEIRS = textwrap.dedent("""\
    import helpers


    def step(acc, rows, fn):
        if fn is not None:
            # fused path
            grad = fn(acc)
            grad = helpers.old.sub(grad, 2)
        else:
            grad = acc.load()
            for r in range(rows):
                grad[r] = helpers.old.sub(grad[r], 1)
        return grad
    """)
MERGED = textwrap.dedent("""\
    import helpers


    def step(acc, rows, fn):
        if fn is not None:
            # fused path
            grad = fn(acc)
            grad = helpers.new.sub(grad, 2)
        else:
            grad = acc.load()
            # debug: print(grad)
            for r in range(rows):
                grad[r] = helpers.new.sub(grad[r], 1, exact=True)
        return grad
    """)


def _merge(base, ours, theirs):
    return merge_file(FileVersions("mod.py", base, ours, theirs), [WrappedBlockLayer()])


def test_edited_block_goes_into_the_new_structure_with_the_rename_replayed():
    result = _merge(BASE, OURS, THEIRS)
    assert result.initial_conflicts == 1 and result.is_clean
    assert result.text == MERGED
    (action,) = result.actions
    assert "`helpers.old.sub` -> `helpers.new.sub`" in action.detail


def test_symmetric_when_ours_wrapped_and_theirs_edited():
    result = _merge(BASE, THEIRS, OURS)
    assert result.is_clean and result.text == MERGED


def test_no_rename_replay_while_the_old_name_is_still_used_by_the_editing_side():
    ours = OURS + "\n\ndef other():\n    return helpers.old.sub(1, 2)\n"
    result = _merge(BASE, ours, THEIRS)
    assert result.is_clean
    assert "grad = helpers.old.sub(grad, 2)" in result.text  # theirs' new code left as written


def test_wrapping_side_that_also_changed_a_block_line_is_a_real_conflict():
    theirs = THEIRS.replace("        grad = acc.load()\n", "        grad = acc.load(fast=True)\n")
    assert theirs != THEIRS
    result = _merge(BASE, OURS, theirs)
    assert not result.is_clean


def test_wrapping_side_that_added_a_line_inside_the_block_is_a_real_conflict():
    theirs = THEIRS.replace("        for r in range(rows):\n", "        # new note\n        for r in range(rows):\n")
    assert theirs != THEIRS
    assert not _merge(BASE, OURS, theirs).is_clean


def test_an_import_fallback_around_an_import_the_other_side_changed_stays_a_conflict():
    base = "import os\n\nfrom vendored import simplejson as json\n\nx = json.dumps(1)\n"
    wrapper = base.replace("from vendored import simplejson as json\n",
                           "try:\n    from vendored import simplejson as json\nexcept ImportError:\n"
                           "    from vendored import json\n")
    editor = base.replace("from vendored import simplejson as json", "import json")
    assert not _merge(base, editor, wrapper).is_clean
    # the same wrapper for an error of the code itself is this layer's shape
    wrapper = wrapper.replace("except ImportError:\n    from vendored import json\n",
                              "except ValueError:\n    json = None\n")
    result = _merge(base, editor, wrapper)
    assert result.is_clean and "try:\n    import json\nexcept ValueError:" in result.text


def test_both_sides_wrapping_the_block_are_two_alternatives_and_stay_a_conflict():
    # one side guards the write with `if os.access(...)`, the other with `try`/`except`: nesting
    # one in the other (what the layer did) runs both checks, which nobody wrote
    base = "def save(fname, data):\n    with open(fname, 'w') as f:\n        f.write(data)\n"
    guarded = ("def save(fname, data):\n    if writable(fname):\n        with open(fname, 'w') as f:\n"
               "            f.write(data)\n    else:\n        raise OSError(fname)\n")
    caught = ("def save(fname, data):\n    try:\n        with open(fname, 'w') as f:\n"
              "            f.write(data)\n    except OSError:\n        raise OSError(fname)\n")
    assert not _merge(base, guarded, caught).is_clean
    assert not _merge(base, caught, guarded).is_clean
    # one side wrapping, the other editing the block in place, is this layer's shape
    edited = base.replace("f.write(data)", "f.write(data.strip())")
    result = _merge(base, edited, caught)
    assert result.is_clean and "    try:\n        with open(fname, 'w') as f:\n            f.write(data.strip())\n" in result.text


def test_no_wrap_without_deeper_indentation():
    # theirs only appended lines after the block: not this layer's shape
    theirs = BASE.replace("    return grad\n", "    grad = grad * 2\n    return grad\n")
    ours = OURS.replace("    return grad\n", "    grad = grad + 1\n    return grad\n")
    assert rewrap("    return grad\n", "    grad = grad * 2\n    return grad\n",
                  "    grad = grad + 1\n    return grad\n", ours) is None
    assert not _merge(BASE, ours, theirs).is_clean


def test_multiline_strings_are_not_reindented():
    base = "    x = 1\n    y = 2\n"
    editor = '    x = """a\nb"""\n    y = 2\n'
    wrapper = "    if c:\n        z = 0\n    else:\n        x = 1\n        y = 2\n"
    assert rewrap(base, wrapper, editor, editor) is None


def test_renamed_names_only_reports_dotted_name_swaps():
    assert renamed_names("v = (\n  a.b.f(x)\n)\n", "v = c.d.f(x)\n") == [("a.b.f", "c.d.f")]
    assert renamed_names("v = f(x)\n", "v = f(x, y)\n") == []
    assert renamed_names("v = a.f(x)\n", "v = a.f(x) * k.g(y)\n") == []

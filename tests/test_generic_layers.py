"""The generic layers that need no structure: equivalent hunks and edits to moved blocks."""

from __future__ import annotations

import textwrap

from stacker.equivalent import EquivalentLayer
from stacker.filemerge import FileVersions, merge_file
from stacker.moved import MovedBlockLayer

BASE = textwrap.dedent("""\
    def heuristic(blocks, sms):
        return max(1, sms // blocks)


    def forward(q, arch, splits, blocks):
        tile = 128
        sms = query_sms(q.device)
        if arch == 12:
            assert splits == 1, "arch 12 supports one split only"
        elif splits < 1:
            splits = heuristic(blocks, sms)

        launch(q, tile, splits)
    """)

# upstream moved the split choice into a config helper (and changed how SMs are counted)
OURS = textwrap.dedent("""\
    def heuristic(blocks, sms):
        return max(1, sms // blocks)


    def forward(q, arch, splits, blocks):
        tile, splits = Config.choose(arch, splits, blocks, q.device)

        launch(q, tile, splits)


    class Config:
        @staticmethod
        def choose(arch, splits, blocks, device):
            tile = 128
            sms = None
            if arch == 12:
                assert splits == 1, "arch 12 supports one split only"
            elif splits < 1:
                sms = count_sms(device)
                splits = heuristic(blocks, sms)
            return tile, splits
    """)

# the PR lifted the arch-12 restriction in place
THEIRS = BASE.replace(
    '    if arch == 12:\n        assert splits == 1, "arch 12 supports one split only"\n    elif splits < 1:\n',
    "    if splits < 1:\n")


def test_pr_edit_follows_the_block_that_upstream_moved() -> None:
    result = merge_file(FileVersions("config.py", BASE, OURS, THEIRS), [MovedBlockLayer()])
    assert result.is_clean
    assert "assert splits == 1" not in result.text
    assert "        sms = None\n        if splits < 1:\n            sms = count_sms(device)\n" in result.text
    assert "tile, splits = Config.choose(arch, splits, blocks, q.device)" in result.text
    action = result.actions[-1]
    assert action.layer == "moved" and action.location == "Config.choose"


def test_in_place_conflict_is_not_mistaken_for_a_move() -> None:
    ours = BASE.replace('assert splits == 1, "arch 12 supports one split only"',
                        'assert splits in (1, 2), "arch 12 supports two splits"')
    result = merge_file(FileVersions("config.py", BASE, ours, THEIRS), [MovedBlockLayer()])
    assert not result.is_clean


def test_ambiguous_destination_stays_a_conflict() -> None:
    # the moved block exists twice: no unique place to apply the edit
    twice = OURS + textwrap.dedent("""\

            @staticmethod
            def choose_again(arch, splits, blocks, device):
                tile = 128
                sms = None
                if arch == 12:
                    assert splits == 1, "arch 12 supports one split only"
                elif splits < 1:
                    sms = count_sms(device)
                    splits = heuristic(blocks, sms)
                return tile, splits
        """)
    result = merge_file(FileVersions("config.py", BASE, twice, THEIRS), [MovedBlockLayer()])
    assert not result.is_clean


def test_same_fix_with_a_comment_is_equivalent() -> None:
    base = "def pages(n, t):\n    per = n // t\n    return per\n"
    ours = "def pages(n, t):\n    # include the last partial wave\n    per = (n + t - 1) // t\n    return per\n"
    theirs = "def pages(n, t):\n    per = (n + t - 1) // t\n    return per\n"
    result = merge_file(FileVersions("p.py", base, ours, theirs), [EquivalentLayer()])
    assert result.is_clean and result.text == ours


def test_different_code_is_not_equivalent() -> None:
    base = "def pages(n, t):\n    per = n // t\n    return per\n"
    ours = "def pages(n, t):\n    per = (n + t - 1) // t\n    return per\n"
    theirs = "def pages(n, t):\n    per = -(-n // t)\n    return per\n"
    result = merge_file(FileVersions("p.py", base, ours, theirs), [EquivalentLayer()])
    assert not result.is_clean


def test_docstring_rewrapped_differently_is_not_equivalent() -> None:
    # inside a docstring the lines tokenize as words: the same words wrapped differently look
    # like "the same code", but the strings differ
    base = 'def f():\n    """Summary.\n\n    Errors show\n    the key.\n    """\n'
    ours = base.replace("    Errors show\n    the key.\n", "    Errors raised show the bad\n    key in debug mode.\n")
    theirs = base.replace("    Errors show\n    the key.\n", "    Errors raised show the\n    bad key in debug mode.\n")
    result = merge_file(FileVersions("p.py", base, ours, theirs), [EquivalentLayer()])
    assert not result.is_clean


def test_layers_leave_non_python_files_alone() -> None:
    base, ours, theirs = "a\nb\n", "a\n# x\nb2\n", "a\nb2\n"
    result = merge_file(FileVersions("notes.txt", base, ours, theirs), [EquivalentLayer()])
    assert not result.is_clean


def test_neighbouring_line_edits_are_combined() -> None:
    from stacker.adjacent import AdjacentEditsLayer

    base = textwrap.dedent("""\
        def choose(arch, splits, device):
            sms = query_sms(device)
            if arch == 12:
                assert splits == 1
            elif splits < 1:
                splits = heuristic(sms)
            return splits
        """)
    ours = base.replace("    sms = query_sms(device)\n", "    sms = None\n").replace(
        "    elif splits < 1:\n", "    elif splits < 1:\n        sms = count_sms(device)\n")
    theirs = base.replace("    if arch == 12:\n        assert splits == 1\n    elif splits < 1:\n", "    if splits < 1:\n")
    result = merge_file(FileVersions("c.py", base, ours, theirs), [AdjacentEditsLayer()])
    assert result.is_clean
    assert result.text == textwrap.dedent("""\
        def choose(arch, splits, device):
            sms = None
            if splits < 1:
                sms = count_sms(device)
                splits = heuristic(sms)
            return splits
        """)


def test_same_line_edited_by_both_stays_a_conflict() -> None:
    from stacker.adjacent import AdjacentEditsLayer

    base = "def f():\n    a = 1\n    b = 2\n"
    ours = "def f():\n    a = 10\n    b = 2\n"
    theirs = "def f():\n    a = 11\n    b = 3\n"
    result = merge_file(FileVersions("c.py", base, ours, theirs), [AdjacentEditsLayer()])
    assert not result.is_clean


def test_two_insertions_at_one_spot_stay_a_conflict() -> None:
    from stacker.adjacent import AdjacentEditsLayer

    base = "def f():\n    a = 1\n    return a\n"
    ours = "def f():\n    a = 1\n    a += 1\n    return a\n"
    theirs = "def f():\n    a = 1\n    a *= 2\n    return a\n"
    result = merge_file(FileVersions("c.py", base, ours, theirs), [AdjacentEditsLayer()])
    assert not result.is_clean


def test_neighbouring_edits_inside_an_argument_list_are_left_alone() -> None:
    from stacker.adjacent import AdjacentEditsLayer

    # ours rewrote one element, theirs inserted two after it: in a positional list the order is the
    # decision (it must match a signature elsewhere), so this is not a line-level union
    base = "args = [\n    q,\n    aux,\n    stream,\n]\n"
    ours = "args = [\n    q,\n    AuxData(aux),\n    stream,\n]\n"
    theirs = "args = [\n    q,\n    aux,\n    seed_lo,\n    seed_hi,\n    stream,\n]\n"
    result = merge_file(FileVersions("c.py", base, ours, theirs), [AdjacentEditsLayer()])
    assert not result.is_clean


def test_edit_is_not_transplanted_to_a_look_alike_line() -> None:
    # ours rewrote `aux_tensors,` in place; theirs inserted after it. The same line also stands in
    # another call: the block did not move, and the insertion must not land over there
    base = textwrap.dedent("""\
        def fwd(q, aux_tensors):
            compile_args = [
                q,
                aux_tensors,
                current_stream,
            ]
            return compile_args


        def public(q, aux_tensors):
            return apply(
                q,
                aux_tensors,
            )
        """)
    ours = base.replace("        aux_tensors,\n        current_stream,", "        AuxData(aux_tensors),\n        current_stream,")
    theirs = base.replace("        aux_tensors,\n        current_stream,",
                          "        aux_tensors,\n        seed_lo,\n        seed_hi,\n        current_stream,")
    result = merge_file(FileVersions("c.py", base, ours, theirs), [MovedBlockLayer()])
    assert not result.is_clean


def test_a_line_both_sides_added_is_not_written_twice() -> None:
    from stacker.adjacent import AdjacentEditsLayer

    # both sides added the decorator; ours also rewrote the class line: combining the edits line
    # by line would stack two copies of the decorator
    base = "import pytest\n\n\nclass TestProxy(Case):\n    pass\n"
    ours = base.replace("class TestProxy(Case):\n", "@pytest.mark.requires_proxy\nclass TestProxy:\n")
    theirs = base.replace("class TestProxy(Case):\n", "@pytest.mark.requires_proxy\nclass TestProxy(Case):\n")
    result = merge_file(FileVersions("c.py", base, ours, theirs), [AdjacentEditsLayer()])
    assert not result.is_clean


def test_two_ways_of_doing_one_thing_in_neighbouring_edits_stay_a_conflict() -> None:
    from stacker.adjacent import AdjacentEditsLayer

    def merged(base: str, ours: str, theirs: str):
        return merge_file(FileVersions("c.py", base, ours, theirs), [AdjacentEditsLayer()])

    # each side logs the rejected request, in its own words: both calls would run
    base = "def get(self):\n    if bad:\n        self.finish(msg)\n        return\n    go()\n"
    ours = base.replace("        self.finish(msg)\n", "        self.finish(msg)\n        log.debug(msg)\n")
    theirs = base.replace("        return\n", "        log.debug('rejected', exc_info=True)\n        return None\n")
    assert not merged(base, ours, theirs).is_clean
    # a different call beside ours' is an independent edit
    theirs = base.replace("        return\n", "        metrics.count('rejected')\n        return None\n")
    result = merged(base, ours, theirs)
    assert result.is_clean and "        log.debug(msg)\n        metrics.count('rejected')\n" in result.text
    # each side guards the lookup, one by returning early, one with an `if` around it
    base = "def name(self, key):\n    path = build(key)\n    ext = self.map[key]\n    return ext\n"
    ours = base.replace("    path = build(key)\n", "    path = build(key)\n    if key not in self.map:\n"
                        "        return path\n")
    theirs = base.replace("    ext = self.map[key]\n    return ext\n",
                          "    if key in self.map:\n        return self.map[key]\n    return path\n")
    assert not merged(base, ours, theirs).is_clean


def test_neighbouring_import_edits_must_keep_the_files_sort_order() -> None:
    from stacker.adjacent import AdjacentEditsLayer

    base = "import os\n\nfrom pkg.b import B\nfrom pkg.d import D\n"
    # ours added `pkg.a` before `pkg.b`; theirs rewrote `pkg.b` to `pkg.c`: the union is sorted
    ours = base.replace("from pkg.b import B\n", "from pkg.a import A\nfrom pkg.b import B\n")
    theirs = base.replace("from pkg.b import B\n", "from pkg.c import B\n")
    result = merge_file(FileVersions("c.py", base, ours, theirs), [AdjacentEditsLayer()])
    assert result.is_clean
    assert result.text == "import os\n\nfrom pkg.a import A\nfrom pkg.c import B\nfrom pkg.d import D\n"
    # ours added `pkg.bb` after `pkg.b` where theirs rewrote that line to `pkg.c`: each side is
    # sorted, the union (`pkg.c`, `pkg.bb`, `pkg.d`) is not; a human sorts the new line in
    ours = base.replace("from pkg.b import B\n", "from pkg.b import B\nfrom pkg.bb import BB\n")
    theirs = base.replace("from pkg.b import B\n", "from pkg.c import B\n")
    result = merge_file(FileVersions("c.py", base, ours, theirs), [AdjacentEditsLayer()])
    assert not result.is_clean
    # one side sorted is enough: theirs' `pkg.z` breaks its own order, ours keeps it
    theirs = base.replace("from pkg.b import B\n", "from pkg.z import B\n")
    result = merge_file(FileVersions("c.py", base, ours, theirs), [AdjacentEditsLayer()])
    assert not result.is_clean


def test_a_line_one_side_moved_and_the_other_deleted_stays_a_conflict() -> None:
    from stacker.adjacent import AdjacentEditsLayer

    # ours moved the `hooks` import above `wire` and edited the `if`; theirs deleted the import.
    # Both delete the old line (that edit counts once), so a union would keep ours' moved copy
    base = "if CHECKING:\n    from .wire import Response\n    from .hooks import Handler\n"
    ours = "if CHECKING:  # typing only\n    from .hooks import Handler\n    from .wire import Response\n"
    theirs = "if CHECKING:\n    from .wire import Response\n"
    result = merge_file(FileVersions("c.py", base, ours, theirs), [AdjacentEditsLayer()])
    assert not result.is_clean
    # a line a side only inserts (a new property's `return 0`) is not a move, though the other
    # side deleted a copy of it: the insertion before the deleted property is kept
    base = "class T:\n    @property\n    def old(self):\n        return 0\n\n    def keep(self):\n        pass\n"
    ours = "class T:\n    def keep(self):\n        pass\n"
    theirs = base.replace("class T:\n", "class T:\n    @property\n    def new(self):\n        return 0\n\n")
    result = merge_file(FileVersions("c.py", base, ours, theirs), [AdjacentEditsLayer()])
    assert result.text == theirs.replace("    @property\n    def old(self):\n        return 0\n\n", "")

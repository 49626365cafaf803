"""Helpers codified claims share: hunk shapes (stacker.hunks), keyword replay (stacker.cstedit), where a
hunk sits (stacker.pysource.node_spans), resolutions covering several places, and the engine checks
they rely on (the chain runs to a fixpoint, the per-step check compiles)."""

from __future__ import annotations

import libcst as cst

from stacker.codified import CodifiedLayer
from stacker.cstedit import add_keywords, insert_with_comma, keywords_added
from stacker.filemerge import FileVersions, merge_file
from stacker.hunks import keyword_union, ours_then_theirs
from stacker.linemerge import Conflict
from stacker.pysource import node_spans
from stacker.resolution import Resolution
from stacker.verify import check_file


def test_ours_then_theirs_shapes():
    assert ours_then_theirs(Conflict("", "    a,\n", "    b,\n")) == "    a,\n    b,\n"
    # theirs appended after an unchanged base line that ours rewrote
    assert ours_then_theirs(Conflict("    x,\n", "    y,\n    z,\n", "    x,\n    t,\n")) == "    y,\n    z,\n    t,\n"
    # both inserted before the closing line; ours also changed it
    got = ours_then_theirs(Conflict(") -> A:\n", "    o=1,\n) -> B:\n    body()\n", "    t=2,\n) -> A:\n"))
    assert got == "    o=1,\n    t=2,\n) -> B:\n    body()\n"
    # theirs rewrote the base section itself: a decision, not this shape
    assert ours_then_theirs(Conflict("    x,\n", "    y,\n", "    w,\n")) is None


def test_keyword_union():
    assert keyword_union(Conflict("", "    a=a,\n", "    b=b,\n    c=1,\n")) == "    a=a,\n    b=b,\n    c=1,\n"
    assert keyword_union(Conflict("", "    a=a,\n", "    a=b,\n")) is None  # the same keyword twice
    assert keyword_union(Conflict("", "    a=a, x=1,\n", "    b=b,\n")) is None  # not one per line
    assert keyword_union(Conflict("", "    a,\n", "    b=b,\n")) is None


def test_keywords_added_and_replayed_on_another_call():
    base = cst.parse_module("r = f(a, k=1)\n")
    theirs = cst.parse_module("r = f(a, k=1, p=2, q=3)\n")
    added = keywords_added(base, theirs)
    assert [(name, [a.keyword.value for a in args]) for name, args in added] == [("f", ["p", "q"])]
    ours = cst.parse_module("if c:\n    s = f(\n        a,\n        k=1,\n    )\n")
    expected = "if c:\n    s = f(\n        a,\n        k=1,\n        p=2,\n        q=3,\n    )\n"
    assert add_keywords(ours, "f", added[0][1]).code == expected
    # anything more than added keywords: None
    assert keywords_added(base, cst.parse_module("r = f(b, k=1, p=2)\n")) is None
    # where the call is not unique: None
    assert add_keywords(cst.parse_module("f(1)\nf(2)\n"), "f", added[0][1]) is None


def test_inserted_element_does_not_copy_comments():
    fn = cst.parse_module("def f(\n    a,  # note\n    # last\n    b=None,\n):\n    pass\n").body[0]
    new = cst.parse_module("def g(x=1): pass\n").body[0].params.params[0]
    params = insert_with_comma(list(fn.params.params), 2, new)
    code = cst.Module(body=[fn.with_changes(params=fn.params.with_changes(params=params))]).code
    assert code.count("# note") == 1 and code.count("# last") == 1 and "    x=1,\n" in code


def test_node_spans_give_lines_of_calls_and_parameter_lists():
    src = "def f(\n    a,\n):\n    return g(\n        h(a),\n    )\n"
    spans = [(type(n).__name__, a, b) for n, a, b in node_spans(src, (cst.Parameters, cst.Call))]
    assert spans == [("Parameters", 2, 3), ("Call", 4, 6), ("Call", 5, 5)]
    assert node_spans("def (:\n", (cst.Call,)) == []


class _Both(Resolution):
    id = "both"
    title = "t"
    kind = "minor"
    prs = (2,)
    location = "a.py::f"
    also_at = ("b.py::C.g",)
    sides = {}
    resolution = "r"
    backport = "b"

    def claim(self, conflict):
        return conflict.hunk.ours + conflict.hunk.theirs


def test_a_resolution_claims_at_every_location_it_names():
    r = _Both()
    assert r.covers("a.py", "f") and r.covers("b.py", "C.g.inner") and not r.covers("b.py", "C.h")
    assert r.paths == {"a.py", "b.py"}
    base, ours, theirs = "class C:\n    def g(self):\n        x = 1\n", "class C:\n    def g(self):\n        x = 2\n", \
        "class C:\n    def g(self):\n        x = 3\n"
    merged = merge_file(FileVersions("b.py", base, ours, theirs), [CodifiedLayer([r], 2, frozenset())])
    assert merged.is_clean and "        x = 2\n        x = 3\n" in merged.text


class _Lines(_Both):
    id = "lines"
    seen: list = []

    def claim(self, conflict):
        self.seen.append(conflict.lines)
        return None


def test_claims_see_the_hunk_lines_in_the_ours_view():
    r = _Lines()
    base = "def f():\n    a = 1\n    b = 1\n"
    merge_file(FileVersions("a.py", base, base.replace("b = 1", "b = 2"), base.replace("b = 1", "b = 3")),
               [CodifiedLayer([r], 2, frozenset())])
    assert r.seen == [(2, 3)]


class _FirstOfTwo:
    """A layer that resolves only a hunk whose neighbour is gone (as structural may)."""

    name = "first"

    def resolve(self, path, merged):
        from stacker.filemerge import LayerOutcome, agree
        conflicts = [i for i, s in enumerate(merged.segments) if isinstance(s, Conflict)]
        if len(conflicts) != 1:
            return None
        hunk = merged.segments[conflicts[0]]
        return LayerOutcome(views=agree(merged, {conflicts[0]: hunk.ours}), actions=())


class _LastOfTwo:
    name = "last"

    def resolve(self, path, merged):
        from stacker.filemerge import LayerOutcome, agree
        conflicts = [i for i, s in enumerate(merged.segments) if isinstance(s, Conflict)]
        if len(conflicts) != 2:
            return None
        return LayerOutcome(views=agree(merged, {conflicts[1]: merged.segments[conflicts[1]].theirs}), actions=())


def test_the_chain_runs_again_while_a_pass_makes_progress():
    base = "a = 1\n\n\n\nb = 1\n"
    result = merge_file(FileVersions("x.py", base, "a = 2\n\n\n\nb = 2\n", "a = 3\n\n\n\nb = 3\n"),
                        [_FirstOfTwo(), _LastOfTwo()])
    assert result.initial_conflicts == 2 and result.is_clean and result.text == "a = 2\n\n\n\nb = 3\n"


def test_per_step_check_compiles_repeated_keywords():
    found = check_file("m.py", "f(a=1, a=2)\n", "f(a=1)\n", "f(a=2)\n")
    assert found and "keyword argument repeated" in found[0].problem


def test_per_step_check_stops_on_a_result_too_deep_for_its_name_check():
    def total(terms: int) -> str:
        return "x = " + " + ".join(["1"] * terms) + "\n"

    found = check_file("m.py", total(900), total(150), total(150))
    assert [f.problem for f in found] == ["nested too deeply for pyflakes to check its names (neither parent's "
                                          "version is)"]
    assert check_file("m.py", total(900), total(900), total(150)) == []  # a parent was as deep already

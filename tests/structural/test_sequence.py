"""The three-way merge of element sequences, on plain items (no syntax involved)."""

import pytest

from stacker.structural.sequence import Item, Policy, Refused, Unordered, merge_sequences


def kw(name, value="1"):
    return Item(("kw", name), f"{name}={value}")


def text(value):
    return Item(None, value)


def names(plan, ours, theirs):
    return [(ours if p.side == "ours" else theirs)[p.index].text for p in plan.picks]


def test_both_insert_distinct_keys_in_stack_order():
    base = [kw("grid"), kw("block")]
    ours = [kw("grid"), kw("block"), kw("smem")]
    theirs = [kw("grid"), kw("block"), kw("stream")]
    plan = merge_sequences(base, ours, theirs, Unordered())
    assert names(plan, ours, theirs) == ["grid=1", "block=1", "smem=1", "stream=1"]
    assert plan.interleaved


def test_same_key_different_values_is_refused():
    base = [kw("grid")]
    with pytest.raises(Refused, match="both sides added 'smem'"):
        merge_sequences(base, [kw("grid"), kw("smem", "1")], [kw("grid"), kw("smem", "2")], Unordered())


def test_identical_insertion_is_made_once():
    base = [kw("grid")]
    ours = [kw("grid"), kw("smem"), kw("x")]
    theirs = [kw("grid"), kw("smem")]
    plan = merge_sequences(base, ours, theirs, Unordered())
    assert names(plan, ours, theirs) == ["grid=1", "smem=1", "x=1"]


def test_change_beside_insertion():
    base = [kw("grid"), kw("block")]
    ours = [kw("grid", "2"), kw("block")]
    theirs = [kw("grid"), kw("block"), kw("stream")]
    plan = merge_sequences(base, ours, theirs, Unordered())
    assert names(plan, ours, theirs) == ["grid=2", "block=1", "stream=1"]


def test_delete_versus_modify_is_refused():
    base = [kw("grid"), kw("block")]
    with pytest.raises(Refused, match="theirs changed 'grid', ours deleted it"):
        merge_sequences(base, [kw("block")], [kw("grid", "3"), kw("block")], Unordered())


def test_both_change_one_element_is_handed_back():
    base = [kw("grid")]
    plan = merge_sequences(base, [kw("grid", "2")], [kw("grid", "3")], Unordered())
    assert plan.picks[0].both == (0, 0, 0)


def test_ordered_insertions_at_one_place_are_refused_by_default():
    base = [text("a"), text("b")]
    with pytest.raises(Refused, match="order matters"):
        merge_sequences(base, [text("a"), text("x"), text("b")], [text("a"), text("y"), text("b")], Policy())


def test_ordered_insertions_at_different_places_merge():
    base = [text("a"), text("b")]
    ours = [text("x"), text("a"), text("b")]
    theirs = [text("a"), text("b"), text("y")]
    plan = merge_sequences(base, ours, theirs, Policy())
    assert names(plan, ours, theirs) == ["x", "a", "b", "y"]


def test_insertion_among_elements_the_other_side_deleted_is_refused_where_order_matters():
    base = [text("a"), text("b"), text("c")]
    with pytest.raises(Refused, match="theirs deleted 'b' where ours inserted 'x'"):
        merge_sequences(base, [text("a"), text("b"), text("x"), text("c")], [text("a"), text("c")], Policy())


def test_moved_element_changed_by_the_other_side_is_refused():
    base = [kw("a"), kw("b"), kw("c")]
    ours = [kw("b"), kw("c"), kw("a")]  # ours moved a
    theirs = [kw("a", "2"), kw("b"), kw("c")]
    with pytest.raises(Refused, match="ours moved 'a', theirs changed it"):
        merge_sequences(base, ours, theirs, Unordered())


def test_moved_element_deleted_by_the_other_side_is_refused():
    base = [text("import os"), text("import re"), text("import sys")]
    ours = [text("import os"), text("import sys")]  # ours deleted re
    theirs = [text("import re"), text("import os"), text("import sys")]  # theirs moved it
    with pytest.raises(Refused, match="moved"):
        merge_sequences(base, ours, theirs, Policy())


def test_partial_merge_keeps_refused_runs_apart():
    base = [text("a"), text("b"), text("c")]
    ours = [text("a"), text("x"), text("b"), text("c"), text("p")]
    theirs = [text("a"), text("y"), text("b"), text("c")]
    plan = merge_sequences(base, ours, theirs, Policy(), partial=True)
    assert len(plan.refused) == 1
    assert [s.picks for s in plan.stretches if s.picks is None] == [None]


def test_duplicate_keys_fall_back_to_text():
    # Two overloads named f: matched by text, never paired with the wrong twin.
    f1, f2 = Item(("def", "f"), "def f(a)"), Item(("def", "f"), "def f(b)")
    plan = merge_sequences([f1, f2], [f1, f2, text("x")], [f1, f2], Policy())
    assert [p.side for p in plan.picks] == ["ours", "ours", "ours"]

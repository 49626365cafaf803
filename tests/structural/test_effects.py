"""Whether two groups of inserted statements may run in either order."""

import ast

import pytest

from stacker.structural.effects import closure_names, interference


def check(ours: str, theirs: str, scope="function", captured=frozenset()):
    return interference(ast.parse(ours).body, ast.parse(theirs).body, scope, captured)


def test_independent_assignments_to_different_attributes():
    assert check("ctx.mask_mod = mask_mod", "ctx.dropout_p = dropout_p") is None


@pytest.mark.parametrize("ours, theirs, reason", [
    ("x = 1", "y = x + 1", "writes `x`"),
    ("self.tile = 64", "n = self.tile * 2", "self.tile"),
    ("x = 1", "x = 2", "both sides bind x"),
    ("a.append(1)", "a.append(2)", "both sides call"),
    ("if x:\n    return None", "y = 1", "return"),
    ("raise ValueError()", "y = 1", "raise"),
    ("assert x", "y = 1", "assert"),
    ("log(x)", "self.n = 1", "may see"),
    ("for i in range(3):\n    pass", "total = f()", "both sides call"),
])
def test_interfering_groups(ours, theirs, reason):
    found = check(ours, theirs)
    assert found is not None and reason in found


def test_calls_may_reach_captured_locals_only():
    assert check("log(x)", "n = 1") is None
    assert "may see" in check("log(x)", "n = 1", captured=frozenset({"n"}))


def test_module_level_definitions_are_order_free():
    ours = "@pytest.fixture\ndef a():\n    return 1\n"
    theirs = "@pytest.mark.slow\ndef test_b():\n    assert a()\n"
    assert check(ours, theirs, scope="module") is None
    assert check("import os", "from a import b", scope="module") is None
    assert "both sides bind" in check("import os", "from x import os", scope="module")
    # At function level a decorator is a call like any other.
    assert check(ours, "@wrap\ndef c():\n    pass\n", scope="function") is not None


def test_closure_names():
    tree = ast.parse("def f():\n    n = 1\n    g = lambda: n + m\n    return g\n").body[0]
    assert {"n", "m"} <= closure_names(tree)

"""The shared Sm80 helpers (resolutions/_sm80_kernel.py): deciding a compile-time switch, the
statement-level three-way merge, and finding #2348's runtime gate."""

from __future__ import annotations

from pathlib import Path

import libcst as cst

from stacker.cstedit import code
from stacker.plugins import load_stack_module
from tests.resolutions.harness import dedent

k = load_stack_module(Path(__file__).resolve().parents[2] / "resolutions" / "_sm80_kernel.py",
                      namespace="stacker_resolution")


def statements(source: str) -> list[cst.BaseStatement]:
    return list(cst.parse_module(dedent(source)).body)


def text(stmts) -> str:
    return cst.Module(body=list(stmts)).code


def test_specialize_takes_the_branch_and_tags_it():
    tail = statements("""
        load()
        # old prefetch comment
        if const_expr(self.sparse):
            wait(0)
        else:
            prefetch()
        if const_expr(not self.sparse):
            dense_only()
        finish()
    """)
    on = k.specialize(tail, "self.sparse", True)
    assert text(on.statements) == "load()\nwait(0)\nfinish()\n"
    assert on.from_branch == [False, True, False]
    off = k.specialize(tail, "self.sparse", False)
    # the comment above the switch described the code in its else branch
    assert text(off.statements) == "load()\n# old prefetch comment\nprefetch()\ndense_only()\nfinish()\n"
    assert off.from_branch == [False, True, True, False]


def test_specialize_decides_nested_switches_and_leaves_other_tests():
    [loop] = statements("""
        for i in range(n):
            if const_expr(self.sparse):
                a()
            if const_expr(self.causal):
                b()
    """)
    assert text(k.specialize([loop], "self.sparse", False).statements) == dedent("""
        for i in range(n):
            if const_expr(self.causal):
                b()
    """)


def test_negated_and_switch_value():
    assert code(k.negated(cst.parse_expression("x is not None"))) == "x is None"
    assert code(k.negated(cst.parse_expression("not self.sparse"))) == "self.sparse"
    assert code(k.negated(cst.parse_expression("a or b"))) == "not (a or b)"
    assert k.switch_value(cst.parse_expression("const_expr(self.sparse)"), "self.sparse") is True
    assert k.switch_value(cst.parse_expression("cutlass.const_expr(not self.sparse)"), "self.sparse") is False
    assert k.switch_value(cst.parse_expression("self.sparse"), "self.sparse") is None


def test_merge_takes_each_sides_changes_and_keeps_comment_edits():
    base = statements("a = 1\n# b\nb = 2\nc = 3\n")
    ours = statements("a = 10\n# b, edited\nb = 2\nc = 3\n")
    theirs = statements("a = 1\n# b\nb = 2\nc = 30\nd = 4\n")
    merged = k.merge_statements(base, ours, theirs, None)
    assert text(merged) == "a = 10\n# b, edited\nb = 2\nc = 30\nd = 4\n"


def test_merge_gives_a_conflict_to_the_resolver_or_fails():
    base = statements("a = 1\nb = 2\n")
    ours = statements("a = 1\nb = 20\n")
    theirs = statements("a = 1\nb = 200\n")
    assert k.merge_statements(base, ours, theirs, None) is None
    seen = []

    def resolve(b, o, t, theirs_range):
        seen.append((text(b), text(o), text(t), list(theirs_range)))
        return t

    assert text(k.merge_statements(base, ours, theirs, resolve)) == "a = 1\nb = 200\n"
    assert seen == [("b = 2\n", "b = 20\n", "b = 200\n", [1])]


def test_merge_accepts_the_same_change_on_both_sides():
    base = statements("a = 1\n")
    both = statements("a = 2\n")
    assert text(k.merge_statements(base, both, both, None)) == "a = 2\n"


def test_edits_to_neighbouring_statements_do_not_conflict():
    # theirs replaces a loop *and* edits the next statement in place; ours edits only the loop
    base = statements("for i in r:\n    step(i)\nscale = fin()\n")
    ours = statements("for i in r2:\n    step(i)\nscale = fin()\n")
    theirs = statements("run_sparse()\nscale = fin(final=True)\n")
    merged = k.merge_statements(base, ours, theirs, lambda b, o, t, r: t)
    assert text(merged) == "run_sparse()\nscale = fin(final=True)\n"
    dense_theirs = statements("for i in r:\n    step(i)\nscale = fin(final=True)\n")
    assert text(k.merge_statements(base, ours, dense_theirs, None)) == "for i in r2:\n    step(i)\nscale = fin(final=True)\n"


def test_drop_unused_defs_keeps_called_helpers():
    flow = statements("""
        def unused():
            pass
        def used():
            pass
        used()
    """)
    assert text(k.drop_unused_defs(flow)) == "def used():\n    pass\nused()\n"


def test_epilogue_gates_at_top_level_and_inside_a_compile_time_branch():
    body = statements("""
        if tidx == 0:
            log()
        if n_block_max > n_block_min:
            self.epilogue(o)
        if const_expr(not self.sparse):
            if has_blocks:
                self.epilogue(o)
        if const_expr(self.sparse):
            self.epilogue(o)
    """)
    assert [path for path, _ in k.epilogue_gates(body)] == [(1,), (2, 0)]

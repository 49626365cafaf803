"""Bound / read names and consistent renames on libcst trees (stacker/cstnames.py)."""

from __future__ import annotations

import textwrap

import libcst as cst

from stacker.cstnames import bound_names, first_use_binds, read_names, referenced_names, rename_names


def body(source: str) -> list[cst.BaseStatement]:
    return list(cst.parse_module(textwrap.dedent(source)).body)


def test_bound_names_cover_every_binding_form_and_nested_defs():
    statements = body("""
        a = f(x)
        b, (c, *d) = pair
        e += 1
        g: int = 2
        for h, i in items:
            pass
        with open(p) as j:
            pass
        try:
            pass
        except ValueError as k:
            pass
        if (m := probe()):
            pass
        def helper(param):
            inner = param
        class Box:
            pass
        obj.attr = 3
        table[key] = 4
    """)
    assert bound_names(statements) == {"a", "b", "c", "d", "e", "g", "h", "i", "j", "k", "m",
                                       "helper", "inner", "Box"}


def test_read_names_exclude_bindings_keywords_and_attributes():
    statements = body("""
        mask = Mask(seqlen)
        fn = partial(mask.apply, mask=flag, causal=self.is_causal)
    """)
    assert read_names(statements) == {"Mask", "seqlen", "partial", "mask", "flag", "self"}
    assert "causal" not in referenced_names(statements)
    assert "apply" not in referenced_names(statements)


def test_rename_touches_bindings_and_reads_but_not_keywords_attributes_or_imports():
    source = textwrap.dedent("""\
        import mask
        mask = Mask(mask_size)
        mask_fn = partial(mask.apply_mask, mask=mask, fn=self.mask)
        run(mask_fn=mask_fn)
    """)
    module = cst.parse_module(source)
    renamed = rename_names(module, {"mask": "bs_mask", "mask_fn": "bs_mask_fn"})
    assert renamed.code == textwrap.dedent("""\
        import mask
        bs_mask = Mask(mask_size)
        bs_mask_fn = partial(bs_mask.apply_mask, mask=bs_mask, fn=self.mask)
        run(mask_fn=bs_mask_fn)
    """)


def test_first_use_binds_follows_evaluation_order():
    assert first_use_binds(body("x = 1\ny = x\n"), "x")
    assert not first_use_binds(body("y = x\nx = 1\n"), "x")
    assert not first_use_binds(body("x = x + 1\n"), "x")  # the value is read before the target binds
    assert not first_use_binds(body("for x in range(x):\n    pass\n"), "x")
    assert first_use_binds(body("y = 1\n"), "x")  # never used: nothing to break

"""merge_python on snippets with the shape of the conflicts a stack of kernel PRs produces."""

import ast
import textwrap

import pytest

from stacker.structural import merge_python


def dedent(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def merged(base: str, ours: str, theirs: str):
    result = merge_python(dedent(base), dedent(ours), dedent(theirs), "kernel.py")
    if result.is_clean:
        ast.parse(result.text)
    return result


def assert_clean(result, expected: str) -> None:
    assert result.is_clean, result.merged.render() + "\n" + repr(result.refusals)
    assert result.text == dedent(expected)


def assert_conflict(result, reason: str) -> None:
    assert not result.is_clean
    assert any(reason in r.reason for r in result.refusals), result.refusals


LAUNCH = """
class FlashAttnFwd:
    def __call__(self, q, k, v, stream):
        self.kernel(q, k, v).launch(
            grid=grid,
            block=[self.num_threads, 1, 1],
{extra}            stream=stream,
        )
"""


def launch(extra: str = "") -> str:
    return LAUNCH.format(extra=extra)


def test_two_prs_add_different_launch_kwargs_kept_in_stack_order():
    result = merged(launch(), launch("            smem=self.smem_size,\n"),
                    launch("            cluster=[1, 1, 1],\n"))
    assert_clean(result, launch("            smem=self.smem_size,\n            cluster=[1, 1, 1],\n"))
    [merge] = result.merges
    assert merge.kind == "call-arguments"
    assert merge.node == "FlashAttnFwd.__call__"
    assert "ours added `smem=`" in merge.summary and "theirs added `cluster=`" in merge.summary
    assert "cluster" in merge.after and "smem" in merge.before[1]


def test_same_launch_kwarg_with_different_values_stays_a_conflict():
    result = merged(launch(), launch("            smem=1024,\n"), launch("            smem=2048,\n"))
    assert_conflict(result, "both sides added 'smem")


def test_identical_kwarg_added_by_both_and_another_by_one():
    result = merged(launch(), launch("            smem=1024,\n            min_blocks=2,\n"),
                    launch("            smem=1024,\n"))
    assert result.is_clean
    assert result.text.count("smem=1024") == 1 and "min_blocks=2" in result.text


SIGNATURE = """
class FlashAttnFwd:
    def __init__(
        self,
        dtype,
        head_dim: int,
        is_causal: bool = False,
{params}    ):
        self.dtype = dtype
"""


def test_one_side_changes_a_default_the_other_adds_parameters():
    base = SIGNATURE.format(params="        tile_m: int = 128,\n")
    ours = SIGNATURE.format(params="        tile_m: int = 64,\n")
    theirs = SIGNATURE.format(params="        tile_m: int = 128,\n        p_dropout: float = 0.0,\n")
    result = merged(base, ours, theirs)
    assert_clean(result, SIGNATURE.format(params="        tile_m: int = 64,\n        p_dropout: float = 0.0,\n"))
    assert result.merges[0].kind == "parameters"


def test_both_sides_add_positional_parameters_stays_a_conflict():
    base = SIGNATURE.format(params="")
    ours = SIGNATURE.format(params="        aux_data=None,\n")
    theirs = SIGNATURE.format(params="        seed_lo=None,\n        seed_hi=None,\n")
    assert_conflict(merged(base, ours, theirs), "both sides added positional parameters")


def test_positional_parameter_renamed_on_one_side_and_added_on_the_other_stays_a_conflict():
    # The call sites that pass these positionally cannot be checked from here.
    base = SIGNATURE.format(params="        aux_tensors=None,\n")
    ours = SIGNATURE.format(params="        aux_data=None,\n")
    theirs = SIGNATURE.format(params="        aux_tensors=None,\n        seed=None,\n")
    assert_conflict(merged(base, ours, theirs), "positional parameters")


def test_both_sides_add_keyword_only_parameters():
    base = "def attention(q, k, *, causal=False):\n    return q\n"
    ours = "def attention(q, k, *, causal=False, softcap=0.0):\n    return q\n"
    theirs = "def attention(q, k, *, causal=False, dropout_p=0.0):\n    return q\n"
    assert_clean(merged(base, ours, theirs),
                 "def attention(q, k, *, causal=False, softcap=0.0, dropout_p=0.0):\n    return q\n")


def test_both_sides_add_positional_arguments_to_a_call_stays_a_conflict():
    base = "def run(kernel, q):\n    kernel(\n        q,\n        stream,\n    )\n"
    ours = "def run(kernel, q):\n    kernel(\n        q,\n        aux,\n        stream,\n    )\n"
    theirs = "def run(kernel, q):\n    kernel(\n        q,\n        seed,\n        stream,\n    )\n"
    assert_conflict(merged(base, ours, theirs), "both sides added positional arguments")


def test_return_annotation_on_one_side_new_parameter_on_the_other():
    base = "def f(a, b):\n    '''Doc.'''\n"
    ours = "def f(a, b) -> int:\n    '''Doc.'''\n"
    theirs = "def f(a, b, *, c=None):\n    '''Doc.'''\n"
    assert_clean(merged(base, ours, theirs), "def f(a, b, *, c=None) -> int:\n    '''Doc.'''\n")


DOC = '''
def flash_attn_func(q, k, v):
    """Attention.

    Args:
        q: queries.
        k: keys.
{entries}        v: values.

    Returns:
        out
    """
    return q
'''


def test_docstring_argument_lists_from_both_sides():
    base = DOC.format(entries="")
    ours = DOC.format(entries="        aux_scalars: scalar captures for score_mod.\n")
    theirs = DOC.format(entries="        dropout_p: dropout probability.\n"
                                "            0.0 disables it.\n")
    result = merged(base, ours, theirs)
    assert_clean(result, DOC.format(entries="        aux_scalars: scalar captures for score_mod.\n"
                                            "        dropout_p: dropout probability.\n"
                                            "            0.0 disables it.\n"))
    assert result.merges[0].kind == "docstring"


def test_docstring_prose_changed_on_both_sides_stays_a_conflict():
    base = 'def f():\n    """Compute the thing.\n\n    Fast.\n    """\n'
    ours = 'def f():\n    """Compute the thing.\n\n    Fast on SM90.\n    """\n'
    theirs = 'def f():\n    """Compute the thing.\n\n    Fast, and exact.\n    """\n'
    assert not merged(base, ours, theirs).is_clean


def test_identical_changes_on_both_sides():
    base = "out = attn(q, causal=False, window=None)\n"
    ours = "out = attn(q, causal=True, window=None, softcap=1.0)\n"
    theirs = "out = attn(q, causal=True, window=None)\n"
    result = merged(base, ours, theirs)
    assert_clean(result, ours)
    assert "both made `causal=`" in result.merges[0].summary


def test_identical_change_up_to_formatting():
    base = "def f():\n    return g(a)\n"
    ours = "def f():\n    return g(a, b=1)\n"
    theirs = "def f():\n    return g(a,  b = 1)\n"
    result = merged(base, ours, theirs)
    assert_clean(result, ours)
    assert result.merges[0].kind in ("identical", "call-arguments")


def test_delete_versus_modify_stays_a_conflict():
    base = "def a():\n    return 1\n\n\ndef b():\n    return 2\n"
    ours = "def b():\n    return 2\n"
    theirs = "def a():\n    return 10\n\n\ndef b():\n    return 2\n"
    result = merged(base, ours, theirs)
    assert not result.is_clean


def test_both_sides_add_methods_to_a_class():
    base = "class K:\n    def a(self):\n        return 1\n"
    ours = base + "\n    def b(self):\n        return 2\n"
    theirs = base + "\n    def c(self):\n        return 3\n"
    result = merged(base, ours, theirs)
    assert_clean(result, base + "\n    def b(self):\n        return 2\n" + "\n    def c(self):\n        return 3\n")
    assert result.merges[0].kind == "body-statements"


def test_both_sides_define_the_same_method_differently_stays_a_conflict():
    base = "class K:\n    def a(self):\n        return 1\n"
    ours = base + "\n    def b(self):\n        return 2\n"
    theirs = base + "\n    def b(self):\n        return 3\n"
    assert_conflict(merged(base, ours, theirs), "both sides added 'def b'")


BODY = """
class Fwd:
    def __call__(self, x, stream):
        tidx = thread_idx()
{a}        out = self.compute(x)
        return out
"""


def test_both_sides_insert_independent_assignments_in_a_function_body():
    base = BODY.format(a="")
    ours = BODY.format(a="        ctx.mask_mod = mask_mod\n")
    theirs = BODY.format(a="        ctx.dropout_p = dropout_p\n")
    assert_clean(merged(base, ours, theirs),
                 BODY.format(a="        ctx.mask_mod = mask_mod\n        ctx.dropout_p = dropout_p\n"))


def test_both_sides_insert_const_expr_blocks_that_call_functions_stays_a_conflict():
    base = BODY.format(a="")
    ours = BODY.format(a="        if const_expr(self.use_block_sparsity):\n            bs_row_scale = load_scale(x)\n")
    theirs = BODY.format(a="        if const_expr(self.is_dropout):\n            dropout_fn = make_dropout(x)\n")
    assert_conflict(merged(base, ours, theirs), "order may matter")


def test_both_sides_insert_statements_that_touch_the_same_state_stays_a_conflict():
    base = BODY.format(a="")
    ours = BODY.format(a="        self.tile = 64\n")
    theirs = BODY.format(a="        block = self.tile * 2\n")
    assert_conflict(merged(base, ours, theirs), "self.tile")


def test_inserted_return_is_never_interleaved():
    base = BODY.format(a="")
    ours = BODY.format(a="        if x is None:\n            return None\n")
    theirs = BODY.format(a="        y = 2\n")
    assert_conflict(merged(base, ours, theirs), "return")


def test_one_side_changes_a_statement_the_other_inserts_before_it():
    base = "def forward(q, seed):\n    out, lse = attn(\n        q,\n    )\n    return out\n"
    ours = "def forward(q, seed):\n    out, lse, p = attn(\n        q,\n    )\n    return out\n"
    theirs = ("def forward(q, seed):\n    if seed is None:\n        seed = 0\n"
              "    out, lse = attn(\n        q,\n    )\n    return out\n")
    assert_clean(merged(base, ours, theirs),
                 "def forward(q, seed):\n    if seed is None:\n        seed = 0\n"
                 "    out, lse, p = attn(\n        q,\n    )\n    return out\n")


def test_both_sides_append_to_a_list_literal_stays_a_conflict():
    # compile_args passed positionally: the order is the order of a signature elsewhere.
    base = "compile_args = [\n    q,\n    k,\n]\n"
    ours = "compile_args = [\n    q,\n    k,\n    aux,\n]\n"
    theirs = "compile_args = [\n    q,\n    k,\n    seed,\n]\n"
    assert_conflict(merged(base, ours, theirs), "order matters")


def test_dict_entries_with_distinct_keys_merge_and_same_key_conflicts():
    base = "cfg = {\n    'a': 1,\n}\n"
    ours = "cfg = {\n    'a': 1,\n    'b': 2,\n}\n"
    theirs = "cfg = {\n    'a': 1,\n    'c': 3,\n}\n"
    assert_clean(merged(base, ours, theirs), "cfg = {\n    'a': 1,\n    'b': 2,\n    'c': 3,\n}\n")
    same = "cfg = {\n    'a': 1,\n    'b': 4,\n}\n"
    assert not merged(base, ours, same).is_clean


def test_set_elements_merge():
    base = "ARCHS = {80, 90}\n"
    assert_clean(merged(base, "ARCHS = {80, 90, 100}\n", "ARCHS = {80, 90, 120}\n"), "ARCHS = {80, 90, 100, 120}\n")


def test_import_names_from_both_sides_keep_sorted_order():
    base = "from torch import (\n    Tensor,\n    nn,\n)\n"
    ours = "from torch import (\n    Tensor,\n    dtype,\n    nn,\n)\n"
    theirs = "from torch import (\n    Tensor,\n    cuda,\n    nn,\n)\n"
    result = merged(base, ours, theirs)
    assert_clean(result, "from torch import (\n    Tensor,\n    cuda,\n    dtype,\n    nn,\n)\n")
    assert result.merges[0].kind == "imports"


def test_import_statements_from_both_sides_keep_sorted_order():
    base = "import os\nimport sys\n\nx = 1\n"
    ours = "import math\nimport os\nimport sys\n\nx = 1\n"
    theirs = "import os\nimport re\nimport sys\n\nx = 1\n"
    assert_clean(merged(base, ours, theirs), "import math\nimport os\nimport re\nimport sys\n\nx = 1\n")
    ours = "import os\nimport pathlib\nimport sys\n\nx = 1\n"
    assert_clean(merged(base, ours, theirs), "import os\nimport pathlib\nimport re\nimport sys\n\nx = 1\n")


def test_both_sides_import_the_same_name_from_different_modules_stays_a_conflict():
    base = "import os\n\nx = 1\n"
    ours = "import os\nfrom a import tool\n\nx = 1\n"
    theirs = "import os\nfrom b import tool\n\nx = 1\n"
    assert not merged(base, ours, theirs).is_clean


def test_names_added_to_an_import_whose_module_the_other_side_changed_stay_a_conflict():
    # `cast` exists in `typing`, not in the `collections` theirs now imports from
    base = "from typing import NamedTuple\n\nx = 1\n"
    ours = "from typing import NamedTuple, cast\n\nx = 1\n"
    theirs = "from collections import namedtuple\n\nx = 1\n"
    assert_conflict(merged(base, ours, theirs), "module imported from changed")


def test_a_statement_only_one_side_reformatted_keeps_that_sides_layout():
    base = "import warnings\nfrom os import path, getenv\nfrom typing import (\n    Any, Dict\n)\n\nx = 1\n"
    ours = "from os import path, getenv\nfrom typing import (\n    Any, Dict\n)\nfrom typing import TYPE_CHECKING\n\nx = 1\n"
    theirs = "import warnings\nfrom os import getenv, path\nfrom typing import (Any,\n                    Dict)\n\nx = 1\n"
    assert_clean(merged(base, ours, theirs), "from os import getenv, path\nfrom typing import (Any,\n"
                 "                    Dict)\nfrom typing import TYPE_CHECKING\n\nx = 1\n")
    # a blank line theirs put above a statement separated it from the one ours deleted: not kept
    base, ours, theirs = ("def f():\n    a = 1\n    b = 2\n", "def f():\n    b = 2\n    c = 3\n",
                          "def f():\n    a = 1\n\n    b = 2\n    d = 4\n")
    assert_clean(merged(base, ours, theirs), "def f():\n    b = 2\n    c = 3\n    d = 4\n")


def test_a_blank_line_or_comment_one_side_put_above_a_statement_is_kept_whichever_side_it_is():
    base = "def f():\n    a = 1\n    b = 2\n    return a + b\n"
    changed = "def f():\n    a = 10\n    b = 2\n    return a + b\n"
    for above in ("\n", "    # b stays two\n"):
        spaced = base.replace("    b = 2\n", above + "    b = 2\n")
        expected = changed.replace("    b = 2\n", above + "    b = 2\n")
        assert_clean(merged(base, changed, spaced), expected)
        assert_clean(merged(base, spaced, changed), expected)


def test_decorators_added_by_both_sides_stay_a_conflict_but_one_side_merges():
    base = "@jit\ndef kernel(x):\n    return x\n"
    ours = "@jit\n@cache\ndef kernel(x):\n    return x\n"
    theirs = "@jit\n@trace\ndef kernel(x):\n    return x\n"
    assert_conflict(merged(base, ours, theirs), "order matters")
    theirs = "@jit\ndef kernel(x, y=0):\n    return x\n"
    assert_clean(merged(base, ours, theirs), "@jit\n@cache\ndef kernel(x, y=0):\n    return x\n")


def test_moved_function_changed_by_the_other_side_stays_a_conflict():
    base = "def a():\n    return 1\n\n\ndef b():\n    return 2\n\n\ndef c():\n    return 3\n"
    ours = "def b():\n    return 2\n\n\ndef c():\n    return 3\n\n\ndef a():\n    return 1\n"
    theirs = "def a():\n    return 10\n\n\ndef b():\n    return 2\n\n\ndef c():\n    return 30\n"
    assert not merged(base, ours, theirs).is_clean


def test_comments_and_formatting_are_kept():
    base = "f(\n    a=1,  # first\n    b=2,\n)\n"
    ours = "f(\n    a=1,  # first\n    # the second\n    b=2,\n    c=3,  # third\n)\n"
    theirs = "f(\n    a=1,  # first\n    b=2,\n    d=4,  # fourth\n)\n"
    assert_clean(merged(base, ours, theirs),
                 "f(\n    a=1,  # first\n    # the second\n    b=2,\n    c=3,  # third\n    d=4,  # fourth\n)\n")


def test_kwargs_on_one_line_and_missing_trailing_comma():
    base = "out = attn(q, k, causal=True)\n"
    ours = "out = attn(q, k, causal=True, softcap=0.5)\n"
    theirs = "out = attn(q, k, causal=True, window=(1, 1))\n"
    assert_clean(merged(base, ours, theirs), "out = attn(q, k, causal=True, softcap=0.5, window=(1, 1))\n")


def test_nested_call_arguments_inside_a_kwarg():
    base = "run(cfg=Config(\n    a=1,\n))\n"
    ours = "run(cfg=Config(\n    a=1,\n    b=2,\n))\n"
    theirs = "run(cfg=Config(\n    a=1,\n    c=3,\n))\n"
    assert_clean(merged(base, ours, theirs), "run(cfg=Config(\n    a=1,\n    b=2,\n    c=3,\n))\n")


def test_renamed_callee_and_new_argument_stays_a_conflict():
    base = "x = foo(a)\n"
    ours = "x = bar(a)\n"
    theirs = "x = foo(a, b)\n"
    assert not merged(base, ours, theirs).is_clean


def test_a_side_that_does_not_parse_falls_back_to_the_line_merge():
    base = "x = f(a)\n"
    ours = "x = f(a, b=1)\n"
    theirs = "x = f(a, c=2\n"  # broken
    result = merged(base, ours, theirs)
    assert not result.is_clean
    assert any("does not parse" in r.reason for r in result.refusals)


def test_deleted_import_still_used_by_the_other_side_stays_a_conflict():
    base = "from m import A\nfrom m import B\n\n\ndef f():\n    return A, B\n"
    ours = "from m import A\nfrom m import B\nfrom m import C\n\n\ndef f():\n    return A, B, C\n"
    theirs = "\n\ndef f():\n    return 1\n"
    assert not merged(base, ours, theirs).is_clean


def test_long_method_signature_conflict_is_merged_from_the_header():
    body = "".join(f"        x{i} = q * {i}\n" for i in range(300))
    base = "class K:\n    def kernel(\n        self,\n        q,\n    ):\n" + body
    ours = "class K:\n    def kernel(\n        self,\n        q,\n        *,\n        a=None,\n    ):\n" + body
    theirs = "class K:\n    def kernel(\n        self,\n        q,\n        *,\n        b=None,\n    ):\n" + body
    # Both add the same `*` (made once) and different keyword-only parameters after it.
    result = merged(base, ours, theirs)
    assert_clean(result, "class K:\n    def kernel(\n        self,\n        q,\n        *,\n        a=None,\n"
                         "        b=None,\n    ):\n" + body)


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_line_endings_are_kept(newline):
    base = launch().replace("\n", newline)
    ours = launch("            smem=1,\n").replace("\n", newline)
    theirs = launch("            cluster=2,\n").replace("\n", newline)
    result = merge_python(base, ours, theirs, "k.py")
    assert result.is_clean
    assert result.text == launch("            smem=1,\n            cluster=2,\n").replace("\n", newline)


def test_version_tuple_fields_changed_on_both_sides_stay_a_conflict():
    base = "version_info = (7, 1, 0, 'beta', 0)\n"
    ours = "version_info = (7, 2, 0, 'beta', 0)\n"
    theirs = "version_info = (7, 1, 0, 'final', 0)\n"
    assert_conflict(merged(base, ours, theirs), "known only by position")


LOOKALIKE = "\n\ndef {name}(q):\n    return launch(\n        q,\n{kwargs}    )\n"


def lookalike(*functions: tuple[str, str]) -> str:
    return "import os\n" + "".join(LOOKALIKE.format(name=n, kwargs=k) for n, k in functions)


def test_git_pairing_look_alike_functions_is_caught():
    # Theirs deletes f0 and adds t_new after f1; ours adds a keyword to f1. git aligns the
    # deletion with f0's header only, so the conflict shows ours' keyword inside t_new: merged
    # there, it would land in the wrong function. The definitions check refuses.
    two = "        k0=0,\n        k1=0,\n"
    base = lookalike(("f0", two), ("f1", two))
    ours = lookalike(("f0", two), ("f1", two + "        o_f1=1,\n"))
    theirs = lookalike(("f1", two), ("t_new", "        x=1,\n"))
    result = merge_python(base, ours, theirs, "kernels.py")
    assert not result.is_clean
    assert any("git paired look-alike lines" in r.reason for r in result.refusals)


def test_clean_line_merge_that_misplaces_a_definition_is_turned_into_a_conflict():
    # Both add the same function in different places: git's merge is clean and defines it twice.
    base = "import os\n"
    ours = "\n\ndef alpha():\n    pass\nimport os\n"
    theirs = "import os\n\n\ndef alpha():\n    pass\n"
    result = merge_python(base, ours, theirs, "m.py")
    assert not result.is_clean
    assert any("git's line merge is clean but" in r.reason for r in result.refusals)


def test_a_second_import_statement_for_one_module_is_left_to_a_human():
    # Ours adds a name to the existing typing import, theirs adds its own typing import next to
    # it: both bind the right names, but which statement to keep is a style decision.
    base = "from typing import Any\nimport os\n\nx = os\n"
    ours = "from typing import Any, Dict\nimport os\n\nx = os\ny: Dict = {}\n"
    theirs = "from typing import Any\nfrom typing import TYPE_CHECKING\nimport os\n\nx = os\nif TYPE_CHECKING:\n    pass\n"
    assert_conflict(merged(base, ours, theirs), "which style to keep")


def test_a_file_nested_too_deeply_to_analyse_is_left_to_git() -> None:
    # a 1,200-branch elif chain: the tree walks run out of stack; the function does not crash
    body = "def pick(a):\n    if a == 0:\n        return 0\n" + "".join(
        f"    elif a == {i}:\n        return {i}\n" for i in range(1, 1200))
    base = "a = 1\n" + body
    result = merge_python(base, base.replace("a = 1", "a = 2\nb = 1"), base.replace("a = 1", "a = 1\nc = 1"), "x.py")
    assert not result.merged.is_clean
    assert [r.reason for r in result.refusals] == ["nested too deeply to analyse: left to git"]

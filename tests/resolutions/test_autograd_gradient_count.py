"""D5: autograd backward gradient counts; the claim that moves #2439's kwargs onto main's call."""

from __future__ import annotations

from resolutions.autograd_gradient_count import AutogradGradientCount
from tests.resolutions.harness import assert_leaves, assert_rewrites, claim, dedent

IFACE = "flash_attn/cute/interface.py"

BEFORE = dedent("""
    class AttnFunc(Function):
        @staticmethod
        def forward(ctx, q, k, v, scale, causal, sink, drop_p, drop_seed):
            return q

        @staticmethod
        def backward(ctx, dout, *args):
            if ctx.mla:
                return dq, dk, *((None,) * 30)
            else:
                def helper():
                    return (1, 2)
                return dq, dk, dv, None, dsink, *((None,) * 1)
""")
# 8 inputs; the second return yields 6
AFTER = BEFORE.replace("dsink, *((None,) * 1)", "dsink, *((None,) * 3)")


def _files(text):
    return {IFACE: text.replace("AttnFunc", "FlashAttnFunc")}


def test_short_return_is_padded_through_its_last_none_repeat():
    assert_rewrites(AutogradGradientCount(), _files(BEFORE), _files(AFTER))


def test_return_without_a_none_repeat_gets_one():
    before = BEFORE.replace("dsink, *((None,) * 1)", "dsink")
    after = BEFORE.replace("dsink, *((None,) * 1)", "dsink, *((None,) * 3)")
    assert_rewrites(AutogradGradientCount(), _files(before), _files(after))


def test_enough_gradients_is_satisfied_and_extra_nones_are_fine():
    verdict = assert_leaves(AutogradGradientCount(), _files(AFTER.replace("* 3)", "* 9)")), "satisfied")
    assert "at least 8" in verdict.reason


def test_absent_without_autograd_functions():
    assert_leaves(AutogradGradientCount(), {IFACE: "def f():\n    return 1\n"}, "absent")


BASE_SECTION = """\
        dq, dk, dv = _flash_attn_bwd(
            q,
            k,
            window=ctx.window,
        )
        return dq, dk, dv, *((None,) * 30)
"""
THEIRS_SECTION = """\
        dq, dk, dv = _flash_attn_bwd(
            q,
            k,
            window=ctx.window,
            drop_p=ctx.drop_p,
            drop_seed=ctx.drop_seed,
        )
        return dq, dk, dv, *((None,) * 30)
"""
OURS_SECTION = """\
        if qv is not None:
            dq, dk, dv = _flash_attn_bwd_mla(q, k)
            return dq, dk, dv, *((None,) * 30)
        else:
            result = _flash_attn_bwd(
                q,
                k,
                window=ctx.window,
                sink=sink,
            )
            return *result, None, *((None,) * 4)
"""
MERGED_SECTION = """\
        if qv is not None:
            dq, dk, dv = _flash_attn_bwd_mla(q, k)
            return dq, dk, dv, *((None,) * 30)
        else:
            result = _flash_attn_bwd(
                q,
                k,
                window=ctx.window,
                sink=sink,
                drop_p=ctx.drop_p,
                drop_seed=ctx.drop_seed,
            )
            return *result, None, *((None,) * 4)
"""


def test_claim_moves_theirs_new_keywords_onto_ours_call():
    got = claim(AutogradGradientCount(), IFACE, "FlashAttnFunc.backward", BASE_SECTION, OURS_SECTION,
                THEIRS_SECTION, 2439, set())
    assert got == MERGED_SECTION


def test_claim_declines_when_theirs_did_more_than_add_keywords():
    theirs = THEIRS_SECTION.replace("(None,) * 30", "(None,) * 31")
    assert claim(AutogradGradientCount(), IFACE, "FlashAttnFunc.backward", BASE_SECTION, OURS_SECTION, theirs,
                 2439, set()) is None


def test_claim_declines_when_ours_has_the_call_twice():
    ours = OURS_SECTION.replace("_flash_attn_bwd_mla(q, k)", "_flash_attn_bwd(q, k)")
    assert claim(AutogradGradientCount(), IFACE, "FlashAttnFunc.backward", BASE_SECTION, ours, THEIRS_SECTION,
                 2439, set()) is None

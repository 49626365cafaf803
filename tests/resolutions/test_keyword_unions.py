"""Keyword unions at the listed calls only."""

from __future__ import annotations

from resolutions.keyword_unions import DropoutKeywordUnions
from tests.resolutions.harness import dedent
from tests.resolutions.whole_file import merge_with

BWD = "flash_attn/cute/flash_bwd.py"
BASE = dedent("""
    class FlashAttentionBackwardSm80:
        def kernel(self, a, b):
            step = partial(
                self.step, a=a, b=b,
                scale=scale,
            )
            other = dict(
                scale=scale,
            )
""")
END = "            scale=scale,\n        )\n        other"
OURS = BASE.replace(END, END.replace("scale,\n", "scale,\n            aux=aux,\n"))
THEIRS = BASE.replace(END, END.replace("scale,\n", "scale,\n            drop=drop,\n            drop_bwd=drop_bwd,\n"))


def test_union_inside_partial():
    merged, conflicts, _ = merge_with([DropoutKeywordUnions()], BWD, BASE, OURS, THEIRS)
    assert conflicts == 1
    assert "            aux=aux,\n            drop=drop,\n            drop_bwd=drop_bwd,\n" in merged


def test_not_in_another_call_nor_on_a_repeated_name():
    def swap(text):
        return text.replace("step = partial(", "step = dict(").replace("other = dict(", "other = partial(")
    merged, _, _ = merge_with([DropoutKeywordUnions()], BWD, swap(BASE), swap(OURS), swap(THEIRS))
    assert merged is None
    merged, _, _ = merge_with([DropoutKeywordUnions()], BWD, BASE, OURS, THEIRS.replace("drop_bwd=", "aux="))
    assert merged is None


IFACE = "flash_attn/cute/interface.py"
VARLEN_BASE = dedent("""
    class FlashAttnVarlenFunc:
        def forward(ctx, q, meta=None, drop_p=0.0):
            out = _flash_attn_fwd(
                q,
                causal=causal,
            )
""")
VARLEN_OURS = VARLEN_BASE.replace("            causal=causal,\n", "            causal=causal,\n            meta=meta,\n")
VARLEN_THEIRS = VARLEN_BASE.replace("            causal=causal,\n", "            causal=causal,\n            drop_p=drop_p,\n")


def test_union_in_the_varlen_forward_call():
    merged, _, _ = merge_with([DropoutKeywordUnions()], IFACE, VARLEN_BASE, VARLEN_OURS, VARLEN_THEIRS)
    assert "            meta=meta,\n            drop_p=drop_p,\n" in merged

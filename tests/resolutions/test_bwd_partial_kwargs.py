"""The step partial's keyword union (inside `partial(...)` only)."""

from __future__ import annotations

from resolutions.bwd_partial_kwargs import BwdPartialKwargs
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
    merged, conflicts, _ = merge_with([BwdPartialKwargs()], BWD, BASE, OURS, THEIRS)
    assert conflicts == 1
    assert "            aux=aux,\n            drop=drop,\n            drop_bwd=drop_bwd,\n" in merged


def test_not_in_another_call_nor_on_a_repeated_name():
    def swap(text):
        return text.replace("step = partial(", "step = dict(").replace("other = dict(", "other = partial(")
    merged, _, _ = merge_with([BwdPartialKwargs()], BWD, swap(BASE), swap(OURS), swap(THEIRS))
    assert merged is None
    merged, _, _ = merge_with([BwdPartialKwargs()], BWD, BASE, OURS, THEIRS.replace("drop_bwd=", "aux="))
    assert merged is None

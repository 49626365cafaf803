"""Step-4 hunk: main's `aux_data` and #2439's dropout closures both go to the SM80 backward's step partial.

Keyword arguments, so their order is free; the structural merge leaves this call alone because
the call mixes several arguments per line with one per line (it refuses calls whose sides lay
arguments out differently). A plain union, recorded here so the log says why it is safe.
"""

from __future__ import annotations

import libcst as cst

from stacker.cstedit import callee_name
from stacker.hunks import keyword_union
from stacker.pysource import definition_span, node_spans
from stacker.resolution import ConflictContext, Resolution

BWD = "flash_attn/cute/flash_bwd.py"
KERNEL = "FlashAttentionBackwardSm80.kernel"


class BwdPartialKwargs(Resolution):
    id = "bwd-step-partial-kwargs"
    title = "SM80 backward step `partial(...)`: main's `aux_data=` and #2439's dropout closures, both"
    kind = "minor"
    prs = (2439,)
    location = f"{BWD}::{KERNEL}"
    sides = {
        "main (f3b4de56 #2616)": "`aux_data=aux_data` on `partial(self.compute_one_m_block, ...)`",
        "#2439": "`dropout_fn=dropout_fn, dropout_bwd_fn=dropout_bwd_fn` on the same call",
    }
    resolution = "union, main's first (keyword arguments: the order does not matter)"
    backport = "none needed"

    def claim(self, conflict: ConflictContext) -> str | None:
        if conflict.qualname != KERNEL:
            return None
        span = definition_span(conflict.views[1], KERNEL)
        start, end = conflict.lines
        if span is None or end <= start:
            return None
        inside = any(callee_name(node) == "partial" and span[0] <= a and a < start + 1 and end < b <= span[1]
                     for node, a, b in node_spans(conflict.views[1], (cst.Call,)))
        return keyword_union(conflict.hunk) if inside else None

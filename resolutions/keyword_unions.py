"""Step-4 hunks: #2439's keyword arguments beside main's at the same call — both, main's first.

Keyword arguments, so their order is free; still the generic layers leave these two alone:
- the SM80 backward's step `partial(self.compute_one_m_block, ...)` (main's `aux_data=`, #2439's
  dropout closures): the structural merge refuses the call because it mixes several arguments per
  line with one per line;
- `FlashAttnVarlenFunc.forward`'s `_flash_attn_fwd(...)` (main's scheduler keywords, #2439's dropout
  keywords): the same statement also carries a second conflict (its assignment target, and #2439's
  seed default just above), and no layer takes a statement with two conflicts in it. Once this hunk
  is settled, the structural merge takes the other one.
"""

from __future__ import annotations

import libcst as cst

from stacker.cstedit import callee_name
from stacker.hunks import keyword_union
from stacker.pysource import definition_span, node_spans
from stacker.resolution import ConflictContext, Resolution

BWD = "flash_attn/cute/flash_bwd.py"
INTERFACE = "flash_attn/cute/interface.py"
SITES = (  # (path, definition, callee whose keyword arguments both sides extended)
    (BWD, "FlashAttentionBackwardSm80.kernel", "partial"),
    (INTERFACE, "FlashAttnVarlenFunc.forward", "_flash_attn_fwd"),
)


class DropoutKeywordUnions(Resolution):
    id = "dropout-keyword-unions"
    title = "#2439's keyword arguments beside main's on the same call: both (the order is free)"
    kind = "minor"
    prs = (2439,)
    location = f"{BWD}::FlashAttentionBackwardSm80.kernel"
    also_at = (f"{INTERFACE}::FlashAttnVarlenFunc.forward",)
    sides = {
        "main (f3b4de56 #2616, a19e1c6f #2559)": "`aux_data=aux_data` on the SM80 backward's step `partial(...)`; "
                                                 "`scheduler_metadata=`, `seqlen_k_per_split=`, "
                                                 "`disable_scheduler_metadata=` on the varlen `_flash_attn_fwd(...)`",
        "#2439": "`dropout_fn=`, `dropout_bwd_fn=` on the same `partial(...)`; `dropout_p=`, `dropout_seed=` on "
                 "the same `_flash_attn_fwd(...)`",
    }
    resolution = "union, main's first (keyword arguments: the order does not matter; no name on both sides)"
    backport = "none needed"

    def claim(self, conflict: ConflictContext) -> str | None:
        start, end = conflict.lines
        for path, qualname, callee in SITES:
            if path != conflict.path or conflict.qualname != qualname:
                continue
            span = definition_span(conflict.views[1], qualname)
            if span is None or end <= start:
                return None
            inside = any(callee_name(node) == callee and span[0] <= a < start + 1 and end < b <= span[1]
                         for node, a, b in node_spans(conflict.views[1], (cst.Call,)))
            return keyword_union(conflict.hunk) if inside else None
        return None

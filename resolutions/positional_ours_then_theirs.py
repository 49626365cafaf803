"""Issue-4 entry 4, extended: positional parameters and arguments both sides added — ours first, then theirs.

Where both sides appended to the same positional parameter list, and to the positional call that
binds it, the order is a decision (the structural merge rightly refuses it): the call and the
signature must agree element by element. This bundle's rule is the issue's "keep both, the bundle's
first (#2389's `blocksparse_tensors`, main's additions), then #2439's (`dropout_nheads`, seeds)",
applied the same way at both ends of every coupled pair:

- `FlashAttentionForwardSm80.kernel(...)` / its `self.kernel(...)` launch; the same for the SM80
  backward;
- `FlashAttnVarlenFunc.forward(...)` / `FlashAttnVarlenFunc.apply(...)` in `flash_attn_varlen_func`;
- signatures whose callers pass keywords (`FlashAttentionForwardSm100.__init__`,
  `FlashAttentionBackwardSm100.__init__`, `_flash_attn_fwd`, `_flash_attn_bwd`,
  `flash_attn_varlen_func`): the same order keeps every existing positional caller valid, main's
  parameters keep their positions;
- `_flash_attn_bwd`'s two `compile_key` tuples (main rewrote and appended elements, #2439 appended
  `dropout_p`): a cache key, any fixed order works; the same rule keeps it predictable.
The seeds of the kernels' `__call__`s are a different decision (dropout-seeds-last).
"""

from __future__ import annotations

import libcst as cst

from stacker.cstedit import callee_name
from stacker.hunks import ours_then_theirs
from stacker.pysource import definition_span, node_spans
from stacker.resolution import ConflictContext, Resolution

FWD, BWD = "flash_attn/cute/flash_fwd.py", "flash_attn/cute/flash_bwd.py"
FWD_SM100 = "flash_attn/cute/flash_fwd_sm100.py"
BWD_SM100 = "flash_attn/cute/flash_bwd_sm100.py"
INTERFACE = "flash_attn/cute/interface.py"

# (path, definition, what): "params" = its parameter list; "=name" = the elements of a literal assigned
# to `name`; any other string = the positional arguments of that callee's calls inside the definition.
SITES = (
    (FWD, "FlashAttentionForwardSm80.kernel", "params"),
    (FWD, "FlashAttentionForwardSm80.__call__", "self.kernel"),
    (BWD, "FlashAttentionBackwardSm80.kernel", "params"),
    (BWD, "FlashAttentionBackwardSm80.__call__", "self.kernel"),
    (FWD_SM100, "FlashAttentionForwardSm100.__init__", "params"),
    (BWD_SM100, "FlashAttentionBackwardSm100.__init__", "params"),
    (INTERFACE, "_flash_attn_fwd", "params"),
    (INTERFACE, "_flash_attn_bwd", "params"),
    (INTERFACE, "_flash_attn_bwd", "=compile_key"),
    (INTERFACE, "FlashAttnVarlenFunc.forward", "params"),
    (INTERFACE, "flash_attn_varlen_func", "params"),
    (INTERFACE, "flash_attn_varlen_func", "FlashAttnVarlenFunc.apply"),
)


def _inside(source: str, qualname: str, what: str, start: int, end: int) -> bool:
    """Whether the ours lines [start, end) (0-based) sit in `what` of definition `qualname`."""
    span = definition_span(source, qualname)
    if span is None or end <= start:
        return False
    first, last = start + 1, end  # 1-based inclusive
    if what == "params":
        lists = [(a, b) for node, a, b in node_spans(source, (cst.Parameters,)) if span[0] <= a <= span[1]]
        # the definition's own parameter list is the first one inside it; a hunk may run on past its
        # closing parenthesis (a changed return annotation), but it starts inside it
        return bool(lists) and lists[0][0] <= first <= lists[0][1]
    if what.startswith("="):
        target = what[1:]
        literals = [(a, b) for node, a, b in node_spans(source, (cst.Assign,))
                    if span[0] <= a and b <= span[1] and isinstance(node.value, (cst.Tuple, cst.List))
                    and any(isinstance(t.target, cst.Name) and t.target.value == target for t in node.targets)]
        return any(a < first and last < b for a, b in literals)
    calls = [(a, b) for node, a, b in node_spans(source, (cst.Call,))
             if callee_name(node) == what and span[0] <= a and b <= span[1]]
    return any(a < first and last < b for a, b in calls)


class PositionalOursThenTheirs(Resolution):
    id = "positional-ours-then-theirs"
    title = "Positional parameters/arguments both sides added: the bundle's first, then #2439's, at both ends"
    kind = "minor"
    prs = (2439,)
    location = f"{FWD}::FlashAttentionForwardSm80"
    also_at = (f"{BWD}::FlashAttentionBackwardSm80", f"{FWD_SM100}::FlashAttentionForwardSm100.__init__",
               f"{BWD_SM100}::FlashAttentionBackwardSm100.__init__",
               f"{INTERFACE}::_flash_attn_fwd", f"{INTERFACE}::_flash_attn_bwd",
               f"{INTERFACE}::FlashAttnVarlenFunc.forward", f"{INTERFACE}::flash_attn_varlen_func")
    sides = {
        "#2389": "`blocksparse_tensors` appended to `kernel(...)` and its `self.kernel(...)` launch",
        "main (a19e1c6f, f3b4de56, d3503144, b2dc65d1, 32748bee)": "`aux_data`, scheduler parameters "
                                                                    "(`seqlen_k_per_split`, `scheduler_metadata`, ...), "
                                                                    "`learnable_sink`, `q/kv_subtile_factor` appended to "
                                                                    "kernels, `_flash_attn_fwd/bwd`, "
                                                                    "`FlashAttnVarlenFunc.forward` / `.apply(...)`; the "
                                                                    "backward compile keys rewritten and extended",
        "#2439": "`dropout_nheads, dropout_seed_lo, dropout_seed_hi` / `dropout_p, dropout_seed` appended at the "
                 "same places",
    }
    resolution = ("keep both, the bundle's first then #2439's, identically at the signature and its positional "
                  "call (kernel/launch, autograd forward/apply); main's parameters keep their positions")
    backport = "none needed: #2439 appends after whatever is there when it rebases"

    def claim(self, conflict: ConflictContext) -> str | None:
        start, end = conflict.lines
        for path, qualname, what in SITES:
            if path != conflict.path or not (conflict.qualname == qualname
                                             or conflict.qualname.startswith(qualname + ".")):
                continue
            if _inside(conflict.views[1], qualname, what, start, end):
                return ours_then_theirs(conflict.hunk)
        return None

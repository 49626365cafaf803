"""CW14: #2439's SM100 forward converts the seeds with `cutlass.cast`, which today's CuTe DSL lacks.

`cutlass.cast(x, cutlass.Uint32)` does not exist in nvidia-cutlass-dsl 4.8.1 (main needs >= 4.6.2):
compiling the SM100 forward with dropout fails with "module 'cutlass' has no attribute 'cast'".
#2439 itself writes `cutlass.Uint32(x)` in its SM80/SM90/backward kernels; the same here.
"""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from stacker.cstedit import transform_nodes, walk
from stacker.resolution import Resolution, SourceTree, Verdict

PATH = "flash_attn/cute/flash_fwd_sm100.py"
_CAST = m.Call(func=m.Attribute(value=m.Name("cutlass"), attr=m.Name("cast")), args=[m.Arg(keyword=None),
                                                                                     m.Arg(keyword=None)])


def _as_constructor(call: cst.Call) -> cst.Call:
    value, dtype = call.args
    return cst.Call(func=dtype.value, args=[value.with_changes(comma=cst.MaybeSentinel.DEFAULT)])


class Sm100DropoutUint32(Resolution):
    id = "sm100-dropout-uint32"
    title = "SM100 forward dropout seeds via `cutlass.Uint32(x)`, not the removed `cutlass.cast`"
    kind = "bug"
    found_in = 2439
    prs = (2439,)
    location = f"{PATH}::FlashAttentionForwardSm100.softmax_loop"
    sides = {
        "main": "requires nvidia-cutlass-dsl >= 4.6.2, which has no `cutlass.cast`",
        "#2439": "`seed_lo=cutlass.cast(dropout_seed_lo, cutlass.Uint32)` (and `seed_hi`) in the SM100 softmax loop",
    }
    resolution = "`cutlass.cast(x, T)` -> `T(x)`, as #2439 does in its other kernels"
    backport = "#2439: use `cutlass.Uint32(x)`"

    def inspect(self, tree: SourceTree) -> Verdict:
        module = tree.module(PATH)
        if module is None:
            return Verdict.absent(f"no {PATH}")
        casts = [n for n in walk(module) if m.matches(n, _CAST)]
        if casts:
            return Verdict.needed(f"{len(casts)} `cutlass.cast(...)` call(s)")
        return Verdict.satisfied("no `cutlass.cast(...)` calls")

    def rewrite(self, tree: SourceTree) -> None:
        tree.write(PATH, transform_nodes(tree.module(PATH), _CAST, _as_constructor))

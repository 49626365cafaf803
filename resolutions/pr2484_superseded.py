"""D7 (#2484): main fixed SM120's arch and GQA/MQA differently; #2484 is not applied.

#2484 gives `FlashAttentionForwardSm120` an `__init__` that forces `self.arch = Arch.sm_80`, sets
`self.is_split_kv = False` and `self.pack_gqa = False`. main (2821c89d #2671) already has an `__init__`
forcing `self.arch = Arch.sm_80`, and (80b79f0b #2656) implements Pack-GQA on the SM80/SM120 path.
git merges #2484's `__init__` cleanly *below* main's — a second definition that silently wins:
split-KV (#2348) then fails to compile (`All tensors must have the same data type`: the kernel
expects non-split O while it gets the FP32 partials) and Pack-GQA is switched off while
`interface.py` still builds Pack-GQA varlen metadata. The PR adds nothing main lacks, so the
step is skipped, with the reason in the log. Issue-4 entry 5 itself (the `pack_gqa = False` fix
#2484 carried) is recorded per class by `sm120-cpasync-packed-gqa` (not applicable: main's Pack-GQA)
and `sm120-tma-unpacked-gqa` (applied to #2349's TMA class).
"""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from stacker.cstedit import find_definition, walk
from stacker.resolution import Resolution, SourceTree

PATH = "flash_attn/cute/flash_fwd_sm120.py"
CLASS = "FlashAttentionForwardSm120"

_FORCES_SM80 = m.Assign(targets=[m.AssignTarget(m.Attribute(value=m.Name("self"), attr=m.Name("arch")))],
                        value=m.Attribute(value=m.Name("Arch"), attr=m.Name("sm_80")))


class Pr2484Superseded(Resolution):
    id = "pr2484-superseded"
    title = "#2484 (SM120 `__init__`: arch, split-KV and Pack-GQA off) is superseded by main: not applied"
    kind = "conflict"
    prs = (2484,)
    location = f"{PATH}::{CLASS}"
    sides = {
        "main (2821c89d #2671, 80b79f0b #2656)": f"`{CLASS}.__init__` forces `self.arch = Arch.sm_80`; the SM80 path "
                                                 "runs SM120 GQA/MQA with Pack-GQA (GPU-checked per issue 4)",
        "#2484": "a second `__init__` forcing `self.arch = Arch.sm_80`, `self.is_split_kv = False` and "
                 "`self.pack_gqa = False` (issue-4 entry 5's fix for the CpAsync class)",
    }
    resolution = ("#2484 is not applied (no commit): main already forces sm_80; its `is_split_kv = False` would "
                  "kill #2348's SM120 split-KV and its `pack_gqa = False` would silently disable main's SM120 "
                  "Pack-GQA (issue-4 entry 5 per class: sm120-cpasync-packed-gqa, sm120-tma-unpacked-gqa)")
    backport = ("close #2484 (closed upstream); nothing to port. Should main drop its own `__init__`, this "
                "resolution stops matching and #2484 is applied again: review it then (its `is_split_kv = False` "
                "breaks #2348's SM120 split-KV, which the compile gate's split-KV case shows)")

    def supersedes(self, pr: int, tree: SourceTree) -> str | None:
        module = tree.module(PATH)
        init = find_definition(module, f"{CLASS}.__init__") if module else None
        if not isinstance(init, cst.FunctionDef):
            return None
        if not any(m.matches(n, _FORCES_SM80) for n in walk(init)):
            return None
        return (f"main's {CLASS}.__init__ already forces `self.arch = Arch.sm_80` (2821c89d) and main runs SM120 "
                f"GQA/MQA through Pack-GQA (80b79f0b); #2484's second __init__ would also set "
                f"`is_split_kv = False` (breaks #2348's split-KV) and `pack_gqa = False` (silently disables "
                f"Pack-GQA)")

"""Step-4 hunks where main and #2439 made the same fix in different words: main's words are kept.

Neither is a decision, but neither is textually equal either, so the generic layers cannot see it:
- the SM80 backward's `softmax_scale_log2`: both sides stop `compute_softmax_scale_log2`'s `None`
  reaching the traced `__call__` (main binds it to `_`, #2439 recomputes the value inline);
- the SM80 forward's `use_tma_O`: the same predicate (`sm_90 <= arch < sm_120`), written as a
  chained comparison by main and as a conjunction by #2439 (checked by evaluating both).
"""

from __future__ import annotations

import re
from types import SimpleNamespace

import libcst as cst

from stacker.cstedit import code, parse_statements, walk
from stacker.hunks import dedent_block
from stacker.resolution import ConflictContext, Resolution

BWD = "flash_attn/cute/flash_bwd.py"
FWD = "flash_attn/cute/flash_fwd.py"


def _assignments(section: str) -> list[cst.Assign] | None:
    module = parse_statements(dedent_block(section)[1])
    if module is None:
        return None
    return [n for n in walk(module) if isinstance(n, cst.Assign)]


def _bound(assign: cst.Assign) -> set[str]:
    return {n.value for t in assign.targets for n in walk(t.target) if isinstance(n, cst.Name)}


class SoftmaxScaleNoneFixedByMain(Resolution):
    id = "bwd-softmax-scale-none-fixed-by-main"
    title = "SM80 backward `softmax_scale_log2`: #2439's inline recomputation = main's fix; main's kept"
    kind = "minor"
    prs = (2439,)
    location = f"{BWD}::FlashAttentionBackwardSm80.__call__"
    sides = {
        "main (2821c89d #2671)": "`softmax_scale_log2, _ = utils.compute_softmax_scale_log2(...)` (the `None` scale "
                                 "is not rebound)",
        "#2439": "computes `softmax_scale_log2` inline \"to avoid None return value that the DSL compiler cannot "
                 "handle\"",
    }
    resolution = "main's line (the same fix; `softmax_scale` stays the caller's value on both)"
    backport = "#2439: drop its inline recomputation (main has the fix)"

    def claim(self, conflict: ConflictContext) -> str | None:
        ours, theirs = _assignments(conflict.hunk.ours), _assignments(conflict.hunk.theirs)
        if not ours or theirs is None or len(ours) != 1:
            return None
        call_ours = [n for n in walk(ours[0].value) if isinstance(n, cst.Call)]
        if not call_ours or not code(call_ours[0].func).endswith("compute_softmax_scale_log2"):
            return None
        bound_ours = _bound(ours[0]) - {"_"}
        bound_theirs = set().union(*(_bound(a) for a in theirs)) if theirs else set()
        if bound_ours != {"softmax_scale_log2"} or bound_theirs != {"softmax_scale_log2"}:
            return None  # theirs binds something else too: not the same fix
        return conflict.hunk.ours


_ARCH = re.compile(r"sm_(\d+)")


def _predicate(section: str) -> tuple[str, str] | None:
    """(target, expression) of the section's one assignment, comments aside."""
    assigns = _assignments(section)
    if assigns is None or len(assigns) != 1 or len(assigns[0].targets) != 1:
        return None
    return code(assigns[0].targets[0].target), code(assigns[0].value)


def _truth_table(expression: str) -> tuple[bool, ...] | None:
    names = set(_ARCH.findall(expression))
    arch = SimpleNamespace(**{f"sm_{n}": int(n) for n in names})
    samples = sorted({int(n) for n in names} | {70, 80, 86, 89, 90, 100, 103, 110, 120, 121, 130})
    try:
        compiled = compile(expression, "<predicate>", "eval")
        allowed = {"Arch", "self", "arch", *vars(arch)}
        if any(name not in allowed for name in compiled.co_names):
            return None
        return tuple(bool(eval(compiled, {"__builtins__": {}}, {"Arch": arch, "self": SimpleNamespace(arch=a)}))
                     for a in samples)
    except Exception:  # anything but plain comparisons of self.arch: not this resolution's hunk
        return None


class UseTmaOSamePredicate(Resolution):
    id = "use-tma-o-same-predicate"
    title = "SM80 forward `use_tma_O`: #2439's predicate = main's; main's kept"
    kind = "minor"
    prs = (2439,)
    location = f"{FWD}::FlashAttentionForwardSm80.__call__"
    sides = {
        "main (80b79f0b #2656)": "`self.use_tma_O = Arch.sm_90 <= self.arch < Arch.sm_120`",
        "#2439": "`self.use_tma_O = self.arch >= Arch.sm_90 and self.arch < Arch.sm_120` (SM80 and SM120 use CpAsync)",
    }
    resolution = "main's line: both predicates agree on every arch (checked by evaluating them)"
    backport = "#2439: drop the change (main has it)"

    def claim(self, conflict: ConflictContext) -> str | None:
        ours, theirs = _predicate(conflict.hunk.ours), _predicate(conflict.hunk.theirs)
        if ours is None or theirs is None or ours[0] != theirs[0] or "arch" not in ours[1]:
            return None
        table = _truth_table(ours[1])
        if table is None or table != _truth_table(theirs[1]):
            return None
        return conflict.hunk.ours

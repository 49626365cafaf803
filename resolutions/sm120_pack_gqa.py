"""CW6 — GQA/MQA on the SM120 forward kernels (issue 4, entry 5), both halves.

The 2026 log forced `self.pack_gqa = False` in both SM120 forward classes, because the Sm80
epilogue took its Pack-GQA path on layouts that were never packed ("unable to compute crd2idx" in
`pack_gqa.store_O`). Today the halves differ:
- #2349's TMA kernel still never packs Q/O/LSE (TMA tiles the unpacked modes), so it must run GQA
  unpacked: needed.
- main's CpAsync class forces the Sm80 code paths (2821c89d: `self.arch = Arch.sm_80` in `__init__`)
  and main's Sm80 `__call__` packs GQA layouts (80b79f0b, GPU-checked on SM120): forcing it off
  would only desync the varlen tile metadata interface.py builds with pack_gqa. Not applicable.
"""

from __future__ import annotations

from pathlib import Path

import libcst as cst
import libcst.matchers as m

from stacker.cstedit import calls_to, find_definition
from stacker.plugins import load_stack_module
from stacker.resolution import Resolution, SourceTree, Verdict

sm120 = load_stack_module(Path(__file__).with_name("_sm120.py"), namespace="stacker_resolution")

_UNPACK = m.SimpleStatementLine(body=[m.Assign(
    targets=[m.AssignTarget(target=m.Attribute(value=m.Name("self"), attr=m.Name("pack_gqa")))],
    value=m.Name("False"))])
_SUPER_INIT = m.SimpleStatementLine(body=[m.Expr(value=m.Call(func=m.Attribute(
    value=m.Call(func=m.Name("super")), attr=m.Name("__init__"))))])
_FORCE_SM80 = m.SimpleStatementLine(body=[m.Assign(
    targets=[m.AssignTarget(target=m.Attribute(value=m.Name("self"), attr=m.Name("arch")))],
    value=m.Attribute(value=m.Name("Arch"), attr=m.Name("sm_80")))])


def _init(module: cst.Module | None, cls: str) -> cst.FunctionDef | None:
    node = find_definition(module, f"{cls}.__init__") if module is not None else None
    return node if isinstance(node, cst.FunctionDef) else None


def _unpacks_after_super(init: cst.FunctionDef) -> bool:
    statements = sm120.block_statements(init.body)
    first_super = next((i for i, s in enumerate(statements) if m.matches(s, _SUPER_INIT)), None)
    return first_super is not None and any(m.matches(s, _UNPACK) for s in statements[first_super + 1:])


def _packs_gqa(module: cst.Module | None, qualname: str) -> bool:
    """Whether the class (or function) at `qualname` applies `pack_gqa_layout` itself."""
    node = find_definition(module, qualname) if module is not None else None
    return node is not None and bool(calls_to(node, "pack_gqa_layout"))


class TmaUnpackedGqa(Resolution):
    id = "sm120-tma-unpacked-gqa"
    title = "TMA SM120 kernel runs GQA/MQA unpacked: self.pack_gqa = False (issue 4, entry 5, TMA half; CW6)"
    kind = "bug"
    found_in = 2349
    prs = (2349,)
    location = f"{sm120.TMA}::{sm120.TMA_CLASS}.__init__"
    sides = {"#2349": "the TMA kernel tiles unpacked Q/O/LSE and indexes K/V by head_idx // qhead_per_kvhead, but "
                      "inherits pack_gqa=True from the dispatch; the shared epilogue then takes the Pack-GQA store "
                      "('unable to compute crd2idx' in pack_gqa.store_O for GQA 16/4)",
             "main": "the dispatch passes pack_gqa=qhead_per_kvhead > 1 to every SM120 forward"}
    resolution = "`self.pack_gqa = False` after super().__init__() in FlashAttentionForwardSm120Tma.__init__"
    backport = "#2349 (or pack Q/O/LSE in the TMA kernel, which retires this resolution: it checks for pack_gqa_layout)"

    def inspect(self, tree: SourceTree) -> Verdict:
        tma = tree.module(sm120.TMA)
        init = _init(tma, sm120.TMA_CLASS)
        if init is None:
            return Verdict.absent(f"no {sm120.TMA_CLASS}.__init__")
        if _packs_gqa(tma, sm120.TMA_CLASS):
            return Verdict.absent("the TMA kernel applies pack_gqa_layout itself now: Pack-GQA may stay on")
        if _unpacks_after_super(init):
            return Verdict.satisfied("the TMA kernel sets self.pack_gqa = False after super().__init__()")
        return Verdict.needed("the TMA kernel never packs Q/O/LSE but keeps pack_gqa from the dispatch")

    def rewrite(self, tree: SourceTree) -> None:
        tma = tree.module(sm120.TMA)
        init = _init(tma, sm120.TMA_CLASS)
        statement = cst.parse_statement(
            "# The TMA path never packs Q/O/LSE (TMA tiles the unpacked (seqlen, dim) modes; K/V are\n"
            "# indexed by head_idx // qhead_per_kvhead): GQA/MQA run unpacked, and the shared epilogue\n"
            "# must not take its Pack-GQA store.\n"
            "self.pack_gqa = False\n")
        body = [*sm120.block_statements(init.body), statement]
        tree.write(sm120.TMA, tma.deep_replace(init, init.with_changes(body=init.body.with_changes(body=body))))


class CpAsyncPackedGqa(Resolution):
    id = "sm120-cpasync-packed-gqa"
    title = "SM120 CpAsync kernel keeps main's Pack-GQA (issue 4, entry 5, CpAsync half)"
    kind = "bug"
    prs = ()
    location = f"{sm120.SM120}::{sm120.CPASYNC_CLASS}.__init__"
    sides = {"2026 log": "forced self.pack_gqa = False in both SM120 classes (then via #2484): Sm80's epilogue took "
                         "the Pack-GQA path on unpacked layouts",
             "main (2821c89d, 80b79f0b)": "FlashAttentionForwardSm120.__init__ forces self.arch = Arch.sm_80; "
                                          "Sm80.__call__ packs the GQA layouts (pack_gqa_layout) — SM120 GQA/MQA "
                                          "runs packed and correct"}
    resolution = ("not applicable on a main with both: forcing pack_gqa off there would desync interface.py's "
                  "pack_gqa-based varlen tile metadata; on an older main, self.pack_gqa = False as the log did")
    backport = "none: main fixed it (2821c89d, 80b79f0b); #2484 is superseded (D7)"

    def inspect(self, tree: SourceTree) -> Verdict:
        module = tree.module(sm120.SM120)
        if module is None or find_definition(module, sm120.CPASYNC_CLASS) is None:
            return Verdict.absent(f"no {sm120.CPASYNC_CLASS} in {sm120.SM120}")
        init = _init(module, sm120.CPASYNC_CLASS)
        forced = init is not None and any(m.matches(s, _FORCE_SM80) for s in sm120.block_statements(init.body))
        packs = _packs_gqa(tree.module(sm120.FLASH_FWD), "FlashAttentionForwardSm80")
        unpacked = init is not None and _unpacks_after_super(init)
        if forced and packs:
            # A `self.pack_gqa = False` here would be #2484's, which D7 keeps out of the bundle.
            return Verdict.absent("main forces the Sm80 code paths in FlashAttentionForwardSm120.__init__ (2821c89d) "
                                  "and Sm80.__call__ packs GQA (80b79f0b): SM120 Pack-GQA works, forcing it off "
                                  "would desync the pack_gqa-based varlen tile metadata")
        if unpacked:
            return Verdict.satisfied("the CpAsync class runs GQA unpacked (main without Sm80 Pack-GQA)")
        return Verdict.needed("main's CpAsync SM120 class would take the Pack-GQA epilogue on unpacked layouts")

    def rewrite(self, tree: SourceTree) -> None:
        module = tree.module(sm120.SM120)
        init = _init(module, sm120.CPASYNC_CLASS)
        if init is not None:
            body = [*sm120.block_statements(init.body), cst.parse_statement("self.pack_gqa = False\n")]
            tree.write(sm120.SM120, module.deep_replace(init, init.with_changes(body=init.body.with_changes(body=body))))
            return
        cls = find_definition(module, sm120.CPASYNC_CLASS)
        new_init = cst.parse_statement("def __init__(self, *args, **kwargs):\n"
                                       "    super().__init__(*args, **kwargs)\n"
                                       "    self.pack_gqa = False\n")
        rest = sm120.block_statements(cls.body)
        if rest and not rest[0].leading_lines:  # a blank line between the methods
            rest[0] = rest[0].with_changes(leading_lines=[cst.EmptyLine(indent=False)])
        body = [new_init, *rest]
        tree.write(sm120.SM120, module.deep_replace(cls, cls.with_changes(body=cls.body.with_changes(body=body))))

"""CW5 — #2349's new `flash_fwd_sm120_tma.py`, ported to the APIs main has today.

#2349 adds the file whole, so git merges it cleanly; but it was written against a main that passed
`aux_tensors`, had `self.vec_size`, `cute.make_fragment` and no varlen persistent scheduler. Main has
moved since (f3b4de56 AuxData, f6b79c3d score_vec_size, d8ba1bd7 make_rmem_tensor for DSL 4.8.1,
a19e1c6f mCuTotal* scheduler inputs) and the file no longer compiles ("too many positional
arguments": interface.py passes AuxData + mCuTotalMBlocks + mCuTotalSplitsMBlocks to every SM120
forward). One resolution per API, each checking that main really made the move (read from main's own
code in the tree) before porting the file, so that each one retires by itself when #2349 is rebased.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

import libcst as cst
import libcst.matchers as m

from stacker.cstedit import calls_to, find_all, find_definition, keyword, transform_nodes, walk, with_keyword
from stacker.plugins import load_stack_module
from stacker.resolution import Resolution, SourceTree, Verdict

sm120 = load_stack_module(Path(__file__).with_name("_sm120.py"), namespace="stacker_resolution")

_SIDE_2349 = "adds flash_fwd_sm120_tma.py, written against main of April 2026 (fork df148e4d)"
_BACKPORT = "#2349 should rebase on main and port the file (this resolution then reports already satisfied)"


class _TmaPort(Resolution, ABC):
    """Shared shape: the TMA file must exist and main must have made the move."""

    kind = "conflict"
    prs = (2349,)
    backport = _BACKPORT

    def inspect(self, tree: SourceTree) -> Verdict:
        tma = tree.module(sm120.TMA)
        if tma is None:
            return Verdict.absent(f"{sm120.TMA} is not in the tree")
        why_not = self.main_moved(tree)
        if why_not:
            return Verdict.absent(why_not)
        old = self.old_uses(tma)
        if old:
            return Verdict.needed(f"{sm120.TMA} still uses the old API: " + old)
        return Verdict.satisfied(self.done)

    done: str = ""  # the "already satisfied" reason

    @abstractmethod
    def main_moved(self, tree: SourceTree) -> str | None:
        """Why this port does not apply (main has not made the move), or None."""

    @abstractmethod
    def old_uses(self, tma: cst.Module) -> str:
        """What in the TMA file still uses the old API ("" when ported)."""


# --- AuxData (main f3b4de56 #2616) -------------------------------------------------------------------------

def _aux_names(tma: cst.Module) -> list[cst.Name]:
    """`aux_tensors` as a variable, parameter or keyword (an attribute of that name is something else)."""
    attributes = {id(a.attr) for a in walk(tma) if isinstance(a, cst.Attribute)}
    return [n for n in walk(tma) if isinstance(n, cst.Name) and n.value == "aux_tensors" and id(n) not in attributes]


class _RenameVariable(cst.CSTTransformer):
    """Renames a variable, leaving attributes of the same name alone."""

    def __init__(self, old: str, new: str) -> None:
        super().__init__()
        self.old, self.new = old, new

    def visit_Attribute(self, node: cst.Attribute) -> bool:
        return False  # children are visited below: only the object side can be the variable

    def leave_Attribute(self, original: cst.Attribute, updated: cst.Attribute) -> cst.Attribute:
        return updated.with_changes(value=updated.value.visit(self))

    def leave_Name(self, original: cst.Name, updated: cst.Name) -> cst.Name:
        return updated.with_changes(value=self.new) if updated.value == self.old else updated


class TmaAuxData(_TmaPort):
    id = "sm120-tma-aux-data"
    title = "TMA SM120 kernel: aux_tensors -> AuxData, as main passes it (CW5)"
    location = f"{sm120.TMA}::{sm120.TMA_CLASS}"
    sides = {"main (f3b4de56 #2616)": "score_mod/mask_mod inputs travel as `aux_data: AuxData = AuxData()` "
                                      "(tensors + scalars); interface.py passes AuxData(...) positionally",
             "#2349": _SIDE_2349 + "; takes and forwards `aux_tensors`"}
    resolution = ("every `aux_tensors` parameter becomes `aux_data: AuxData = AuxData()` (as in Sm80.__call__), "
                  "`aux_tensors=` keywords `aux_data=`, compute_fastdiv_mods gets `aux_data.tensors`, other uses "
                  "`aux_data`; AuxData imported like flash_fwd.py does")
    done = "no aux_tensors left; AuxData imported"

    def main_moved(self, tree: SourceTree) -> str | None:
        reference = sm120.sm80_call(tree.module(sm120.FLASH_FWD))
        if reference is None or "aux_data" not in sm120.param_names(reference):
            return "main's Sm80.__call__ takes no aux_data (main predates f3b4de56)"
        return None

    def old_uses(self, tma: cst.Module) -> str:
        count = len(_aux_names(tma))
        if count:
            return f"{count} use(s) of aux_tensors"
        if any(n.value == "AuxData" for n in walk(tma) if isinstance(n, cst.Name)) \
                and "AuxData" not in sm120.imported_names(tma):
            return "AuxData used but not imported"
        return ""

    def rewrite(self, tree: SourceTree) -> None:
        fwd = tree.module(sm120.FLASH_FWD)
        reference = next(p for p in sm120.sm80_call(fwd).params.params if p.name.value == "aux_data")
        tma = tree.module(sm120.TMA)
        tma = transform_nodes(tma, m.Param(name=m.Name("aux_tensors")),
                              lambda p: reference.with_changes(comma=p.comma))
        tma = transform_nodes(tma, m.Arg(keyword=m.Name("aux_tensors")),
                              lambda a: a.with_changes(keyword=cst.Name("aux_data")))
        tma = transform_nodes(tma, m.Call(func=m.Attribute(attr=m.Name("compute_fastdiv_mods"))
                                          | m.Name("compute_fastdiv_mods")), _fastdiv_tensors)
        tma = tma.visit(_RenameVariable("aux_tensors", "aux_data"))
        tree.write(sm120.TMA, sm120.import_like(tma, fwd, "AuxData"))


def _fastdiv_tensors(call: cst.Call) -> cst.Call:
    """compute_fastdiv_mods still takes the tensors (main passes `aux_data.tensors`)."""
    args = [a.with_changes(value=cst.parse_expression("aux_data.tensors"))
            if m.matches(a.value, m.Name("aux_tensors")) else a for a in call.args]
    return call.with_changes(args=args)


# --- score_vec_size (main f6b79c3d) --------------------------------------------------------------------------

_VEC_SIZE = m.Attribute(value=m.Name("self"), attr=m.Name("vec_size"))


def _assigned_self_attributes(function: cst.CSTNode) -> set[str]:
    out = set()
    for node in walk(function):
        targets = []
        if isinstance(node, cst.Assign):
            targets = [t.target for t in node.targets]
        elif isinstance(node, cst.AnnAssign):
            targets = [node.target]
        out |= {t.attr.value for t in targets if m.matches(t, m.Attribute(value=m.Name("self")))}
    return out


class TmaScoreVecSize(_TmaPort):
    id = "sm120-tma-score-vec-size"
    title = "TMA SM120 kernel: self.vec_size -> self.score_vec_size (CW5)"
    location = f"{sm120.TMA}::{sm120.TMA_CLASS}.apply_score_mod"
    sides = {"main (f6b79c3d)": "FlashAttentionForwardBase.__init__ sets score_vec_size / mask_vec_size instead of "
                                "vec_size",
             "#2349": _SIDE_2349 + "; reads self.vec_size in apply_score_mod"}
    resolution = "read self.score_vec_size"
    done = "the TMA kernel reads self.score_vec_size"

    def main_moved(self, tree: SourceTree) -> str | None:
        init = find_definition(tree.module(sm120.FLASH_FWD), "FlashAttentionForwardBase.__init__") \
            if tree.module(sm120.FLASH_FWD) is not None else None
        attributes = _assigned_self_attributes(init) if init is not None else set()
        if "score_vec_size" not in attributes or "vec_size" in attributes:
            return "main's FlashAttentionForwardBase still sets self.vec_size (main predates f6b79c3d)"
        return None

    def old_uses(self, tma: cst.Module) -> str:
        count = len(find_all(tma, _VEC_SIZE))
        return f"{count} read(s) of self.vec_size" if count else ""

    def rewrite(self, tree: SourceTree) -> None:
        tma = transform_nodes(tree.module(sm120.TMA), _VEC_SIZE,
                              lambda a: a.with_changes(attr=cst.Name("score_vec_size")))
        tree.write(sm120.TMA, tma)


# --- make_rmem_tensor (main d8ba1bd7 #2602; cute.make_fragment is gone from nvidia-cutlass-dsl 4.8.1) ----------

_MAKE_FRAGMENT = m.Attribute(value=m.Name("cute"), attr=m.Name("make_fragment"))
_MAKE_RMEM = m.Attribute(value=m.Name("cute"), attr=m.Name("make_rmem_tensor"))


class TmaMakeRmemTensor(_TmaPort):
    id = "sm120-tma-make-rmem-tensor"
    title = "TMA SM120 kernel: cute.make_fragment -> cute.make_rmem_tensor (CW5)"
    location = f"{sm120.TMA}::{sm120.TMA_CLASS}"
    sides = {"main (d8ba1bd7 #2602)": "allocates register tensors with cute.make_rmem_tensor (the DSL dropped "
                                      "cute.make_fragment; main requires nvidia-cutlass-dsl that lacks it)",
             "#2349": _SIDE_2349 + "; allocates acc_O / acc_S with cute.make_fragment"}
    resolution = "cute.make_rmem_tensor (same arguments); make_fragment_like and thr_mma.make_fragment_A/B stay"
    done = "the TMA kernel allocates with cute.make_rmem_tensor"

    def main_moved(self, tree: SourceTree) -> str | None:
        fwd = tree.module(sm120.FLASH_FWD)
        if fwd is None or find_all(fwd, _MAKE_FRAGMENT) or not find_all(fwd, _MAKE_RMEM):
            return "main's flash_fwd.py still allocates with cute.make_fragment (main predates d8ba1bd7)"
        return None

    def old_uses(self, tma: cst.Module) -> str:
        count = len(find_all(tma, _MAKE_FRAGMENT))
        return f"{count} call(s) of cute.make_fragment" if count else ""

    def rewrite(self, tree: SourceTree) -> None:
        tma = transform_nodes(tree.module(sm120.TMA), _MAKE_FRAGMENT,
                              lambda a: a.with_changes(attr=cst.Name("make_rmem_tensor")))
        tree.write(sm120.TMA, tma)


# --- varlen persistent scheduler inputs (main a19e1c6f #2559) ------------------------------------------------

SCHEDULER_PARAMS = ("mCuTotalMBlocks", "mCuTotalSplitsMBlocks")


def _scheduler_kwargs(function: cst.FunctionDef) -> dict[str, str]:
    """keyword -> parameter name, for TileSchedulerArguments(...) keywords fed by a scheduler parameter."""
    out = {}
    for call in calls_to(function, "TileSchedulerArguments"):
        for arg in call.args:
            if arg.keyword is not None and m.matches(arg.value, m.Name()) and arg.value.value in SCHEDULER_PARAMS:
                out[arg.keyword.value] = arg.value.value
    return out


class TmaVarlenSchedulerInputs(_TmaPort):
    id = "sm120-tma-varlen-scheduler-inputs"
    title = "TMA SM120 kernel: takes mCuTotalMBlocks / mCuTotalSplitsMBlocks and hands them to the scheduler (CW5)"
    location = f"{sm120.TMA}::{sm120.TMA_CALL}"
    sides = {"main (a19e1c6f #2559)": "Sm80.__call__ takes mCuTotalMBlocks, mCuTotalSplitsMBlocks (after aux_data, "
                                      "before stream) and passes them to TileSchedulerArguments as "
                                      "cu_total_m_blocks_ptr / cu_total_splits_m_blocks_ptr; interface.py passes "
                                      "them positionally to every SM120 forward",
             "#2349": _SIDE_2349 + "; its __call__ ends aux_tensors, stream"}
    resolution = ("the two parameters copied from Sm80.__call__ at Sm80's position, and the same "
                  "TileSchedulerArguments keywords Sm80 passes them as")
    done = "__call__ takes the mCuTotal* inputs and passes them to TileSchedulerArguments like Sm80"

    def main_moved(self, tree: SourceTree) -> str | None:
        reference = sm120.sm80_call(tree.module(sm120.FLASH_FWD))
        if reference is None or not set(SCHEDULER_PARAMS) <= set(sm120.param_names(reference)):
            return "main's Sm80.__call__ takes no mCuTotal* scheduler inputs (main predates a19e1c6f)"
        return None

    def old_uses(self, tma: cst.Module) -> str:
        call = sm120.tma_method(tma, "__call__")
        if call is None:
            return f"no {sm120.TMA_CALL}"
        missing = [p for p in SCHEDULER_PARAMS if p not in sm120.param_names(call)]
        unpassed = [p for p in SCHEDULER_PARAMS if p not in _scheduler_kwargs(call).values()]
        parts = []
        if missing:
            parts.append("__call__ lacks " + ", ".join(missing))
        if unpassed:
            parts.append("TileSchedulerArguments is not given " + ", ".join(unpassed))
        return "; ".join(parts)

    def rewrite(self, tree: SourceTree) -> None:
        fwd = tree.module(sm120.FLASH_FWD)
        reference = sm120.sm80_call(fwd)
        wanted = _scheduler_kwargs(reference)
        tma = tree.module(sm120.TMA)
        call = sm120.tma_method(tma, "__call__")
        new = sm120.mirror_params(call, reference, SCHEDULER_PARAMS)
        for scheduler in calls_to(new, "TileSchedulerArguments"):
            updated = scheduler
            for kw, param in wanted.items():
                if keyword(updated, kw) is None:
                    updated = with_keyword(updated, kw, param)
            new = new.deep_replace(scheduler, updated)
        tree.write(sm120.TMA, tma.deep_replace(call, new))

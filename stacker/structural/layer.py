"""The structural merge as a layer of the per-file merge chain (`stacker.filemerge`).

In the chain the three views agree everywhere except in the conflicts earlier layers left, so
the structural merge works only there. Each structural merge becomes a `LayerAction` for the
conflicts log, with the before (as a conflict hunk) and the after.
"""

from __future__ import annotations

from stacker.filemerge import FileVersions, LayerAction, LayerOutcome
from stacker.linemerge import Conflict, MergedText
from stacker.structural.python import structural_pass

PYTHON_SUFFIXES = (".py", ".pyi")


def is_python(path: str) -> bool:
    return path.endswith(PYTHON_SUFFIXES)


class StructuralLayer:
    """Node-wise merges of Python conflicts (libcst); a layer for `filemerge.merge_file`.

    `originals`: the versions the chain started from, when the layer serves one file (the merge
    driver); its final check then compares with them rather than with the views.
    `stack_order`: see `merge_python`.
    """

    name = "structural"

    def __init__(self, originals: FileVersions | None = None, stack_order: bool = True) -> None:
        self.originals = originals
        self.stack_order = stack_order

    def resolve(self, path: str, merged: MergedText) -> LayerOutcome | None:
        if not is_python(path) or merged.is_clean:
            return None
        originals = None
        if self.originals is not None and self.originals.path == path:
            originals = (self.originals.base, self.originals.ours, self.originals.theirs)
        result = structural_pass(merged, path, originals, stack_order=self.stack_order)
        if not result.changed:
            return None
        actions = tuple(
            LayerAction(
                layer=self.name, path=path, location=merge.node, detail=f"{merge.kind}: {merge.summary}",
                hunks=(Conflict(base=merge.before[0], ours=merge.before[1], theirs=merge.before[2]),),
                result=merge.after,
            )
            for merge in result.merges
        )
        return LayerOutcome(views=result.views, actions=actions)

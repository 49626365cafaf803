"""The per-file merge layers that need nothing but the three versions of a file.

`stacker build` runs them after its bundle's own resolutions (codified, recorded); the merge
driver (`stacker merge-file`) runs them alone. One list, so the two cannot drift apart.
"""

from __future__ import annotations

from stacker.adjacent import AdjacentEditsLayer
from stacker.contained import ContainedEditLayer
from stacker.equivalent import EquivalentLayer
from stacker.filemerge import Layer
from stacker.moved import MovedBlockLayer
from stacker.wrapped import WrappedBlockLayer


def generic_layers(structural: Layer | None) -> list[Layer]:
    """Equivalent code, then the structural merge (when given), then neighbouring edits, moved
    and wrapped blocks, and one side's edit containing the other's: each later layer handles
    shapes the earlier ones refuse."""
    layers: list[Layer] = [EquivalentLayer()]
    if structural is not None:
        layers.append(structural)
    return layers + [AdjacentEditsLayer(), MovedBlockLayer(), WrappedBlockLayer(), ContainedEditLayer()]

"""Structural (syntax-aware) merging of Python files: the last generic layer of the merge chain.

`merge_python(base, ours, theirs, path)` merges three texts; `StructuralLayer` runs the same
merge inside `stacker.filemerge.merge_file`. Modules: `regions` finds where to merge, `snippet`
parses it, `nodes` descends the node types, `kinds` merges each kind of sequence with
`sequence` (the three-way merge of elements) and `layout` (writing it back), `effects` decides
whether inserted statements may be reordered, `python` checks and assembles the result.
"""

from stacker.structural.layer import StructuralLayer, is_python
from stacker.structural.python import merge_python, structural_pass
from stacker.structural.result import Refusal, StructuralMerge, StructuralResult

__all__ = [
    "Refusal", "StructuralLayer", "StructuralMerge", "StructuralResult", "is_python", "merge_python",
    "structural_pass",
]

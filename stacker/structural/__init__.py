"""Structural (syntax-aware) merging of Python files: the last generic layer of the merge chain.

`merge_python(base, ours, theirs, path)` merges three texts; `StructuralLayer` runs the same merge
inside `stacker.filemerge.merge_file`. One job per module:

- `python`: the driver — find regions, merge each, apply, check, re-merge with git;
- `regions`: where to merge (the smallest run of statements around a conflict, in all views);
- `snippet`: a region parsed with libcst, with each node's offsets;
- `nodes`: the descent through node types (what is identity, what is a sequence);
- `kinds`: which node fields are which sequence kind; `commas` and `lines` merge the two
  families of sequences, `docstring` the entries of a docstring;
- `sequence`: the three-way merge of one sequence of elements; `policies`: how insertions by
  both sides at one place may be ordered; `effects`: whether inserted statements interfere;
- `layout`: writing a merged sequence back in the file's own layout;
- `checks`: compile and pyflakes checks of every result; `describe`/`result`: the account.
"""

from stacker.structural.layer import StructuralLayer, is_python
from stacker.structural.python import merge_python, structural_pass
from stacker.structural.result import Refusal, StructuralMerge, StructuralResult

__all__ = [
    "Refusal", "StructuralLayer", "StructuralMerge", "StructuralResult", "is_python", "merge_python",
    "structural_pass",
]

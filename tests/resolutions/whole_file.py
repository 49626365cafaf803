"""Claims tested the way the build runs them: git's line merge of three whole files, then the codified
layer alone (positions, views and qualified names exactly as in a build)."""

from __future__ import annotations

from stacker.codified import CodifiedLayer
from stacker.filemerge import FileVersions, merge_file
from stacker.resolution import Resolution


def merge_with(resolutions: list[Resolution], path: str, base: str, ours: str, theirs: str,
               step_pr: int = 2439, bundle_prs: frozenset[int] = frozenset({2348, 2349, 2389})):
    """(merged text or None if conflicts remain, the number of conflicts git left, the FileMerge)."""
    result = merge_file(FileVersions(path, base, ours, theirs), [CodifiedLayer(resolutions, step_pr, bundle_prs)])
    return (result.text if result.is_clean else None), result.initial_conflicts, result

"""Before/after checks for codified resolutions (the CodemodTest of this project).

Every resolution is checked the same way: on the "before" files it says `needed` and rewrites
them to exactly the "after" files; on the result it says `satisfied` and a second run changes
nothing (idempotence); where it must not act, it says so and leaves the files alone.
"""

from __future__ import annotations

import textwrap

from stacker.linemerge import Conflict
from stacker.resolution import ConflictContext, Resolution, SourceTree, Verdict


def dedent(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def run(resolution: Resolution, files: dict[str, str],
        prs: frozenset[int] | set[int] = frozenset()) -> tuple[Verdict, dict[str, str]]:
    tree = SourceTree(files=dict(files), prs=frozenset(prs))
    verdict = resolution.inspect(tree)
    if verdict.status == "needed":
        resolution.rewrite(tree)
    return verdict, {**files, **tree.edits}


def assert_rewrites(resolution: Resolution, before: dict[str, str], after: dict[str, str],
                    prs: frozenset[int] | set[int] = frozenset()) -> Verdict:
    verdict, result = run(resolution, before, prs)
    assert verdict.status == "needed", verdict
    for path, text in after.items():
        assert result[path] == text, f"{path}:\n{result[path]}"
    again, second = run(resolution, result, prs)
    assert again.status == "satisfied", again
    assert second == result
    return verdict


def assert_leaves(resolution: Resolution, files: dict[str, str], status: str,
                  prs: frozenset[int] | set[int] = frozenset()) -> Verdict:
    verdict, result = run(resolution, files, prs)
    assert verdict.status == status, verdict
    assert result == files
    return verdict


def claim(resolution: Resolution, path: str, qualname: str, base: str, ours: str, theirs: str,
          step_pr: int, bundle_prs: set[int]) -> str | None:
    hunk = Conflict(base=base, ours=ours, theirs=theirs)
    context = ConflictContext(path=path, qualname=qualname, hunk=hunk, views=(base, ours, theirs),
                              step_pr=step_pr, bundle_prs=frozenset(bundle_prs), originals=(base, ours, theirs))
    return resolution.claim(context)

"""Applying a patch step: synthetic fork and head commits, then exactly the machinery a PR step uses.

- 3-way (the patch names preimage blobs stacker has): the fork is a tree of just the preimage
  files, the head is that tree with the patch applied (`git apply --cached` on a private index).
  Merging fork→head onto the bundle tip is then what `git am -3` does, except that every conflict
  goes through stacker's resolution layers. Files the fork lacks are, to git's merge, files the
  bundle added, so they are kept as they are.
- exact (no usable preimages): the patch is applied to the tip's tree as written (context must
  match, offsets allowed, no fuzz); fork = the tip's tree, head = the result.

Either way `apply.apply_step` does the rest: transforms, checks, the deterministic commit. A patch
whose change the bundle already has (it applies in reverse) is `already-applied`: it can be
dropped. A patch that does not apply stops the build with each rejected hunk, the lines it expects
and the lines the bundle has there.
"""

from __future__ import annotations

import difflib
import os
import re
import subprocess
import tempfile
from dataclasses import replace
from pathlib import Path

from unidiff import PatchSet

from stacker.apply import STACKER_IDENT, StepContext, StepResult, apply_step
from stacker.conflicts import UnresolvedConflict, blame_section
from stacker.gitrepo import EMPTY_TREE, CommitInfo, Repository, Signature
from stacker.linemerge import Conflict
from stacker.patches import NO_USER_GIT_CONFIG, PatchSource
from stacker.plan import Step
from stacker.pysource import enclosing_qualname

PATCH_REJECTED = "patch hunk does not apply"
PATCH_FAILED = "patch does not apply"
_SYNTHETIC = Signature("stacker", "stacker@localhost", "1000000000 +0000")


def apply_patch_step(ctx: StepContext, tip: CommitInfo, step: Step, present_prs: frozenset[int]) -> StepResult:
    assert step.patch is not None
    repo, source = ctx.repo, step.patch
    if source.preimages is not None:
        trees = _three_way_trees(repo, source)
        if trees is not None:
            result = apply_step(ctx, tip, _bind(repo, tip, step, source, *trees), present_prs)
            if result.status == "conflict" and _applies(repo, tip.tree, source.patch.diff, reverse=True):
                # the bundle has the change, and more edits beside it: nothing left to apply
                return StepResult(step=result.step, status="already-applied", parent=tip.sha, tree=tip.tree,
                                  input_key=result.input_key)
            return result
        source = replace(source, preimages=None,
                         mode_reason="exact: the patch does not apply to the preimages its index lines name")
    forward = apply_diff(repo, tip.tree, source.patch.diff)
    if forward is not None:
        return apply_step(ctx, tip, _bind(repo, tip, step, source, tip.tree, forward), present_prs)
    unbound = replace(step, patch=source)
    if _applies(repo, tip.tree, source.patch.diff, reverse=True):
        return StepResult(step=unbound, status="already-applied", parent=tip.sha, tree=tip.tree)
    # tree None: there is no merge to finish by hand; the patch itself must be refreshed or dropped
    return StepResult(step=unbound, status="conflict", parent=tip.sha, tree=None,
                      unresolved=rejected_hunks(repo, tip, unbound))


def apply_diff(repo: Repository, tree: str, diff: str, reverse: bool = False, check: bool = False) -> str | None:
    """The tree `git apply --cached` makes of `tree` with `diff`; None when it does not apply."""
    with tempfile.TemporaryDirectory(prefix="stacker-apply-") as tmp:
        env = {"GIT_INDEX_FILE": str(Path(tmp, "index")), **NO_USER_GIT_CONFIG}
        repo.git("read-tree", tree, env=env)
        args = ["apply", "--cached", *(["--reverse"] if reverse else []), *(["--check"] if check else []), "-"]
        status, _, _ = repo.run(*args, env=env, input=diff)
        if status != 0:
            return None
        return tree if check else repo.git("write-tree", env=env)


def _applies(repo: Repository, tree: str, diff: str, reverse: bool = False) -> bool:
    return apply_diff(repo, tree, diff, reverse=reverse, check=True) is not None


def _three_way_trees(repo: Repository, source: PatchSource) -> tuple[str, str] | None:
    """(fork, head) trees holding just the files the patch touches, or None if it does not fit them."""
    fork = repo.tree_with(EMPTY_TREE, {path: (mode, blob) for path, mode, blob in source.preimages or ()})
    head = apply_diff(repo, fork, source.patch.diff)
    return (fork, head) if head is not None else None


def _bind(repo: Repository, tip: CommitInfo, step: Step, source: PatchSource, fork_tree: str,
          head_tree: str) -> Step:
    """The step with synthetic fork and head commits: the head carries the patch's author and date."""
    fork = repo.commit_tree(fork_tree, (), f"stacker: preimages of {source.name}\n", _SYNTHETIC, _SYNTHETIC)
    patch = source.patch
    if patch.author_name and patch.author_email:
        author = Signature(patch.author_name, patch.author_email, patch.author_date or tip.committer.date)
    else:  # a plain diff names nobody: stacker made the commit, dated like the bundle it joins
        author = Signature(*STACKER_IDENT, tip.committer.date)
    message = source.subject + "\n" + (f"\n{patch.body}\n" if patch.body else "")
    head = repo.commit_tree(head_tree, (fork,), message, author, author)
    return replace(step, fork=fork, head=head, patch=source)


_APPLYING = re.compile(r"^Applying patch (.+) with \d+ rejects?\.\.\.$")
_REJECTED = re.compile(r"^Rejected hunk #(\d+)\.$")
_FILE_ERROR = re.compile(r"^error: (.+?): (.+)$")


def rejected_hunks(repo: Repository, tip: CommitInfo, step: Step) -> list[UnresolvedConflict]:
    """What `git apply --reject` refuses, hunk by hunk, with the lines that differ."""
    assert step.patch is not None
    diff = step.patch.patch.diff
    with tempfile.TemporaryDirectory(prefix="stacker-apply-") as tmp:
        env = {**os.environ, "GIT_INDEX_FILE": str(Path(tmp, "index")), "LC_ALL": "C", **NO_USER_GIT_CONFIG}
        repo.git("read-tree", tip.tree, env=env)
        # --reject writes <file>.rej beside where the file would be, relative to the current directory:
        # a scratch directory with the patch's directories, never stacker's repository.
        scratch = Path(tmp, "rejects")
        for f in step.patch.patch.files:
            (scratch / f.path).parent.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(["git", f"--git-dir={repo.path}", "apply", "--cached", "--reject", "--verbose", "-"],
                              cwd=scratch, env=env, capture_output=True, input=diff.encode("utf-8", "surrogateescape"))
        err = done.stderr.decode("utf-8", "replace")
    hunks = {_strip(f.target_file if f.target_file != "/dev/null" else f.source_file): list(f)
             for f in PatchSet(diff)}
    found: list[UnresolvedConflict] = []
    current = None
    rejected_files = set()
    for line in err.splitlines():
        if match := _APPLYING.match(line):
            current = match.group(1)
            rejected_files.add(current)
        elif (match := _REJECTED.match(line)) and current in hunks:
            number = int(match.group(1))
            found.append(_rejected(repo, tip, step, current, number, hunks[current][number - 1]))
    for line in err.splitlines():
        match = _FILE_ERROR.match(line)
        if not match or line.startswith(("error: patch failed:", "error: while searching for")):
            continue
        path, reason = match.groups()
        if path not in rejected_files:  # a whole file refused: missing, already there, ...
            found.append(UnresolvedConflict(path=path, kind=PATCH_FAILED, qualname="", lines=(0, 0), hunk=None,
                                            pr=None, other_side=(), message=f"{step.name}: {path}: {reason}"))
    if not found:
        last = [line for line in err.splitlines() if line.strip()]
        found.append(UnresolvedConflict(path="", kind=PATCH_FAILED, qualname="", lines=(0, 0), hunk=None,
                                        pr=None, other_side=(), message=last[-1] if last else "git apply failed"))
    return found


def _rejected(repo: Repository, tip: CommitInfo, step: Step, path: str, number: int, hunk) -> UnresolvedConflict:
    wanted = [line.value for line in hunk.source_lines()]
    expected = "".join(wanted)
    text = repo.file_at(tip.tree, path) or ""
    lines = text.splitlines(keepends=True)
    start = _closest_region(lines, wanted, max(hunk.source_start, 1))
    end = min(start + max(len(wanted), 1) - 1, len(lines))
    have = "".join(lines[start - 1:end])
    qualname = enclosing_qualname(text, start, max(start, end)) if path.endswith(".py") else ""
    header = f"@@ -{hunk.source_start},{hunk.source_length} +{hunk.target_start},{hunk.target_length} @@"
    return UnresolvedConflict(
        path=path, kind=PATCH_REJECTED, qualname=qualname or "", lines=(start, max(start, end)),
        hunk=Conflict(base=expected, ours=have, theirs=expected), pr=None,
        other_side=blame_section(repo, tip.sha, path, text, have, start),
        message=f"hunk #{number} {header} of {step.patch.name} does not apply: the bundle's lines "
                f"{start}-{max(start, end)} differ from the {len(wanted)} line(s) it expects",
    )


def _closest_region(lines: list[str], wanted: list[str], nominal: int) -> int:
    """1-based start of the run of lines most like `wanted` (the code the hunk was written against,
    often moved by upstream since); the hunk's own position when nothing resembles it."""
    size = max(len(wanted), 1)
    best, best_score = nominal, 0.5  # below this likeness, showing the nominal position is more honest
    for start in range(max(len(lines) - size + 1, 1)):
        window = lines[start:start + size]
        matcher = difflib.SequenceMatcher(None, window, wanted, autojunk=False)
        if matcher.real_quick_ratio() < best_score or matcher.quick_ratio() < best_score:
            continue
        score = matcher.ratio()
        if score > best_score or (score == best_score and abs(start + 1 - nominal) < abs(best - nominal)):
            best, best_score = start + 1, score
    return best


def _strip(name: str) -> str:
    return name.split("/", 1)[1] if "/" in name else name

"""Applying one step (a PR's change) onto the bundle tip, in memory, through the resolution layers.

The step is a 3-way tree merge with the PR's fork as merge base (cherry-pick semantics). Every
file git leaves conflicted goes through the merge chain (codified claims, recorded resolutions,
structural merge). Then the codified transforms whose PRs are now all present run on the merged
tree, the result is checked, and — only if all of that holds — committed with a deterministic
identity so that the same inputs always give the same commit.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from stacker import __version__
from stacker.chain import generic_layers
from stacker.codified import CodifiedLayer, TransformRecord, run_transforms
from stacker.conflicts import UnresolvedConflict, blame_section
from stacker.filemerge import FileMerge, FileVersions, Layer, merge_file
from stacker.gitrepo import CommitInfo, Repository, Signature, TreeMerge
from stacker.imports import restore_lost_imports
from stacker.linemerge import Conflict, Labels
from stacker.patches import patch_commit_message
from stacker.plan import Step
from stacker.pysource import enclosing_qualname
from stacker.recorded import RecordedLayer, RecordedStore
from stacker.resolution import Resolution, SourceTree
from stacker.verify import Finding, check_file

STACKER_IDENT = ("stacker", "stacker@localhost")
RESTORED_IMPORT = "restored-import"  # the record of stacker.imports in a step's transforms
_REGULAR = {"100644", "100755"}


@dataclass(frozen=True)
class StepContext:
    """Everything a step needs beside the step itself; built once per build."""

    repo: Repository
    upstream_url: str
    resolutions: list[Resolution]
    recorded: RecordedStore
    structural: Layer | None
    inputs_digest: str  # resolutions and recordings, so a changed resolution changes the commit


@dataclass
class StepResult:
    step: Step
    status: str  # "applied", "already-applied", "conflict", "verify-failed"
    parent: str
    commit: str | None = None
    tree: str | None = None  # the result tree; with conflict markers when status is "conflict"
    files: list[FileMerge] = field(default_factory=list)
    unresolved: list[UnresolvedConflict] = field(default_factory=list)
    transforms: list[TransformRecord] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    input_key: str = ""

    @property
    def resolutions_applied(self) -> list[str]:
        claimed = [a.resolution_id for f in self.files for a in f.actions if a.layer == "codified"]
        rewritten = [t.resolution_id for t in self.transforms if t.status == "applied"]
        return sorted(set(filter(None, claimed + rewritten)))


def input_key(parent: str, step: Step, inputs_digest: str) -> str:
    """What a step's commit is a function of; a rebuild with the same key may reuse the commit."""
    parts = [__version__, parent, step.fork, step.head, inputs_digest]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def apply_step(ctx: StepContext, tip: CommitInfo, step: Step, present_prs: frozenset[int]) -> StepResult:
    repo = ctx.repo
    key = input_key(tip.sha, step, ctx.inputs_digest)
    result = StepResult(step=step, status="applied", parent=tip.sha, input_key=key)
    superseded = _superseded(ctx, tip, step)
    if superseded is not None:
        result.status, result.tree = "superseded", tip.tree
        result.transforms.append(superseded)
        return result
    fork, head = repo.commit(step.fork), repo.commit(step.head)
    merge = repo.merge_trees(fork.tree, tip.tree, head.tree)
    labels = Labels(ours=f"bundle {tip.sha[:12]}", base=f"fork of {step.name} {fork.sha[:12]}",
                    theirs=f"{step.name} {head.sha[:12]}")
    originals: dict[str, FileVersions] = {}
    layers: list[Layer] = [CodifiedLayer(ctx.resolutions, step.number, present_prs, originals),
                           RecordedLayer(ctx.recorded), *generic_layers(ctx.structural)]

    changes: dict[str, tuple[str, str] | None] = {}
    for path, stages in sorted(merge.conflicted.items()):
        file_merge = _merge_conflicted(repo, path, stages, layers, originals)
        if file_merge is None:
            result.unresolved.append(_tree_conflict(repo, tip, step, path, stages, merge))
            continue
        result.files.append(file_merge)
        mode = (stages.get(2) or stages.get(3)).mode
        text = file_merge.text if file_merge.is_clean else file_merge.merged.render(labels)
        changes[path] = (mode, repo.write_blob(text))
        if not file_merge.is_clean:
            result.unresolved.extend(_describe(repo, tip, step, path, file_merge, labels,
                                               repo.read_text(stages[2].blob)))
    tree = repo.tree_with(merge.tree, changes)
    result.tree = tree
    if result.unresolved:
        result.status = "conflict"
        return result
    if tree == tip.tree:
        result.status = "already-applied"
        return result

    step_prs = {step.number} if step.pr else set()  # a patch step brings no PR
    edits, result.transforms = run_transforms(
        ctx.resolutions, set(present_prs) | step_prs, lambda p: repo.file_at(tree, p))
    if edits:
        tree = repo.tree_with(tree, {p: (_mode_of(repo, tree, p), repo.write_blob(t)) for p, t in edits.items()})
        result.tree = tree

    tree = _restore_imports(repo, fork, tip, head, tree, result)
    result.tree = tree

    result.findings = _check(repo, tip, head, tree)
    if result.findings:
        result.status = "verify-failed"
        return result
    result.commit = repo.commit_tree(tree, (tip.sha,), step_message(ctx, step, result), *_identity(tip, head))
    return result


def _superseded(ctx: StepContext, tip: CommitInfo, step: Step) -> TransformRecord | None:
    """A codified resolution's decision that this PR must not be applied on this bundle."""
    if step.pr is None:
        return None
    for resolution in ctx.resolutions:
        if not resolution.has_supersede() or step.number not in resolution.prs:
            continue
        tree = SourceTree(files={}, loader=lambda p: ctx.repo.file_at(tip.tree, p))
        reason = resolution.supersedes(step.number, tree)
        if reason:
            return TransformRecord(resolution.id, "applied", f"#{step.number} not applied: {reason}")
    return None


def _merge_conflicted(repo: Repository, path: str, stages: dict, layers: list[Layer],
                      originals: dict[str, FileVersions]) -> FileMerge | None:
    """The chain for a content conflict; None for conflicts the chain cannot see (delete, binary...).
    Records the file's three versions in `originals` for the layers that rebuild whole definitions."""
    if 2 not in stages or 3 not in stages:
        return None
    if any(s.mode not in _REGULAR for s in stages.values()):
        return None
    blobs = [repo.read_blob(stages[n].blob) if n in stages else b"" for n in (1, 2, 3)]
    if any(b"\0" in blob for blob in blobs):
        return None
    base, ours, theirs = (b.decode("utf-8", "surrogateescape") for b in blobs)
    originals[path] = FileVersions(path, base, ours, theirs)
    return merge_file(originals[path], layers)


def _mode_of(repo: Repository, tree: str, path: str) -> str:
    entries = [e for e in repo.ls_tree(tree, (path,)) if e.path == path]
    return entries[0].mode if entries else "100644"


def _describe(repo: Repository, tip: CommitInfo, step: Step, path: str, file_merge: FileMerge,
              labels: Labels, ours_file: str) -> list[UnresolvedConflict]:
    ours_view = file_merge.merged.view("ours")
    out = []
    spans = file_merge.merged.conflict_spans("ours")
    for (index, (start, end)), lines in zip(spans, file_merge.merged.marker_line_ranges(labels), strict=True):
        hunk = file_merge.merged.segments[index]
        assert isinstance(hunk, Conflict)
        qualname = enclosing_qualname(ours_view, start + 1, max(start + 1, end)) if path.endswith(".py") else ""
        out.append(UnresolvedConflict(
            path=path, kind="content", qualname=qualname or "", lines=lines, hunk=hunk, pr=step.number,
            other_side=blame_section(repo, tip.sha, path, ours_file, hunk.ours, start + 1),
        ))
    return out


def _tree_conflict(repo: Repository, tip: CommitInfo, step: Step, path: str, stages: dict,
                   merge: TreeMerge) -> UnresolvedConflict:
    kind = "modify/delete" if (2 in stages) != (3 in stages) else "binary or special file"
    said = [m for m in merge.messages if path in m and m.startswith("CONFLICT")]
    return UnresolvedConflict(path=path, kind=kind, qualname="", lines=(0, 0), hunk=None, pr=step.number,
                              other_side=(), message=said[0] if said else "")


def _restore_imports(repo: Repository, fork: CommitInfo, tip: CommitInfo, head: CommitInfo, tree: str,
                     result: StepResult) -> str:
    """Put back imports the merge lost while the merged code uses the name (stacker.imports)."""
    changes: dict[str, tuple[str, str]] = {}
    for path in repo.changed_paths(tip.tree, tree):
        text = repo.file_at(tree, path)
        if text is None or not path.endswith(".py"):
            continue
        new_text, restored = restore_lost_imports(path, text, repo.file_at(fork.tree, path),
                                                  repo.file_at(tip.tree, path), repo.file_at(head.tree, path))
        if not restored:
            continue
        changes[path] = (_mode_of(repo, tree, path), repo.write_blob(new_text))
        for item in restored:
            deleted_by = "the PR" if item.kept_by == "ours" else "the bundle side"
            result.transforms.append(TransformRecord(
                RESTORED_IMPORT, "applied",
                f"{path}: restored `{item.statement}`: {deleted_by} removed the unused import of `{item.name}`, "
                f"the other side's new code uses it", (path,)))
    return repo.tree_with(tree, changes) if changes else tree


def _check(repo: Repository, tip: CommitInfo, head: CommitInfo, tree: str) -> list[Finding]:
    findings: list[Finding] = []
    for path in repo.changed_paths(tip.tree, tree):
        text = repo.file_at(tree, path)
        if text is None:
            continue
        findings.extend(check_file(path, text, repo.file_at(tip.tree, path), repo.file_at(head.tree, path)))
    return findings


def _identity(tip: CommitInfo, head: CommitInfo) -> tuple[Signature, Signature]:
    """The PR author as author; stacker as committer, dated by the newer input. Deterministic."""
    when = max(tip.timestamp, head.timestamp)
    return head.author, Signature(*STACKER_IDENT, f"{when} +0000")


def step_message(ctx: StepContext, step: Step, result: StepResult) -> str:
    if step.patch:
        return patch_commit_message(step.patch, result)
    title = step.pr.title or ctx.repo.commit(step.head).subject
    includes = "".join(f" (+#{i.number})" for i in step.includes)
    lines = [f"Apply PR #{step.number}{includes}: {title}", ""]
    lines.append(f"Stacked by stacker {__version__} from {ctx.upstream_url}.")
    resolved = [a for f in result.files for a in f.actions]
    if resolved:
        by_layer: dict[str, int] = {}
        for action in resolved:
            by_layer[action.layer] = by_layer.get(action.layer, 0) + max(1, len(action.hunks))
        lines.append("Conflicts resolved: " + ", ".join(f"{n} by {layer}" for layer, n in by_layer.items()) + ".")
    lines += ["", f"Stacker-PR: {step.number}", f"Stacker-PR-Head: {step.head}", f"Stacker-Fork: {step.fork}"]
    if step.stacked_on:
        lines.append(f"Stacker-Stacked-On: {step.stacked_on}")
    for inc in step.includes:
        lines.append(f"Stacker-Includes: {inc.number} {inc.head}")
    for resolution_id in result.resolutions_applied:
        lines.append(f"Stacker-Resolution: {resolution_id}")
    lines.append(f"Stacker-Input: {result.input_key}")
    return "\n".join(lines) + "\n"

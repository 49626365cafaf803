"""Codified resolutions: loading them from the stack, the claim layer, and the post-step transforms."""

from __future__ import annotations

import inspect as pyinspect
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from stacker.errors import BuildStopped, ConfigError
from stacker.filemerge import FileVersions, LayerAction, LayerOutcome, agree
from stacker.linemerge import Conflict, MergedText, remerge, resolve_trivial
from stacker.plugins import load_stack_module
from stacker.pysource import definition_span, enclosing_qualname
from stacker.resolution import ConflictContext, MergedNode, Resolution, SourceTree, Verdict

_REQUIRED = ("id", "title", "kind", "prs", "location", "sides", "resolution", "backport")


def load_resolutions(directory: Path | None) -> list[Resolution]:
    """Every `Resolution` subclass defined in `directory/*.py`, in file then definition order."""
    if directory is None or not directory.is_dir():
        return []
    found: list[Resolution] = []
    origin: dict[str, Path] = {}
    for file in sorted(directory.glob("*.py")):
        if file.name.startswith("_"):
            continue
        module = load_stack_module(file, namespace="stacker_resolution")
        classes = [c for _, c in pyinspect.getmembers(module, pyinspect.isclass)
                   if issubclass(c, Resolution) and c is not Resolution and c.__module__ == module.__name__
                   and not pyinspect.isabstract(c)]
        classes.sort(key=lambda c: pyinspect.getsourcelines(c)[1])
        for cls in classes:
            missing = [name for name in _REQUIRED if not hasattr(cls, name)]
            if missing:
                raise ConfigError(f"{file}: resolution {cls.__name__} lacks {', '.join(missing)}")
            if cls.kind not in ("conflict", "bug", "minor"):
                raise ConfigError(f"{file}: resolution {cls.id}: kind must be conflict, bug or minor")
            if cls.id in origin:
                raise ConfigError(f"{file}: resolution id '{cls.id}' is already used in {origin[cls.id].name}")
            origin[cls.id] = file
            found.append(cls())
    return found


@dataclass
class CodifiedLayer:
    """Offers each remaining hunk to the resolutions whose location contains it."""

    resolutions: list[Resolution]
    step_pr: int
    bundle_prs: frozenset[int]
    # path -> the versions its merge started from (filled by the caller before each file's chain)
    originals: dict[str, FileVersions] = field(default_factory=dict)
    name: str = "codified"

    def resolve(self, path: str, merged: MergedText) -> LayerOutcome | None:
        candidates = [r for r in self.resolutions if path in r.paths and type(r).claim is not Resolution.claim
                      and set(r.prs) <= self.bundle_prs | {self.step_pr}]
        if not candidates:
            return None
        actions: list[LayerAction] = []
        current = merged
        while True:  # a claim of a whole node changes the hunks: offer the new ones again
            resolved, node_claim = self._claims(path, current, candidates, actions)
            if node_claim is None:
                break
            current = resolve_trivial(remerge(*node_claim))[0]
        if not actions:
            return None
        return LayerOutcome(views=agree(current, resolved), actions=tuple(actions))

    def _claims(self, path: str, merged: MergedText, candidates: list[Resolution],
                actions: list[LayerAction]) -> tuple[dict[int, str], tuple[str, str, str] | None]:
        views = merged.views()
        versions = self.originals.get(path)
        originals = (versions.base, versions.ours, versions.theirs) if versions is not None else None
        resolved: dict[int, str] = {}
        for index, (start, end) in merged.conflict_spans("ours"):
            hunk = merged.segments[index]
            assert isinstance(hunk, Conflict)
            qualname = enclosing_qualname(views[1], start + 1, max(start + 1, end)) or ""
            context = ConflictContext(path=path, qualname=qualname, hunk=hunk, views=views,
                                      step_pr=self.step_pr, bundle_prs=self.bundle_prs, originals=originals,
                                      lines=(start, end))
            for resolution in candidates:
                if not resolution.covers(path, qualname):
                    continue
                answer = resolution.claim(context)
                if answer is None:
                    continue
                if isinstance(answer, MergedNode):
                    new_views = _with_node(views, answer)
                    if new_views is None:
                        raise BuildStopped(f"resolution {resolution.id} merged `{answer.qualname}`, which is not "
                                           f"defined in both sides of {path}")
                    actions.append(LayerAction(layer=self.name, path=path, location=answer.qualname,
                                               detail=resolution.title,
                                               hunks=_hunks_inside(merged, views, answer.qualname),
                                               result=answer.source, resolution_id=resolution.id))
                    return {}, new_views
                resolved[index] = answer
                actions.append(LayerAction(layer=self.name, path=path, location=qualname or f"line {start + 1}",
                                           detail=resolution.title, hunks=(hunk,), result=answer,
                                           resolution_id=resolution.id))
                break
        return resolved, None


def _hunks_inside(merged: MergedText, views: tuple[str, str, str], qualname: str) -> tuple[Conflict, ...]:
    """The conflicts a whole-definition answer resolves: those inside the definition in the ours or
    the theirs view (a hunk whose ours side is empty sits right after the ours definition's end)."""
    inside: set[int] = set()
    for side, view in (("ours", views[1]), ("theirs", views[2])):
        span = definition_span(view, qualname)
        if span is None:
            continue
        for index, (start, end) in merged.conflict_spans(side):
            if span[0] - 1 <= start and end <= span[1]:
                inside.add(index)
    return tuple(merged.segments[i] for i in sorted(inside))


def _with_node(views: tuple[str, str, str], node: MergedNode) -> tuple[str, str, str] | None:
    """Views whose ours and theirs sides both hold `node.source` where the definition stands."""
    out = [views[0]]
    for view in views[1:]:
        span = definition_span(view, node.qualname)
        if span is None:
            return None
        lines = view.splitlines(keepends=True)
        source = node.source if node.source.endswith("\n") else node.source + "\n"
        out.append("".join(lines[: span[0] - 1]) + source + "".join(lines[span[1]:]))
    return out[0], out[1], out[2]


@dataclass(frozen=True)
class TransformRecord:
    resolution_id: str
    status: str  # "applied", "already satisfied", "not applicable"
    reason: str
    paths: tuple[str, ...] = ()


def run_transforms(resolutions: list[Resolution], present_prs: set[int],
                   loader: Callable[[str], str | None]) -> tuple[dict[str, str], list[TransformRecord]]:
    """Run every transform whose PRs are all present; returns (edited files, records)."""
    tree = SourceTree(files={}, loader=loader, prs=frozenset(present_prs))
    records: list[TransformRecord] = []
    for resolution in resolutions:
        if not resolution.has_transform():
            continue
        missing = sorted(set(resolution.prs) - present_prs)
        if missing:
            records.append(TransformRecord(resolution.id, "not applicable",
                                           "waiting for " + ", ".join(f"#{n}" for n in missing)))
            continue
        verdict = resolution.inspect(tree)
        if verdict.status == "absent":
            records.append(TransformRecord(resolution.id, "not applicable", verdict.reason))
        elif verdict.status == "satisfied":
            records.append(TransformRecord(resolution.id, "already satisfied", verdict.reason))
        else:
            before = dict(tree.edits)
            try:
                resolution.rewrite(tree)
            except Exception as exc:  # a resolution's bug must stop the build, named
                raise BuildStopped(f"resolution {resolution.id} failed while rewriting: "
                                   f"{type(exc).__name__}: {exc}") from exc
            after: Verdict = resolution.inspect(tree)
            if after.status != "satisfied":
                raise BuildStopped(f"resolution {resolution.id} rewrote the code but its own check still says "
                                   f"'{after.status}': {after.reason}")
            changed = tuple(sorted(p for p in tree.edits if before.get(p) != tree.edits[p]))
            records.append(TransformRecord(resolution.id, "applied", verdict.reason, changed))
    return dict(tree.edits), records

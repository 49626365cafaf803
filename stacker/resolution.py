"""The API a codified resolution implements (the modules in a stack's `resolutions/` directory).

A resolution is a maintainer's decision written as code: a small class with metadata (so the
conflicts log writes itself), a precondition, and one or both of two hooks:

- `claim(conflict)`: a textual conflict git left inside the resolution's location; answer with the
  merged text for that hunk, or a `MergedNode` (the merged source of the whole enclosing definition,
  built from its base / ours / theirs versions in `conflict.views`), or None to let the next layer try.
- `inspect(tree)` / `rewrite(tree)`: a semantic fix git does not see as a conflict, run on the
  merged tree after every step once all of the resolution's PRs are in the bundle. `inspect`
  says whether the fix is needed, already satisfied (the code has it, e.g. the PR was updated), or
  not applicable; `rewrite` is called only when needed and must leave `inspect` saying satisfied,
  which makes every resolution idempotent by construction (the engine checks it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal

import libcst as cst

from stacker.linemerge import Conflict
from stacker.pysource import parse_module

Kind = Literal["conflict", "bug", "minor"]
Status = Literal["needed", "satisfied", "absent"]


@dataclass(frozen=True)
class Verdict:
    status: Status
    reason: str

    @classmethod
    def needed(cls, reason: str) -> Verdict:
        return cls("needed", reason)

    @classmethod
    def satisfied(cls, reason: str) -> Verdict:
        return cls("satisfied", reason)

    @classmethod
    def absent(cls, reason: str) -> Verdict:
        return cls("absent", reason)


@dataclass(frozen=True)
class ConflictContext:
    """One conflict hunk handed to `claim`, with its surroundings."""

    path: str
    qualname: str  # innermost enclosing definition in the ours view ("" = module level)
    hunk: Conflict
    views: tuple[str, str, str]  # whole file: base, ours, theirs views of the current merge
    step_pr: int  # the PR being applied (theirs)
    bundle_prs: frozenset[int]  # PRs already in the bundle (ours)
    lines: tuple[int, int] = (0, 0)  # the hunk's ours section in views[1]: 0-based [start, end) lines
    # The file's base, ours and theirs as the merge started, before git's clean merges. A claim that
    # rebuilds a whole definition needs them: the views have both sides' clean edits applied, so
    # lines one side moved into a new block (re-indented) are gone from every view's old place.
    originals: tuple[str, str, str] | None = None


@dataclass(frozen=True)
class MergedNode:
    """A claim's answer for a whole definition: its merged source (decorators included, indented as in
    the file). Every conflict inside the definition is resolved by it at once."""

    qualname: str
    source: str


@dataclass
class SourceTree:
    """Read and edit access to the merged tree's files for `inspect` / `rewrite`."""

    files: dict[str, str | None]  # path -> text (None: absent), filled lazily by the engine
    loader: object = None  # callable(path) -> str | None
    edits: dict[str, str] = field(default_factory=dict)
    # The PRs in the bundle once the current step is applied (--assume-present ones included): a
    # transform whose target depends on which of several PRs are stacked (one clause per PR) reads it.
    prs: frozenset[int] = frozenset()

    def text(self, path: str) -> str | None:
        if path in self.edits:
            return self.edits[path]
        if path not in self.files:
            self.files[path] = self.loader(path) if callable(self.loader) else None
        return self.files[path]

    def module(self, path: str) -> cst.Module | None:
        text = self.text(path)
        return parse_module(text) if text is not None else None

    def write(self, path: str, module_or_text: cst.Module | str) -> None:
        text = module_or_text.code if isinstance(module_or_text, cst.Module) else module_or_text
        if text != self.text(path):
            self.edits[path] = text


class Resolution:
    """Base class: subclasses set the metadata and override `claim` and/or `inspect` + `rewrite`."""

    id: ClassVar[str]
    title: ClassVar[str]
    kind: ClassVar[Kind]
    prs: ClassVar[tuple[int, ...]]
    location: ClassVar[str]  # "path/to/file.py::Qualified.name"
    # Further places the same decision covers, when one decision spans several definitions or
    # files (e.g. a parameter order that a signature and its call sites must share).
    also_at: ClassVar[tuple[str, ...]] = ()
    sides: ClassVar[dict[str, str]]  # who did what: {"#2349": "...", "main": "..."}
    resolution: ClassVar[str]  # how it is resolved
    backport: ClassVar[str]  # which PR should absorb the fix, and how
    found_in: ClassVar[int | None] = None  # for kind "bug": the PR the bug is in

    @property
    def path(self) -> str:
        return self.location.split("::", 1)[0]

    @property
    def qualname(self) -> str:
        return self.location.split("::", 1)[1] if "::" in self.location else ""

    @property
    def locations(self) -> tuple[str, ...]:
        return (self.location, *self.also_at)

    @property
    def paths(self) -> frozenset[str]:
        return frozenset(loc.split("::", 1)[0] for loc in self.locations)

    @property
    def tag(self) -> str:
        if self.kind == "bug":
            return f"[BUG found in #{self.found_in}]" if self.found_in else "[BUG found during merge]"
        return {"conflict": "[SEMANTIC]", "minor": "[MINOR]"}[self.kind]

    def covers(self, path: str, qualname: str) -> bool:
        """Whether a conflict at `path::qualname` lies inside one of this resolution's locations."""
        for location in self.locations:
            where, _, name = location.partition("::")
            if where == path and (not name or qualname == name or qualname.startswith(name + ".")):
                return True
        return False

    def claim(self, conflict: ConflictContext) -> str | MergedNode | None:
        """The merged text for this hunk, a `MergedNode` for the whole enclosing definition, or None."""
        return None

    def supersedes(self, pr: int, tree: SourceTree) -> str | None:
        """Why PR `pr` must not be applied at all on this bundle (e.g. upstream fixed the same
        thing differently), or None. Asked before the PR's step, with the bundle tip's files."""
        return None

    def has_supersede(self) -> bool:
        return type(self).supersedes is not Resolution.supersedes

    def has_transform(self) -> bool:
        return type(self).inspect is not Resolution.inspect

    def inspect(self, tree: SourceTree) -> Verdict:
        return Verdict.absent("no semantic transform")

    def rewrite(self, tree: SourceTree) -> None:
        raise NotImplementedError

"""The merge chain for one file: git's line merge, then each resolution layer in turn.

`stacker build` runs it on every file git leaves conflicted; `stacker merge-file` (the git merge
driver) runs the same function with the generic layers only. A layer sees the current
`MergedText` and answers with new views in which the sides agree where it resolved something;
the chain merges the views again, so a layer never edits conflict markers and never has to know
what the layers before it did.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from stacker.linemerge import Conflict, MergedText, line_merge, remerge, resolve_trivial


@dataclass(frozen=True)
class FileVersions:
    """The three versions of one file that a merge starts from."""

    path: str
    base: str
    ours: str
    theirs: str


@dataclass(frozen=True)
class LayerAction:
    """One thing a layer did to one file, for the conflicts log."""

    layer: str  # "git", "codified", "recorded", "structural"
    path: str
    location: str  # qualified name, or "line N" where no name applies
    detail: str  # which resolution / what kind of structural merge
    hunks: tuple[Conflict, ...] = ()  # the conflicts it resolved, as they were
    result: str = ""  # the code it produced for them (may be abridged by the report)
    resolution_id: str | None = None


@dataclass(frozen=True)
class LayerOutcome:
    """A layer's answer: views in which the sides agree where it resolved, and what it did."""

    views: tuple[str, str, str]
    actions: tuple[LayerAction, ...]


class Layer(Protocol):
    name: str

    def resolve(self, path: str, merged: MergedText) -> LayerOutcome | None:
        """New (base, ours, theirs) views, or None when the layer has nothing to say."""


@dataclass
class FileMerge:
    """The result of the chain for one file."""

    path: str
    merged: MergedText
    actions: list[LayerAction] = field(default_factory=list)
    initial_conflicts: int = 0

    @property
    def is_clean(self) -> bool:
        return self.merged.is_clean

    @property
    def text(self) -> str:
        """The merged file; only meaningful when clean (use `merged.render()` otherwise)."""
        return self.merged.view("ours")


def merge_file(versions: FileVersions, layers: list[Layer]) -> FileMerge:
    """git's line merge, trivial hunks, then `layers` in order until nothing conflicts."""
    merged = line_merge(versions.base, versions.ours, versions.theirs)
    initial = len(merged.conflicts)
    merged, trivial = resolve_trivial(merged)
    result = FileMerge(path=versions.path, merged=merged, initial_conflicts=initial)
    if trivial:
        result.actions.append(LayerAction(layer="git", path=versions.path, location="",
                                          detail=f"{trivial} hunk(s) where the sides agree or one side is unchanged"))
    # Until a whole pass resolves nothing: a hunk one layer refuses may be in its reach once a later
    # layer has resolved its neighbour (e.g. two hunks in one statement).
    progress = True
    while progress and not result.merged.is_clean:
        progress = False
        for layer in layers:
            if result.merged.is_clean:
                break
            try:
                outcome = layer.resolve(versions.path, result.merged)
            except RecursionError:
                # ast and libcst visitors recurse once per nesting level: a 1,000-branch elif chain
                # or a sum of thousands of terms exhausts the stack. The layer cannot judge this
                # file; its hunks stay for the next layer, or a human.
                outcome = None
            if outcome is None:
                continue
            merged, _ = resolve_trivial(remerge(*outcome.views))
            if len(merged.conflicts) > len(result.merged.conflicts):
                # A layer that makes things worse is a bug in the layer; keep what we had.
                continue
            progress = progress or len(merged.conflicts) < len(result.merged.conflicts)
            result.merged = merged
            result.actions.extend(outcome.actions)
    return result


def agree(merged: MergedText, resolved: dict[int, str]) -> tuple[str, str, str]:
    """Views in which the conflicts at the given segment indexes read `resolved[index]` on both sides."""
    base, ours, theirs = [], [], []
    for index, segment in enumerate(merged.segments):
        if isinstance(segment, Conflict):
            if index in resolved:
                base.append(segment.base)
                ours.append(resolved[index])
                theirs.append(resolved[index])
            else:
                base.append(segment.base)
                ours.append(segment.ours)
                theirs.append(segment.theirs)
        else:
            for part in (base, ours, theirs):
                part.append(segment.text)
    return "".join(base), "".join(ours), "".join(theirs)


@dataclass(frozen=True)
class HunkAt:
    """One conflict of a `MergedText`: its segment index, and its line span in the ours view."""

    index: int
    hunk: Conflict
    start: int
    end: int


@dataclass(frozen=True)
class HunkAnswer:
    """A layer's text for one hunk, and what it did, for the log."""

    text: str
    detail: str


def resolve_hunk_by_hunk(layer: str, path: str, merged: MergedText,
                         attempt: Callable[[HunkAt, dict[int, str]], HunkAnswer | None]) -> LayerOutcome | None:
    """The outcome of a layer that answers each hunk on its own: `attempt(at, resolved)` gets the
    texts already chosen for earlier hunks, so its checks can see the file with them in place
    (`with_text`)."""
    resolved: dict[int, str] = {}
    actions: list[LayerAction] = []
    for index, (start, end) in merged.conflict_spans("ours"):
        hunk = merged.segments[index]
        assert isinstance(hunk, Conflict)
        answer = attempt(HunkAt(index, hunk, start, end), resolved)
        if answer is None:
            continue
        resolved[index] = answer.text
        actions.append(LayerAction(layer=layer, path=path, location=f"line {start + 1}", detail=answer.detail,
                                   hunks=(hunk,), result=answer.text))
    if not resolved:
        return None
    return LayerOutcome(views=agree(merged, resolved), actions=tuple(actions))


def with_text(merged: MergedText, resolved: dict[int, str], index: int, text: str) -> str:
    """The ours view with the chosen texts and `text` for hunk `index` in place: what a check of
    one more resolved hunk reads."""
    return agree(merged, {**resolved, index: text})[1]

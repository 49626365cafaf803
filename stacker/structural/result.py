"""What the structural merge hands back: the merged text and an account of what it merged.

The account is for people: the conflicts log shows each structural merge with a short
before/after, and each refusal says why a conflict was left to a human.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from stacker.linemerge import MergedText

# The kinds of structural merge, as they appear in reports.
KINDS = (
    "call-arguments",
    "parameters",
    "imports",
    "collection-elements",
    "decorators",
    "body-statements",
    "docstring",
    "identical",
    "adjacent-changes",  # each side changed a different part of one node
)


@dataclass(frozen=True)
class StructuralMerge:
    """One place where the two sides' changes were combined node-wise."""

    node: str  # qualified name of the enclosing definition, e.g. "FlashAttn.__call__", or "module"
    kind: str  # one of KINDS
    summary: str  # one line: what each side did
    before: tuple[str, str, str]  # (base, ours, theirs) text of the merged region
    after: str  # the merged text of that region


@dataclass(frozen=True)
class Refusal:
    """A conflict the structural merge looked at and deliberately left alone."""

    node: str
    reason: str


@dataclass
class StructuralResult:
    """The file after git's line merge and the structural merge.

    `merged` keeps every conflict the structural merge could not resolve as a `Conflict`
    segment; when it is clean, its text parses (checked).
    """

    merged: MergedText
    merges: list[StructuralMerge] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)

    @property
    def is_clean(self) -> bool:
        return self.merged.is_clean

    @property
    def text(self) -> str:
        """The merged file; only meaningful when clean (use `merged.render()` otherwise)."""
        return self.merged.view("ours")

"""Hunks where both sides wrote the same code, differing only in comments or layout.

A common case on a moving upstream: the PR fixed a bug and upstream fixed the same bug the same
way, adding a comment. The code is identical token for token, so the conflict is not a decision;
the bundle side (upstream's wording) is kept.
"""

from __future__ import annotations

import ast
import io
import textwrap
import tokenize
from dataclasses import dataclass

from stacker.filemerge import HunkAnswer, HunkAt, LayerOutcome, resolve_hunk_by_hunk, with_text
from stacker.linemerge import Conflict, MergedText
from stacker.pysource import parse_ast

_LAYOUT = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
           tokenize.ENDMARKER, tokenize.ENCODING}


def code_tokens(fragment: str) -> tuple[str, ...] | None:
    """The fragment's tokens without comments and layout; None when it does not tokenize alone."""
    text = textwrap.dedent(fragment)
    try:
        tokens = tokenize.generate_tokens(io.StringIO(text).readline)
        return tuple(t.string for t in tokens if t.type not in _LAYOUT)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return None


def _same_program(merged: MergedText, index: int) -> bool:
    """Whether our view parses to the same tree with their section of hunk `index` in place of ours.

    Tokens alone can mislead: a hunk inside a docstring tokenizes as words, so a paragraph
    re-wrapped differently on each side looks "the same code" while the strings differ.
    """
    hunk = merged.segments[index]
    assert isinstance(hunk, Conflict)
    ours_tree, theirs_tree = parse_ast(merged.view("ours")), parse_ast(with_text(merged, {}, index, hunk.theirs))
    return ours_tree is not None and theirs_tree is not None and ast.dump(ours_tree) == ast.dump(theirs_tree)


@dataclass
class EquivalentLayer:
    name: str = "equivalent"

    def resolve(self, path: str, merged: MergedText) -> LayerOutcome | None:
        if not path.endswith(".py"):
            return None

        def attempt(at: HunkAt, resolved: dict[int, str]) -> HunkAnswer | None:
            ours, theirs = code_tokens(at.hunk.ours), code_tokens(at.hunk.theirs)
            if ours is None or ours != theirs or not ours or not _same_program(merged, at.index):
                return None
            return HunkAnswer(at.hunk.ours, "both sides made the same change (differing only in comments "
                                            "or layout); kept the bundle side")

        return resolve_hunk_by_hunk(self.name, path, merged, attempt)

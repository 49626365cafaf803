"""pyflakes' findings about names in one Python text: the one place stacker runs pyflakes.

A textually clean merge can break names where no line conflicts — one side renames a local or
drops an import, the other side's new lines use the old name. The merge layers refuse such a
result, `imports` restores an import a clean-up lost, and the per-step check stops the build on
what is left; all three ask the same question of pyflakes.
"""

from __future__ import annotations

import ast
import functools
import warnings
from dataclasses import dataclass

from pyflakes import checker, messages

from stacker.pysource import parse_ast

UNDEFINED = "undefined"
TWICE_DEFINED = "twice-defined"  # defined again before any use: the earlier one silently lost
UNUSED_IMPORT = "unused import"
ALL_KINDS = (UNDEFINED, TWICE_DEFINED, UNUSED_IMPORT)

_KINDS: tuple[tuple[type, str], ...] = (
    (messages.UndefinedName, UNDEFINED),
    (messages.UndefinedLocal, UNDEFINED),
    (messages.RedefinedWhileUnused, TWICE_DEFINED),
    (messages.UnusedImport, UNUSED_IMPORT),
)


@dataclass(frozen=True)
class NameFinding:
    kind: str  # UNDEFINED, TWICE_DEFINED or UNUSED_IMPORT
    name: str
    line: int


def _name_findings(tree: ast.AST) -> tuple[NameFinding, ...]:
    """pyflakes' undefined, twice-defined and unused-import findings for a parsed module."""
    found = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reported = checker.Checker(tree).messages
    for message in reported:
        for cls, kind in _KINDS:
            if isinstance(message, cls):
                found.append(NameFinding(kind, message.message_args[0], message.lineno))
                break
    return tuple(found)


@functools.lru_cache(maxsize=32)
def name_findings_of(source: str) -> tuple[NameFinding, ...] | None:
    """pyflakes' name findings for a source text; None when it does not parse, or when pyflakes cannot
    walk it (its visitor recurses once per operand: a sum of a few hundred terms exhausts the
    stack). Cached: the merge layers and the final checks ask about the same sides for every
    hunk of a file."""
    tree = parse_ast(source)
    if tree is None:
        return None
    try:
        return _name_findings(tree)
    except RecursionError:
        return None


def introduced(result: str, sides: tuple[str, ...], kinds: tuple[str, ...]) -> list[NameFinding]:
    """Findings of `kinds` in `result` for a name that no side has a finding of that kind for."""
    now = name_findings_of(result)
    if now is None:
        return []
    known = {(f.kind, f.name) for side in sides for f in (name_findings_of(side) or ())}
    return sorted((f for f in now if f.kind in kinds and (f.kind, f.name) not in known),
                  key=lambda f: (f.line, f.name))

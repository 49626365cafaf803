"""Does a merge result check out? Compiled where it runs, and no new name problems (pyflakes).

The structural merge never hands on code it has not checked: each region is compiled the way it
runs (inside a function, a class or the module), a clean file is compiled whole, and pyflakes
must find no name the merge left undefined, defined twice or imported for nothing that neither
side had. git's own line merge can be clean and still not compile; `guard_clean` turns that back
into a conflict.
"""

from __future__ import annotations

import ast
import warnings

from pyflakes import checker as pyflakes_checker
from pyflakes import messages as pyflakes_messages

from stacker.linemerge import Clean, Conflict, MergedText
from stacker.structural.regions import Region
from stacker.structural.result import Refusal


def guard_clean(merged: MergedText, base: str, ours: str, theirs: str,
                path: str = "<file>") -> tuple[MergedText, Refusal | None]:
    """git's line merge can be clean and still not compile (both sides added the same keyword
    argument on different lines). When all three versions compile and the merge does not, the
    part where the sides differ is turned back into one conflict rather than passed on."""
    if not merged.is_clean or compiles(merged.view("ours"), path):
        return merged, None
    if not all(compiles(text, path) for text in (base, ours, theirs)):
        return merged, None
    versions = [text.splitlines(keepends=True) for text in (base, ours, theirs)]
    head = 0
    while all(head < len(v) for v in versions) and versions[0][head] == versions[1][head] == versions[2][head]:
        head += 1
    tail = 0
    while all(tail < len(v) - head for v in versions) and \
            versions[0][-1 - tail] == versions[1][-1 - tail] == versions[2][-1 - tail]:
        tail += 1
    middle = ["".join(v[head:len(v) - tail]) for v in versions]
    segments = []
    if head:
        segments.append(Clean("".join(versions[1][:head])))
    segments.append(Conflict(base=middle[0], ours=middle[1], theirs=middle[2]))
    if tail:
        segments.append(Clean("".join(versions[1][len(versions[1]) - tail:])))
    return MergedText(tuple(segments)), Refusal(
        "module", "git's line merge is clean but does not compile; the changed part is left as a conflict")


def new_name_problems(sides: dict[str, str], views: dict[str, str], after: dict[str, str],
                       remerged: MergedText) -> str | None:
    """pyflakes findings the merge introduced: a name used but undefined (an import one side
    deleted while the other side's new code uses it), defined twice before any use (both sides
    added the same import in different places), or an import nothing uses any more (one side
    removed the uses, the other changed the import)."""
    known: set[tuple[str, str]] = set()
    for side in ("ours", "theirs"):
        found = name_problems(sides[side])
        if found is not None:
            known |= found
    if remerged.is_clean:
        checks = [(remerged.view("ours"), known)]
    else:
        checks = [(after[side], name_problems(views[side])) for side in ("ours", "theirs")]
    for text, allowed in checks:
        if allowed is None:
            continue
        new = sorted((name_problems(text) or set()) - allowed)
        if new:
            kind, name = new[0]
            return f"the merged code would have {kind} name `{name}`"
    return None


def name_problems(text: str) -> set[tuple[str, str]] | None:
    """(kind, name) for pyflakes' undefined and redefined-while-unused names; None if unparsable."""
    tree = parse(text)
    if tree is None:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found = pyflakes_checker.Checker(tree, filename="<merge>").messages
    problems = set()
    for message in found:
        if isinstance(message, pyflakes_messages.UndefinedName):
            problems.add(("an undefined", message.message_args[0]))
        elif isinstance(message, pyflakes_messages.RedefinedWhileUnused):
            problems.add(("a twice-defined", message.message_args[0]))
        elif isinstance(message, pyflakes_messages.UnusedImport):
            problems.add(("an unused import of the", message.message_args[0]))
    return problems


def region_compiles(text: str, region: Region) -> bool:
    """Compile a region the way it runs: inside a function, a class or the module."""
    text += region.candidate.suffix
    indent = region.candidate.indent
    if not indent:
        return compiles(text, "<region>")
    header = {"function": "async def _():\n", "class": "class _:\n"}.get(region.candidate.scope, "if 1:\n")
    return compiles(header + text, "<region>")


def parse(text: str) -> ast.Module | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return ast.parse(text)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return None


def compiles(text: str, path: str) -> bool:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            compile(text, path, "exec", dont_inherit=True)
        except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError):
            return False
    return True

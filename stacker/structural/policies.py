"""How both sides' insertions at one place may be ordered, per kind of sequence.

`sequence.merge_sequences` asks a `Policy` whenever both sides inserted elements at the same
place. Where any order is correct (keyword arguments, names imported from one module, new
keyword-only parameters) the merge keeps both, ours first (stack order), unless the caller turned
stack order off; where the file sorts its imports, the sort decides; where order can change
meaning (positional arguments, statements that observe each other) the policy refuses.
"""

from __future__ import annotations

import ast
from collections.abc import Callable

from stacker.structural.effects import interference
from stacker.structural.nodes import Ctx, parse_statements
from stacker.structural.sequence import Item, Policy, Refused, Unordered


class KeywordsAfterPositionals(Policy):
    """Call arguments and parameters: positional insertions by both sides are refused; otherwise
    stack order, with positional elements before keyword ones so the result stays valid."""

    ordered = False

    def __init__(self, what: str) -> None:
        self.what = what

    def order(self, ours: list[Item], theirs: list[Item], before=None, after=None) -> list[tuple[str, int]]:
        if any(i.group == "positional" for i in ours) and any(i.group == "positional" for i in theirs):
            raise Refused(f"both sides added positional {self.what} at the same place: their order "
                          "decides which value each caller's argument binds to")
        if any(i.group == "marker" for i in ours) and any(i.group == "marker" for i in theirs):
            raise Refused(f"both sides added `*`, `/` or `**` {self.what}")
        self.stacked(ours, theirs)  # refuses when stack order is off
        rank = {"positional": 0, "marker": 1, "keyword": 2, "varkw": 3}
        both = [("ours", n, i) for n, i in enumerate(ours)] + [("theirs", n, i) for n, i in enumerate(theirs)]
        return [(side, n) for side, n, _ in sorted(both, key=lambda x: rank.get(x[2].group, 2))]


class NoSpreads(Unordered):
    """Dict displays: distinct keys in stack order; `**spread` order decides which value wins."""

    def order(self, ours: list[Item], theirs: list[Item], before=None, after=None) -> list[tuple[str, int]]:
        if any(i.key is None for i in [*ours, *theirs]):
            raise Refused("both sides inserted into a dict display next to a `**` spread")
        return self.stacked(ours, theirs)


class StatementOrder(Policy):
    """Statements inserted by both sides at one place, if neither can observe the other."""

    def __init__(self, ctx: Ctx) -> None:
        self.ctx = ctx

    def order(self, ours: list[Item], theirs: list[Item], before=None, after=None) -> list[tuple[str, int]]:
        a = parse_statements("".join(i.text for i in ours))
        b = parse_statements("".join(i.text for i in theirs))
        if a is None or b is None:
            raise Refused("inserted statements could not be analysed")
        closure = self.ctx.closure() if self.ctx.scope == "function" else frozenset()
        reason = interference(a, b, self.ctx.scope, closure)
        if reason:
            raise Refused(f"both sides inserted statements here and their order may matter: {reason}")
        return _sorted_imports(ours, theirs, a, b, before, after) or self.stacked(ours, theirs)


_IMPORT_KEYS: tuple[Callable[[str], object], ...] = (
    lambda text: " ".join(text.split()).lower(),  # one import per line, sorted as text
    lambda text: (text.split()[0] == "from", " ".join(text.split()).lower()),  # `import x` first
)


def _sorted_imports(ours: list[Item], theirs: list[Item], a, b, before: Item | None,
                    after: Item | None) -> list[tuple[str, int]] | None:
    """New imports from both sides, interleaved the way the file sorts its imports, if it does.

    Imports at module level are definitions (`effects`), so their order is free; where the
    surrounding imports and each side's new ones follow one sort order, the merge keeps it.
    """
    if not all(isinstance(s, (ast.Import, ast.ImportFrom)) for s in [*a, *b]) or len(a) != len(ours) \
            or len(b) != len(theirs):
        return None
    # Only imports of one section (no blank line between them) say how the file sorts.
    if any(_starts_blank(i.text) for i in [*ours, *theirs]):
        return None
    before = before if before is not None and _is_import(before.text) else None
    after = after if after is not None and _is_import(after.text) and not _starts_blank(after.text) else None
    if before is None and after is None:
        return None
    for key in _IMPORT_KEYS:
        for side in (ours, theirs):
            run = [*(x.text for x in [before] if x is not None), *(x.text for x in side),
                   *(x.text for x in [after] if x is not None)]
            if [key(_code_line(t)) for t in run] != sorted(key(_code_line(t)) for t in run):
                break
        else:
            both = [("ours", n, ours[n]) for n in range(len(ours))] + [("theirs", n, theirs[n]) for n in range(len(theirs))]
            both.sort(key=lambda x: key(_code_line(x[2].text)))
            return [(side, n) for side, n, _ in both]
    return None


def _starts_blank(text: str) -> bool:
    return not text.split("\n", 1)[0].strip()


def _code_line(text: str) -> str:
    """A statement's text without the comment and blank lines above it."""
    lines = [line for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return " ".join(lines)


def _is_import(text: str) -> bool:
    words = _code_line(text).split()
    return bool(words) and words[0] in ("import", "from")


class DocEntries(Unordered):
    def order(self, ours: list[Item], theirs: list[Item], before=None, after=None) -> list[tuple[str, int]]:
        if any(i.key is None for i in [*ours, *theirs]):
            raise Refused("both sides added prose to the same place of a docstring")
        if any(">>>" in i.text for i in [*ours, *theirs]):
            raise Refused("both sides added doctest examples to the same place of a docstring")
        return self.stacked(ours, theirs)


def with_stack_order(ctx: Ctx, policy: Policy) -> Policy:
    """The policy, following the merge's stack-order setting."""
    policy.stack_order = ctx.stack_order
    return policy



"""A package one side moved: the other side's new imports must not use its old path.

One side moves a package (`pip.commands.x` becomes `pip._internal.commands.x` in every import of
the file, or `six.moves.urllib.parse` becomes `urllib.parse`) while the other side adds an import
from the old place (`from pip.utils.typing import ...`). The lines do not overlap, so the merge is
clean and parses, and pyflakes is content: the name is imported. But the module is gone from
where the new line looks (replaying pip's history found five files of one merge like that).

The move is read from the imports alone: a module the mover no longer imports, replaced by one
that ends the same way under another prefix. A new import under the old prefix is stale when
the mover imports nothing from its subpackage under the old prefix and something from it under
the new one (`pip.utils.typing`: the mover has `pip._internal.utils.*` and no `pip.utils.*`; its
untouched `pip._vendor.*` imports say that `pip._vendor` did not move), or, where several
modules moved the same way, when the mover imports nothing under the old prefix at all.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from stacker.pysource import parse_ast


@dataclass(frozen=True)
class PackageMove:
    old: str  # dotted prefix, e.g. "pip"
    new: str  # its replacement, e.g. "pip._internal"; "" where the prefix was dropped ("six.moves")
    support: int = 1  # how many of the base's modules moved this way

    def moved_away(self, module: str, mover: set[str]) -> bool:
        """Whether `module` went to the new prefix in `mover`'s imports: `mover` imports nothing
        from `module`'s subpackage under the old prefix and something from it under the new one;
        or, where several modules moved, nothing under the old prefix at all. (One module moved
        alone is a replacement: `django.utils.six` by `six` says nothing of `django.utils.timezone`.)"""
        if not self._only_old(module):
            return False
        if self.support >= 2 and not any(self._only_old(m) for m in mover):
            return True
        sub = module[len(self.old) + 1:].split(".")[0]
        old_sub, new_sub = f"{self.old}.{sub}", f"{self.new}.{sub}" if self.new else sub
        return (not any(_under(m, old_sub) for m in mover)) and any(_under(m, new_sub) for m in mover)

    def _only_old(self, module: str) -> bool:
        return module.startswith(self.old + ".") and not (self.new and _under(module, self.new))


def _under(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def imported_modules(text: str) -> set[str] | None:
    """Absolute module paths `text` imports from; None if it does not parse."""
    tree = parse_ast(text)
    if tree is None:
        return None
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


def package_moves(base: set[str], side: set[str]) -> list[PackageMove]:
    """Prefixes `side` moved: base imports gone from `side` that reappear with the same trailing
    path under another prefix, with how many moved each way."""
    seen: dict[tuple[str, str], set[str]] = {}
    for old in base - side:
        for new in side - base:
            change = _prefix_change(old, new)
            if change is not None:
                seen.setdefault(change, set()).add(old)
    return [PackageMove(old, new, len(olds)) for (old, new), olds in sorted(seen.items())]


def _prefix_change(old: str, new: str) -> tuple[str, str] | None:
    a, b = old.split("."), new.split(".")
    shared = 0
    while shared < min(len(a), len(b)) and a[-1 - shared] == b[-1 - shared]:
        shared += 1
    if shared == 0 or shared == len(a):
        return None  # nothing in common at the end, or only something put in front of all of it
    return ".".join(a[:len(a) - shared]), ".".join(b[:len(b) - shared])


def stale_import_path(result: str, base: str, ours: str, theirs: str) -> str | None:
    """A module the result imports from a package one side moved away (and the other side's
    change brought in), as a sentence; None if there is none or a version does not parse."""
    modules = [imported_modules(text) for text in (result, base, ours, theirs)]
    if any(m is None for m in modules):
        return None
    in_result, in_base, in_ours, in_theirs = modules
    for mover, other, moved_to in (("ours", "theirs", in_ours), ("theirs", "ours", in_theirs)):
        for move in package_moves(in_base, moved_to):
            stale = sorted(m for m in in_result - moved_to if move.moved_away(m, moved_to))
            if stale:
                where = f"`{move.new}`" if move.new else "its own top level"
                return (f"{mover} moved the imports from `{move.old}` to {where} while {other} imports "
                        f"from `{stale[0]}`, the old path")
    return None

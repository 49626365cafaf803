"""Does a merge result check out? Compiled where it runs, and no new name problems (pyflakes).

The structural merge never hands on code it has not checked: each region is compiled the way it
runs (inside a function, a class or the module), a clean file is compiled whole, and pyflakes
must find no name the merge left undefined, defined twice or imported for nothing that neither
side had. git's own line merge can be clean and still not compile; `guard_clean` turns that back
into a conflict.

With the three original versions at hand, one more invariant holds for any correct three-way
merge: a definition (function, class, method) that only one side changed comes out exactly as
that side wrote it. git's line alignment can pair lines of look-alike functions (kernels are
full of them) and move a change into the wrong one; `misplaced_definitions` catches that. The
same alignment can put a definition one side added after the wrong neighbour, every text intact;
`misplaced_new_definitions` catches that. `guard_clean` applies both to any clean result (git's,
or the merge driver's whole chain), and asks pyflakes once more of the whole file: no name the
result leaves undefined, defines twice or imports for nothing where neither side does (one side
renamed a loop variable, the other side's new line uses the old name; found replaying real
merges). Last, no import from the old path of a package one side moved (`import_paths`), and no
line lost that all three versions have (`kept_lines`).
"""

from __future__ import annotations

import ast
import warnings
from functools import lru_cache

from stacker import flakes
from stacker.linemerge import Clean, Conflict, MergedText
from stacker.pysource import parse_ast
from stacker.structural.import_paths import stale_import_path
from stacker.structural.kept_lines import lost_common_line
from stacker.structural.regions import Region, bodies
from stacker.structural.result import Refusal


def guard_clean(merged: MergedText, base: str, ours: str, theirs: str, path: str = "<file>",
                made_by: str = "git's line merge") -> tuple[MergedText, Refusal | None]:
    """git's line merge can be clean and still not compile (both sides added the same keyword
    argument on different lines), or compile and misplace a definition or break a name. When all
    three versions compile and the merge does not, or does with such a problem, the part where the
    sides differ is turned back into one conflict rather than passed on. `made_by` names who
    merged, for the refusal's reason."""
    if not merged.is_clean or not all(compiles(text, path) for text in (base, ours, theirs)):
        return merged, None
    result = merged.view("ours")
    if compiles(result, path):
        problem = (misplaced_definitions(result, base, ours, theirs)
                   or misplaced_new_definitions(result, base, ours, theirs)
                   or introduced_name_problem(result, ours, theirs)
                   or stale_import_path(result, base, ours, theirs)
                   or lost_common_line(result, base, ours, theirs))
        if problem is None:
            return merged, None
        reason = f"{made_by} is clean but {problem}; the changed part is left as a conflict"
    else:
        reason = f"{made_by} is clean but does not compile; the changed part is left as a conflict"
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
    return MergedText(tuple(segments)), Refusal("module", reason)


def new_name_problems(sides: dict[str, str], views: dict[str, str], after: dict[str, str],
                       remerged: MergedText) -> str | None:
    """pyflakes findings the merge introduced: a name used but undefined (an import one side
    deleted while the other side's new code uses it), defined twice before any use (both sides
    added the same import in different places), or an import nothing uses any more (one side
    removed the uses, the other changed the import)."""
    if remerged.is_clean:
        found = flakes.introduced(remerged.view("ours"), (sides["ours"], sides["theirs"]), flakes.ALL_KINDS)
        new = sorted((f.kind, f.name) for f in found)
    else:
        # Conflicts are left: a name may be defined in the part of a conflict one side wrote (a
        # new parameter). Only a problem both sides' views now have, and did not have, counts.
        per_side = []
        for side in ("ours", "theirs"):
            before, now = name_problems(views[side]), name_problems(after[side])
            if before is None or now is None:
                return None
            per_side.append(now - before)
        new = sorted(per_side[0] & per_side[1])
    if new:
        kind, name = new[0]
        return f"the merged code would have {_PHRASES[kind]} name `{name}`"
    return None


def introduced_name_problem(result: str, ours: str, theirs: str) -> str | None:
    """A name the result uses undefined, defines twice before any use, or imports for nothing,
    where neither side does (one side renamed a local, the other side's new lines use the old
    name; one side dropped an import with its uses, the other moved the import)."""
    if flakes.name_findings_of(result) is None:
        # It compiled, so pyflakes ran out of stack walking it. A result nobody could check is
        # not passed on: the driver falls back to git's line merge (`mergedriver`).
        raise RecursionError("pyflakes cannot walk the merged file")
    new = flakes.introduced(result, (ours, theirs), flakes.ALL_KINDS)
    return f"the merged code has {_PHRASES[new[0].kind]} name `{new[0].name}` that neither side has" if new else None


_PHRASES = {flakes.UNDEFINED: "an undefined", flakes.TWICE_DEFINED: "a twice-defined",
            flakes.UNUSED_IMPORT: "an unused import of the"}


def name_problems(text: str) -> set[tuple[str, str]] | None:
    """(kind, name) for pyflakes' undefined, twice-defined and unused-import names; None if unparsable."""
    found = flakes.name_findings_of(text)
    return None if found is None else {(f.kind, f.name) for f in found}


def definition_texts(text: str, skip: set[int] = frozenset()) -> dict[str, str] | None:
    """Source of every function and class by qualified name; names defined twice, and those
    covering a 1-based line in `skip`, are left out. None when the text does not parse.
    Cached (both definition checks read the same versions; callers only read the table)."""
    return _definition_texts(text, frozenset(skip))


@lru_cache(maxsize=16)
def _definition_texts(text: str, skip: frozenset[int]) -> dict[str, str] | None:
    tree = parse_ast(text)
    if tree is None:
        return None
    lines = text.splitlines(keepends=True)
    found: dict[str, str] = {}
    repeated: set[str] = set()

    def walk(body: list[ast.stmt], prefix: str) -> None:
        for stmt in body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = prefix + stmt.name
                first = min([stmt.lineno, *(d.lineno for d in stmt.decorator_list)])
                if name in found or any(first <= line <= stmt.end_lineno for line in skip):
                    repeated.add(name)
                found[name] = "".join(lines[first - 1:stmt.end_lineno])
                walk(stmt.body, name + ".")
            else:
                for field in ("body", "orelse", "finalbody"):
                    inner = getattr(stmt, field, None)
                    if isinstance(inner, list) and inner and isinstance(inner[0], ast.stmt):
                        walk(inner, prefix)
                for handler in getattr(stmt, "handlers", None) or []:
                    walk(handler.body, prefix)

    walk(tree.body, "")
    return {name: source for name, source in found.items() if name not in repeated}


def misplaced_definitions(result: str, base: str, ours: str, theirs: str,
                          unresolved: set[int] = frozenset()) -> str | None:
    """A definition only one side changed that does not come out as that side wrote it.
    `unresolved`: lines of `result` still in conflict (definitions there are not judged)."""
    versions = [definition_texts(text) for text in (base, ours, theirs)]
    r = definition_texts(result, unresolved)
    if any(v is None for v in versions) or r is None:
        return None
    b, o, t = versions
    for name in sorted(set(b) | set(o) | set(t)):
        if unresolved and name not in r and name in (set(o) | set(t)):
            continue  # in (or around) a conflict left for a human
        vb, vo, vt = b.get(name), o.get(name), t.get(name)
        if vo == vt:
            expected = vo
        elif vo == vb:
            expected = vt
        elif vt == vb:
            expected = vo
        else:
            continue  # both changed it: that is what the merge combined
        if r.get(name) != expected:
            side = "ours" if expected == vo else "theirs"
            return f"`{name}`, which only {side} changed, would come out differently"
    return None


def misplaced_new_definitions(result: str, base: str, ours: str, theirs: str) -> str | None:
    """A function or class only one side added that does not follow the definition it follows in
    that side (the nearest one the base has too): git's line alignment can pair look-alike
    definitions and put the new one after the wrong neighbour, with every text intact."""
    versions = [definition_texts(text) for text in (base, ours, theirs, result)]
    if any(v is None for v in versions):
        return None
    b, o, t, r = versions
    for side, mine, other in (("ours", o, t), ("theirs", t, o)):
        for name in mine:
            if name in b or name in other or name not in r:
                continue
            expected, found = _anchor(name, list(mine), b), _anchor(name, list(r), b)
            if expected is not None and expected in r and found != expected:
                return f"`{name}`, which only {side} added after `{expected}`, would come after `{found}`"
    return None


def _anchor(name: str, order: list[str], base: dict[str, str]) -> str | None:
    """The nearest definition before `name`, in the same scope, that the base has."""
    scope = name.rpartition(".")[0]
    for earlier in reversed(order[:order.index(name)]):
        if earlier.rpartition(".")[0] == scope and earlier in base:
            return earlier
    return None


def split_imports(result: str, base: str, ours: str, theirs: str) -> str | None:
    """Both sides import new names from one module, one by adding them to an existing `from`
    statement and the other with a statement of its own: the merge keeps both statements. The
    code is equivalent, but which style the file follows is a human's decision (usually the
    existing one)."""
    tables = []
    for text in (result, base, ours, theirs):
        tree = parse_ast(text)
        if tree is None:
            return None
        names: dict[str, set[str]] = {}
        statements: dict[str, int] = {}
        for node in tree.body:
            if isinstance(node, ast.ImportFrom):
                module = "." * node.level + (node.module or "")
                names.setdefault(module, set()).update(a.asname or a.name for a in node.names)
                statements[module] = statements.get(module, 0) + 1
        tables.append((names, statements))
    (_, merged), (b_names, b_count), (o_names, o_count), (t_names, t_count) = tables
    for module, count in sorted(merged.items()):
        before, had = b_names.get(module, set()), b_count.get(module, 0)
        if not had or count <= had:
            continue
        if not (o_names.get(module, set()) - before and t_names.get(module, set()) - before):
            continue
        styles = {o_count.get(module, 0) > had, t_count.get(module, 0) > had}
        if styles == {True, False}:
            return (f"one side added names to the import from `{module}`, the other a statement of its own; "
                    "which style to keep is a human's choice")
    return None


def region_compiles(text: str, region: Region) -> bool:
    """Compile a region the way it runs: inside a function, a class or the module."""
    text += region.candidate.suffix
    indent = region.candidate.indent
    if not indent:
        return compiles(text, "<region>")
    header = {"function": "async def _():\n", "class": "class _:\n"}.get(region.candidate.scope, "if 1:\n")
    return compiles(header + text, "<region>")


@lru_cache(maxsize=16)
def compiles(text: str, path: str) -> bool:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            compile(text, path, "exec", dont_inherit=True)
        except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError):
            return False
    return True


def definitions(text: str) -> frozenset[str]:
    """Qualified names of the functions and classes in `text` (empty when it does not parse)."""
    tree = parse_ast(text)
    if tree is None:
        return frozenset()
    names: set[str] = set()

    def walk(body: list[ast.stmt], prefix: str) -> None:
        for stmt in body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = f"{prefix}{stmt.name}"
                names.add(name)
                walk(stmt.body, name + ".")
            else:
                for inner in bodies(stmt):
                    walk(inner, prefix)

    walk(tree.body, "")
    return frozenset(names)


def region_definitions(region: Region) -> list[str]:
    """The definitions a region sits in or, for a definition merged whole, is: they must be the
    same definitions in the real base, ours and theirs."""
    names = [] if region.candidate.qualname == "module" else [region.candidate.qualname]
    prefix = "" if region.candidate.qualname == "module" else region.candidate.qualname + "."
    if region.candidate.kind == "statement":
        for side in ("base", "ours", "theirs"):
            statement = region.snippets[side].statements[0]
            name = getattr(getattr(statement, "name", None), "value", None)
            if name and prefix + name not in names:
                names.append(prefix + name)
    return names

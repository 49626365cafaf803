"""Imports a merge lost while the merged code still uses the name: put them back, when it is certain.

The classic clean-but-broken merge: one side deletes an import nothing used any more (a lint
pass), the other side adds new code using that name. git merges both cleanly and the result has an
undefined name (a NameError when the code runs, or when a DSL traces it). When

- the merge base imported the name at module level and did not use it (the deletion was a
  clean-up, not an API migration: had the base used the name, the deleting side replaced those
  uses, and restoring the import would resurrect what it migrated away from),
- one side kept that very import and uses the name, the other side deleted it,
- the merged file uses the name without binding it,

the import is restored as the keeping side has it: the name goes back into the merged file's
`from <module> import ...` statement for the same module, or the statement comes back after the
imports. Anything else is left to the per-step check, which stops the build on the undefined name.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

import libcst as cst

from stacker import flakes
from stacker.pysource import parse_module


@dataclass(frozen=True)
class RestoredImport:
    name: str
    statement: str  # the import as it now reads in the merged file
    kept_by: str  # "ours" or "theirs"


@dataclass(frozen=True)
class _Binding:
    module: str | None  # None for `import a.b`
    level: int
    imported: str  # `Float32` in `from cutlass import Float32`; `a.b` in `import a.b`
    asname: str | None


def _tree(source: str | None) -> ast.Module | None:
    if source is None:
        return None
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError):
        return None


def _bindings(tree: ast.Module) -> dict[str, _Binding]:
    """Names bound by the module's top-level imports."""
    found: dict[str, _Binding] = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                found[alias.asname or alias.name] = _Binding(node.module, node.level, alias.name, alias.asname)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                found[alias.asname or alias.name.split(".")[0]] = _Binding(None, 0, alias.name, alias.asname)
    return found


def _uses(tree: ast.Module, name: str) -> bool:
    return any(isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Load) for n in ast.walk(tree))


def _undefined(source: str) -> set[str]:
    return {f.name for f in flakes.name_findings_of(source) or () if f.kind == flakes.UNDEFINED}


def restore_lost_imports(path: str, result: str, base: str | None, ours: str | None,
                         theirs: str | None) -> tuple[str, list[RestoredImport]]:
    """`result` with the imports it lost put back (see the module docstring), and what was restored."""
    if not path.endswith(".py"):
        return result, []
    base_tree, sides = _tree(base), {"ours": _tree(ours), "theirs": _tree(theirs)}
    if base_tree is None or any(t is None for t in sides.values()):
        return result, []
    missing = _undefined(result) - _undefined(ours or "") - _undefined(theirs or "")
    base_bindings = _bindings(base_tree)
    restored: list[RestoredImport] = []
    for name in sorted(missing):
        binding = base_bindings.get(name)
        if binding is None or _uses(base_tree, name):
            continue
        keeping = [side for side, tree in sides.items() if _bindings(tree).get(name) == binding and _uses(tree, name)]
        deleting = [side for side, tree in sides.items() if name not in _bindings(tree)]
        if len(keeping) != 1 or len(deleting) != 1:
            continue
        updated = _add_import(result, binding, name)
        if updated is None:
            continue
        result, statement = updated
        restored.append(RestoredImport(name, statement, keeping[0]))
    return result, restored


def _module_code(binding: _Binding) -> str:
    return "." * binding.level + (binding.module or "")


def _add_import(source: str, binding: _Binding, name: str) -> tuple[str, str] | None:
    module = parse_module(source)
    if module is None:
        return None
    alias = cst.ImportAlias(name=cst.parse_expression(binding.imported),
                            asname=cst.AsName(cst.Name(binding.asname)) if binding.asname else None)
    body = list(module.body)
    if binding.module is not None:
        for i, statement in enumerate(body):
            if not (isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1
                    and isinstance(statement.body[0], cst.ImportFrom)):
                continue
            node = statement.body[0]
            if isinstance(node.names, cst.ImportStar) or module.code_for_node(node.module or cst.Name("_")) != (
                    binding.module or "_") or len(node.relative) != binding.level:
                continue
            names = list(node.names)
            # alphabetical place among the existing names (the usual import style), else last
            position = next((k for k, a in enumerate(names) if module.code_for_node(a.name) > binding.imported),
                            len(names))
            if position < len(names):
                names.insert(position, alias.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))))
            else:
                names[-1] = names[-1].with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
                names.append(alias)
            new_statement = statement.with_changes(body=[node.with_changes(names=names)])
            body[i] = new_statement
            return module.with_changes(body=body).code, module.code_for_node(new_statement).strip()
        line = f"from {_module_code(binding)} import {binding.imported}" + (
            f" as {binding.asname}" if binding.asname else "")
    else:
        line = f"import {binding.imported}" + (f" as {binding.asname}" if binding.asname else "")
    last_import = max((i for i, s in enumerate(body) if isinstance(s, cst.SimpleStatementLine)
                       and any(isinstance(x, (cst.Import, cst.ImportFrom)) for x in s.body)), default=-1)
    body.insert(last_import + 1, cst.parse_statement(line + "\n"))
    return module.with_changes(body=body).code, line

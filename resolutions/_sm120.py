"""Where this bundle's SM120 resolutions look, shared by several of them.

FA4's SM120 forward is chosen in one branch of `interface.py::_flash_attn_fwd` (the `arch // 10 == 12`
arm of the kernel dispatch), and #2349's TMA kernel mirrors the positional `__call__` of
`flash_fwd.py::FlashAttentionForwardSm80`, which `interface.py` feeds from one `compile_args` list.
The resolution modules import this file by path (`load_stack_module`), because a stack's
`resolutions/` directory is loaded file by file, not as a package.
"""

from __future__ import annotations

from collections.abc import Sequence

import libcst as cst
import libcst.matchers as m

from stacker.cstedit import Listed, calls_to, find_definition, listed, normalized, relist, walk

INTERFACE = "flash_attn/cute/interface.py"
FLASH_FWD = "flash_attn/cute/flash_fwd.py"
SM120 = "flash_attn/cute/flash_fwd_sm120.py"
TMA = "flash_attn/cute/flash_fwd_sm120_tma.py"

TMA_CLASS = "FlashAttentionForwardSm120Tma"
CPASYNC_CLASS = "FlashAttentionForwardSm120"
SM80_CALL = "FlashAttentionForwardSm80.__call__"
TMA_CALL = f"{TMA_CLASS}.__call__"

_SM120_TEST = normalized("arch // 10 == 12")


def sm120_branch(function: cst.FunctionDef) -> cst.If | None:
    """The `arch // 10 == 12` arm of the dispatch that builds `fa_fwd` (None if absent or not unique)."""
    found = [n for n in walk(function) if isinstance(n, cst.If) and normalized(n.test) == _SM120_TEST
             and any(assigns(s, "fa_fwd") for s in walk(n.body))]
    return found[0] if len(found) == 1 else None


def assigns(node: cst.CSTNode, name: str) -> bool:
    """Whether `node` is an assignment statement line binding `name`."""
    return m.matches(node, m.SimpleStatementLine(body=[m.Assign(targets=[m.AssignTarget(target=m.Name(name))])]))


def is_assert(node: cst.CSTNode, test: str) -> bool:
    return (isinstance(node, cst.SimpleStatementLine) and len(node.body) == 1
            and isinstance(node.body[0], cst.Assert) and normalized(node.body[0].test) == normalized(test))


def is_if(node: cst.CSTNode, test: str) -> bool:
    return isinstance(node, cst.If) and normalized(node.test) == normalized(test)


def constructor_calls(node: cst.CSTNode, cls: str) -> list[cst.Call]:
    """Calls of the class `cls` itself (`calls_to` matches exact names: Sm120 is not Sm120Tma)."""
    return calls_to(node, cls)


def block_statements(block: cst.BaseSuite) -> list[cst.BaseStatement]:
    return list(block.body) if isinstance(block, cst.IndentedBlock) else []


def without(statements: Sequence[cst.BaseStatement], drop: Sequence[cst.BaseStatement]) -> list[cst.BaseStatement]:
    """`statements` minus `drop` (by identity); comment lines above a dropped statement move to the
    next one that stays, so a comment about the code that follows is never lost."""
    out: list[cst.BaseStatement] = []
    carried: list[cst.EmptyLine] = []
    for statement in statements:
        if any(statement is d for d in drop):
            carried += [line for line in statement.leading_lines if line.comment is not None]
            continue
        if carried:
            statement = statement.with_changes(leading_lines=[*carried, *statement.leading_lines])
            carried = []
        out.append(statement)
    return out


def insert_before(statements: Sequence[cst.BaseStatement], index: int,
                  new: Sequence[cst.BaseStatement]) -> list[cst.BaseStatement]:
    """`new` inserted at `index`; at the top of a block the block's opening comment stays on top."""
    statements = list(statements)
    if index == 0 and statements and new:
        head = statements[0]
        new = [new[0].with_changes(leading_lines=[*head.leading_lines, *new[0].leading_lines]), *new[1:]]
        statements[0] = head.with_changes(leading_lines=[])
    return statements[:index] + list(new) + statements[index:]


def sm80_call(tree_module: cst.Module | None) -> cst.FunctionDef | None:
    node = find_definition(tree_module, SM80_CALL) if tree_module is not None else None
    return node if isinstance(node, cst.FunctionDef) else None


def tma_method(tree_module: cst.Module | None, name: str) -> cst.FunctionDef | None:
    node = find_definition(tree_module, f"{TMA_CLASS}.{name}") if tree_module is not None else None
    return node if isinstance(node, cst.FunctionDef) else None


# The TMA kernel's name for a parameter Sm80 renamed since #2349 was written (main f3b4de56).
OLD_NAMES = {"aux_data": "aux_tensors"}


def param_names(function: cst.FunctionDef) -> list[str]:
    return [p.name.value for p in function.params.params]


def trailing(names: list[str], after: str = "learnable_sink") -> list[str]:
    return names[names.index(after) + 1:] if after in names else names


def mirror_params(target: cst.FunctionDef, reference: cst.FunctionDef, names: Sequence[str],
                  note: dict[str, tuple[str, ...]] | None = None) -> cst.FunctionDef:
    """`target` with each of `reference`'s parameters in `names` it lacks, copied from `reference` and put
    where `reference` has it: right after the nearest parameter before it that `target` has too (under
    its old name, see OLD_NAMES), else before `stream`. `note` puts comment lines above a new one."""
    order = param_names(reference)
    items = listed(target.params.params)
    for name in names:
        present = [i.node.name.value for i in items]
        if name in present or name not in order:
            continue
        source = next(p for p in reference.params.params if p.name.value == name)
        before = order[: order.index(name)]
        anchor = next((present.index(x) for n in reversed(before) for x in (n, OLD_NAMES.get(n)) if x in present),
                      None)
        at = anchor + 1 if anchor is not None else (present.index("stream") if "stream" in present else len(present))
        comments = tuple(
            cst.EmptyLine(indent=True, whitespace=_param_indent(target), comment=cst.Comment(f"# {text}"))
            for text in (note or {}).get(name, ()))
        new = Listed(source.with_changes(comma=cst.MaybeSentinel.DEFAULT), comments)
        items = items[:at] + [new] + items[at:]
    return target.with_changes(params=target.params.with_changes(params=relist(target.params.params, items)))


def _param_indent(function: cst.FunctionDef) -> cst.SimpleWhitespace:
    for p in function.params.params:
        if isinstance(p.comma, cst.Comma) and isinstance(p.comma.whitespace_after, cst.ParenthesizedWhitespace):
            return p.comma.whitespace_after.last_line
    return cst.SimpleWhitespace("")


def imported_names(module: cst.Module) -> set[str]:
    """Names bound at module level by imports, definitions and assignments."""
    names: set[str] = set()
    for statement in module.body:
        if isinstance(statement, (cst.FunctionDef, cst.ClassDef)):
            names.add(statement.name.value)
        for small in statement.body if isinstance(statement, cst.SimpleStatementLine) else ():
            if isinstance(small, (cst.Import, cst.ImportFrom)) and not isinstance(small.names, cst.ImportStar):
                for alias in small.names:
                    bound = alias.asname.name if alias.asname else alias.name
                    names.add(cst.Module(body=[]).code_for_node(bound).split(".")[0])
    return names


def import_like(target: cst.Module, reference: cst.Module, name: str) -> cst.Module:
    """`target` importing `name` the way `reference` does (after its last top-level import)."""
    if name in imported_names(target):
        return target
    source = next((s for s in reference.body if isinstance(s, cst.SimpleStatementLine)
                   and any(isinstance(x, cst.ImportFrom) and not isinstance(x.names, cst.ImportStar)
                           and any(not a.asname and getattr(a.name, "value", None) == name for a in x.names)
                           for x in s.body)), None)
    if source is None:
        raise ValueError(f"the reference module does not import {name}")
    statement = cst.SimpleStatementLine(body=[cst.ImportFrom(module=source.body[0].module, names=[
        cst.ImportAlias(name=cst.Name(name))])])
    body = list(target.body)
    last = max((i for i, s in enumerate(body) if isinstance(s, cst.SimpleStatementLine)
                and isinstance(s.body[0], (cst.Import, cst.ImportFrom))), default=-1)
    return target.with_changes(body=body[: last + 1] + [statement] + body[last + 1:])

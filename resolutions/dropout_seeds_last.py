"""D4: #2439's dropout seeds go last, just before `stream`, in every kernel signature and argument list.

`cute.compile` binds the interface's argument lists to each kernel's `__call__` positionally. Upstream
(main a19e1c6f) appended arch-specific scheduler arguments (`mCuTotalMBlocks`, ...) where #2439
appended the two seeds. A union of the lists puts the seeds after `AuxData(...)` while the union of
the signatures puts them after the scheduler parameters: a dropout call then fails to compile, and a
`dropout_p=0` call compiles *silently* with `None` seeds in the scheduler slots and the real
scheduler tensors in the seed slots. So this is decided here, not left to a generic merge.
"""

from __future__ import annotations

import re

import libcst as cst
import libcst.matchers as m

from stacker.cstedit import code, expression, find_definition, param_names, statements, walk
from stacker.hunks import appended, only_adds
from stacker.resolution import ConflictContext, Resolution, SourceTree, Verdict

INTERFACE = "flash_attn/cute/interface.py"
KERNELS = tuple(f"flash_attn/cute/{name}.py" for name in (
    "flash_fwd", "flash_fwd_sm90", "flash_fwd_sm100", "flash_fwd_sm120", "flash_fwd_sm120_tma",
    "flash_bwd", "flash_bwd_sm90", "flash_bwd_sm100", "flash_bwd_sm120"))
FUNCTIONS = ("_flash_attn_fwd", "_flash_attn_bwd")
ARG_LISTS = ("compile_args", "call_args")
SEED_PARAMS = ("dropout_seed_lo", "dropout_seed_hi")
HD256_FLAG = "use_dedicated_hd256_kernel"  # main's own guard for the hd256 kernels (CW15: they take no seeds)
# #2439's seed expressions, used when the merge left none to move (the claims below keep ours' lists).
DEFAULT_SEEDS = (
    "int(dropout_seed & 0xFFFFFFFF) if dropout_seed is not None and dropout_p > 0.0 else None",
    "int((dropout_seed >> 32) & 0xFFFFFFFF) if dropout_seed is not None and dropout_p > 0.0 else None",
)

_SEED_PARAM_LINE = re.compile(r"^\s*dropout_seed_(lo|hi)\b[^=]*(=[^,]*)?,\s*$")
_SEED_EXPR_LINE = re.compile(r"\bdropout_seed\b.*0xFFFFFFFF")


def _is_seed(node: cst.CSTNode) -> bool:
    """An argument-list element computed from `dropout_seed` (the lo/hi split)."""
    return any(isinstance(n, cst.Name) and n.value == "dropout_seed" for n in walk(node))


class DropoutSeedsLast(Resolution):
    id = "dropout-seeds-last"
    title = "Dropout seeds last, just before `stream`, in every kernel signature and argument list"
    kind = "conflict"
    prs = (2439,)
    location = f"{INTERFACE}::_flash_attn_fwd"
    also_at = (f"{INTERFACE}::_flash_attn_bwd", *KERNELS)
    sides = {
        "main (a19e1c6f #2559)": "appended `mCuTotalMBlocks` (+ `mCuTotalSplitsMBlocks`, SM100 scheduler args) to "
                                 "every forward/backward `__call__` before `stream`, and built `compile_args` / "
                                 "`call_args` as lists with arch-specific `extend`s (none for the hd256 kernels)",
        "#2439": "appended `dropout_seed_lo, dropout_seed_hi` to the same `__call__`s and the two seed expressions "
                 "right after the aux tensors in the positional `cute.compile(...)` / kernel calls",
    }
    resolution = ("signatures: ours then theirs (`..., mCuTotal*, dropout_seed_lo, dropout_seed_hi, stream`); "
                  "lists: the seeds leave the `[sparse_tensors, AuxData(...)]` literals and are added by one "
                  "`extend` under `if not use_dedicated_hd256_kernel:` right before `append(current_stream)` / "
                  "the `(*call_args)` call, after every arch-specific argument (the hd256 kernels take no seeds)")
    backport = ("#2439: rebase onto main's list-built compile args and append the seeds last, outside the "
                "hd256 kernels")

    # -- claims ---------------------------------------------------------------------------------
    def claim(self, conflict: ConflictContext) -> str | None:
        hunk = conflict.hunk
        if conflict.path == INTERFACE:
            if conflict.qualname in FUNCTIONS and only_adds(hunk, lambda line: bool(_SEED_EXPR_LINE.search(line))):
                return hunk.ours  # the transform puts the seeds in their place
            return None
        if not conflict.qualname.endswith(".__call__"):
            return None
        added = appended(hunk.base, hunk.theirs)
        if added and len(added) == 2 and all(_SEED_PARAM_LINE.match(line) for line in added):
            return hunk.ours + "".join(added)
        return None

    # -- transform ------------------------------------------------------------------------------
    def inspect(self, tree: SourceTree) -> Verdict:
        problems, checked = self._problems(tree)
        if not checked:
            return Verdict.absent("no dropout seeds in the interface or in any kernel `__call__`")
        if problems:
            return Verdict.needed("; ".join(problems))
        return Verdict.satisfied("seeds are last before `stream` in " + ", ".join(checked))

    def _problems(self, tree: SourceTree) -> tuple[list[str], list[str]]:
        problems: list[str] = []
        checked: list[str] = []
        module = tree.module(INTERFACE)
        for name in FUNCTIONS:
            function = find_definition(module, name) if module else None
            if not isinstance(function, cst.FunctionDef) or "dropout_seed" not in param_names(function):
                continue
            for variable in ARG_LISTS:
                if _anchor(function, variable) is None:
                    continue
                checked.append(f"{name}:{variable}")
                problem = _list_problem(function, variable)
                if problem:
                    problems.append(f"{name}: {problem}")
        for path in KERNELS:
            kernel = tree.module(path)
            for cls, call in _calls_with_seeds(kernel) if kernel else ():
                names = param_names(call)
                checked.append(f"{cls}.__call__")
                if names[-1:] == ["stream"] and names[-3:-1] != list(SEED_PARAMS):
                    problems.append(f"{path.rsplit('/', 1)[1]}::{cls}.__call__ has the seeds at positions "
                                    f"{names.index(SEED_PARAMS[0]) + 1}, {names.index(SEED_PARAMS[1]) + 1} "
                                    f"of {len(names)}")
        return problems, checked

    def rewrite(self, tree: SourceTree) -> None:
        module = tree.module(INTERFACE)
        if module is not None:
            for name in FUNCTIONS:
                function = find_definition(module, name)
                if not isinstance(function, cst.FunctionDef) or "dropout_seed" not in param_names(function):
                    continue
                new = function
                for variable in ARG_LISTS:
                    if _anchor(new, variable) is not None and _list_problem(new, variable):
                        new = _place_seeds(new, variable)
                module = module.deep_replace(function, new)
            tree.write(INTERFACE, module)
        for path in KERNELS:
            kernel = tree.module(path)
            if kernel is None:
                continue
            for _cls, call in _calls_with_seeds(kernel):
                names = param_names(call)
                if names[-1:] == ["stream"] and names[-3:-1] != list(SEED_PARAMS):
                    kernel = kernel.deep_replace(call, _seeds_before_stream(call))
            tree.write(path, kernel)


def _calls_with_seeds(module: cst.Module) -> list[tuple[str, cst.FunctionDef]]:
    found = []
    for cls in module.body:
        if not isinstance(cls, cst.ClassDef):
            continue
        call = find_definition(module, f"{cls.name.value}.__call__")
        if isinstance(call, cst.FunctionDef) and set(SEED_PARAMS) <= set(param_names(call)):
            found.append((cls.name.value, call))
    return found


def _seeds_before_stream(call: cst.FunctionDef) -> cst.FunctionDef:
    params = list(call.params.params)
    seeds = [p for name in SEED_PARAMS for p in params if p.name.value == name]
    rest = [p for p in params if p not in seeds]
    ordered = rest[:-1] + seeds + rest[-1:]
    # Commas carry the layout (newline, indentation, comments above the next parameter): keep them by position.
    placed = [p.with_changes(comma=params[i].comma) for i, p in enumerate(ordered)]
    return call.with_changes(params=call.params.with_changes(params=placed))


# -- the interface's argument lists ------------------------------------------------------------------

def _blocks(node: cst.CSTNode) -> list[cst.IndentedBlock]:
    return [n for n in walk(node) if isinstance(n, cst.IndentedBlock)]


def _is_anchor(statement: cst.CSTNode, variable: str) -> bool:
    """`V.append(<...stream>)` (the compile list's last element) or `...(*V)` (the kernel call)."""
    if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
        return False
    small = statement.body[0]
    if not isinstance(small, cst.Expr) or not isinstance(small.value, cst.Call):
        return False
    call = small.value
    if m.matches(call.func, m.Attribute(value=m.Name(variable), attr=m.Name("append"))):
        return len(call.args) == 1 and m.matches(call.args[0].value, m.Name()) and "stream" in call.args[0].value.value
    return len(call.args) == 1 and call.args[0].star == "*" and m.matches(call.args[0].value, m.Name(variable))


def _anchor(function: cst.FunctionDef, variable: str) -> tuple[cst.IndentedBlock, int] | None:
    for block in _blocks(function):
        for i, statement in enumerate(block.body):
            if _is_anchor(statement, variable):
                return block, i
    return None


def _list_literal(statement: cst.CSTNode, variable: str) -> cst.List | None:
    """The list literal a statement adds to V with (`V = [...]`, `V.extend([...])`), if any."""
    if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
        return None
    small = statement.body[0]
    if m.matches(small, m.Assign(targets=[m.AssignTarget(m.Name(variable))], value=m.List())):
        return small.value
    if m.matches(small, m.Expr(m.Call(func=m.Attribute(value=m.Name(variable), attr=m.Name("extend")),
                                      args=[m.Arg(m.List())]))):
        return small.value.args[0].value
    return None


def _appended_value(statement: cst.CSTNode, variable: str) -> cst.BaseExpression | None:
    if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
        return None
    small = statement.body[0]
    if m.matches(small, m.Expr(m.Call(func=m.Attribute(value=m.Name(variable), attr=m.Name("append"))))):
        return small.value.args[0].value if small.value.args else None
    return None


def _seed_statements(function: cst.FunctionDef, variable: str) -> list[cst.SimpleStatementLine]:
    out = []
    for block in _blocks(function):
        for statement in block.body:
            literal = _list_literal(statement, variable)
            value = _appended_value(statement, variable)
            if (literal is not None and any(_is_seed(e.value) for e in literal.elements)) or \
                    (value is not None and _is_seed(value)):
                out.append(statement)
    return out


def _is_hd256_guard(statement: cst.CSTNode | None) -> bool:
    guard = m.If(test=m.UnaryOperation(operator=m.Not(), expression=m.Name(HD256_FLAG)), orelse=None)
    return statement is not None and m.matches(statement, guard)


def _assigns(function: cst.FunctionDef, name: str) -> bool:
    return any(m.matches(n, m.AssignTarget(m.Name(name))) for n in walk(function))


def _list_problem(function: cst.FunctionDef, variable: str) -> str | None:
    """Why V's seeds are not where D4 wants them, or None when they are."""
    anchor = _anchor(function, variable)
    assert anchor is not None
    block, index = anchor
    seeds = _seed_statements(function, variable)
    if not seeds:
        return f"`{variable}` has no dropout seeds"
    if len(seeds) > 1:
        return f"`{variable}` gets dropout seeds in {len(seeds)} places"
    literal = _list_literal(seeds[0], variable)
    if literal is None or len(literal.elements) != 2 or not all(_is_seed(e.value) for e in literal.elements):
        return f"`{variable}`'s seeds share a statement with other arguments (they must come last)"
    before = block.body[index - 1] if index > 0 else None
    guarded = _assigns(function, HD256_FLAG)
    if before is seeds[0] and not guarded:
        return None
    if before is not None and _is_hd256_guard(before) and before.body.body[-1] is seeds[0]:
        return None
    if guarded and before is seeds[0]:
        return f"`{variable}`'s seeds also reach the hd256 kernels"
    return f"`{variable}`'s seeds are not the last arguments before the stream"


class _DropSeeds(cst.CSTTransformer):
    """Removes every seed element from V's list literals and `V.append(seed)` statements."""

    def __init__(self, variable: str) -> None:
        self.variable = variable
        self.seeds: list[str] = []

    def leave_SimpleStatementLine(self, original_node, updated_node):
        value = _appended_value(updated_node, self.variable)
        if value is not None and _is_seed(value):
            self.seeds.append(code(value))
            return cst.RemoveFromParent()
        literal = _list_literal(updated_node, self.variable)
        if literal is None or not any(_is_seed(e.value) for e in literal.elements):
            return updated_node
        kept = [e for e in literal.elements if not _is_seed(e.value)]
        self.seeds += [code(e.value) for e in literal.elements if _is_seed(e.value)]
        if not kept and m.matches(updated_node.body[0], m.Expr()):
            return cst.RemoveFromParent()
        # keep the literal's layout: the last kept element takes the comma the old last element had
        last_comma = literal.elements[-1].comma
        kept[-1] = kept[-1].with_changes(comma=last_comma)
        return updated_node.deep_replace(literal, literal.with_changes(elements=kept))

    def leave_If(self, original_node, updated_node):
        # a guard whose only statement was the seeds goes with them
        if not updated_node.body.body and updated_node.orelse is None:
            return cst.RemoveFromParent()
        return updated_node


# the comments the placed seeds carry: in a new hd256 guard / joining main's guard
NEW_GUARD_COMMENT = ("# Dropout seeds (#2439) go last, just before stream, in every kernel's __call__",
                     "# that takes them (after the arch-specific scheduler arguments).")
JOINED_GUARD_COMMENT = ("# Dropout seeds (#2439) last before stream; the hd256 kernel takes neither.",)


def _seed_extend(variable: str, seeds: list[str], comment: tuple[str, ...]) -> cst.SimpleStatementLine:
    body = "".join(f"    {seed},\n" for seed in seeds)
    statement = statements(f"{variable}.extend([\n{body}])\n")[0]
    return statement.with_changes(leading_lines=[cst.EmptyLine(comment=cst.Comment(c)) for c in comment])


def _place_seeds(function: cst.FunctionDef, variable: str) -> cst.FunctionDef:
    dropper = _DropSeeds(variable)
    function = function.visit(dropper)
    seeds = list(dict.fromkeys(dropper.seeds)) or list(DEFAULT_SEEDS)
    if len(seeds) != 2:
        raise ValueError(f"expected the two dropout seed expressions for `{variable}`, found {len(seeds)}")
    for seed in seeds:
        expression(seed)  # must parse on its own
    block, index = _anchor(function, variable)
    before = block.body[index - 1] if index > 0 else None
    body = list(block.body)
    commented = variable == ARG_LISTS[0]  # the compile list says why; the call list mirrors it
    if _is_hd256_guard(before):
        # the `if not use_dedicated_hd256_kernel:` right before the anchor: add the seeds as its last statement
        guard_body = list(before.body.body) + [_seed_extend(variable, seeds, JOINED_GUARD_COMMENT if commented else ())]
        body[index - 1] = before.with_changes(body=before.body.with_changes(body=guard_body))
    elif _assigns(function, HD256_FLAG):
        guard = statements(f"if not {HD256_FLAG}:\n    pass\n")[0]
        guard = guard.with_changes(body=guard.body.with_changes(
            body=[_seed_extend(variable, seeds, NEW_GUARD_COMMENT if commented else ())]))
        body.insert(index, guard)
    else:
        body.insert(index, _seed_extend(variable, seeds, NEW_GUARD_COMMENT if commented else ()))
    return function.deep_replace(block, block.with_changes(body=body))

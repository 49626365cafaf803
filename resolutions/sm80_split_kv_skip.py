"""CW3: only split-KV may skip the epilogue of a Sm80 forward tile that has no K blocks.

#2348 runs the kernel's prologue .. epilogue only `if n_block_max > n_block_min:`. With split-KV
that is right: `out_partial` / `lse_partial` are pre-initialized to 0 / -inf and the combine
kernel reads them. Without split-KV a tile with no visible K blocks (causal with seqlen_q >
seqlen_k, local windows) then never writes O / LSE, which interface.py allocates with
`torch.empty`: garbage where main writes 0 / -inf. The fix computes the gate first,

    if const_expr(self.is_split_kv):
        has_n_blocks = n_block_max > n_block_min
    else:
        has_n_blocks = cutlass.Boolean(True)
    if has_n_blocks:
        ...

because the compound test `const_expr(not self.is_split_kv) or n_block_max > n_block_min` trips
the CuTe DSL's staged-if analysis (NameError on the nested `preprocess_Q`). The gate is found
where #2348 puts it (the kernel's top level) and where the block-sparse resolution moves it (inside
`if const_expr(not <block sparsity>):`), so the fix holds before and after #2389.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import libcst as cst

from stacker.cstedit import code, find_definition, walk
from stacker.cstnames import referenced_names
from stacker.plugins import load_stack_module
from stacker.resolution import Resolution, SourceTree, Verdict

_k = load_stack_module(Path(__file__).with_name("_sm80_kernel.py"), namespace="stacker_resolution")

GATE_NAME = "has_n_blocks"
SPLIT_TEST = "self.is_split_kv"
_BOUNDS = {"n_block_max", "n_block_min"}
_ALWAYS = {"True", "cutlass.Boolean(True)", "Boolean(True)"}
_COMMENT = ("Only split-KV may skip a tile with no K blocks: out_partial / lse_partial start at 0 / -inf "
            "for the combine. Without split-KV the epilogue must run, so rows that see no key (causal, "
            "seqlen_q > seqlen_k) get O=0 and LSE=-inf.")


@dataclass(frozen=True)
class Gate:
    """#2348's runtime gate around the epilogue: where it stands and what it tests."""

    path: tuple[int, ...]  # (index,) at the kernel's top level, (outer, inner) inside a const_expr `if`
    node: cst.If
    status: str  # "fixed", "skips-always" (the bug), or "other" (a gate this fix is not about)
    condition: cst.BaseExpression | None = None  # the n_block test, when status is "skips-always"
    assigned_at: int | None = None  # index in the block of `G = <n_block test>` feeding `if G:`


def _mentions_bounds(node: cst.CSTNode) -> bool:
    return bool(referenced_names(node) & _BOUNDS)


def _single_assign(block: cst.BaseSuite, name: str) -> cst.BaseExpression | None:
    body = block.body if isinstance(block, cst.IndentedBlock) else ()
    if len(body) != 1 or not isinstance(body[0], cst.SimpleStatementLine) or len(body[0].body) != 1:
        return None
    assign = body[0].body[0]
    if (isinstance(assign, cst.Assign) and len(assign.targets) == 1
            and isinstance(assign.targets[0].target, cst.Name) and assign.targets[0].target.value == name):
        return assign.value
    return None


def classify(block: list[cst.BaseStatement], index: int, path: tuple[int, ...]) -> Gate:
    """What the gate `block[index]` does, looking at the statement that computes its test."""
    gate = block[index]
    test = gate.test
    if not isinstance(test, cst.Name):
        return Gate(path, gate, "skips-always" if _mentions_bounds(test) else "other", test)
    before = block[index - 1] if index > 0 else None
    if isinstance(before, cst.If) and isinstance(before.orelse, cst.Else):
        arg = _k.const_expr_arg(before.test)
        split = _single_assign(before.body, test.value)
        always = _single_assign(before.orelse.body, test.value)
        if (arg is not None and code(arg) == SPLIT_TEST and split is not None and _mentions_bounds(split)
                and always is not None and code(always) in _ALWAYS):
            return Gate(path, gate, "fixed")
    if isinstance(before, cst.SimpleStatementLine) and len(before.body) == 1:
        assign = before.body[0]
        if (isinstance(assign, cst.Assign) and len(assign.targets) == 1
                and isinstance(assign.targets[0].target, cst.Name) and assign.targets[0].target.value == test.value
                and _mentions_bounds(assign.value)):
            return Gate(path, gate, "skips-always", assign.value, index - 1)
    return Gate(path, gate, "other")


def gates(body: list[cst.BaseStatement]) -> list[Gate]:
    found = []
    for path, _ in _k.epilogue_gates(body):
        block = body if len(path) == 1 else list(body[path[0]].body.body)
        found.append(classify(block, path[-1], path))
    return found


def _fixed_block(block: list[cst.BaseStatement], gate: Gate, name: str, spelling: dict[str, str]) -> list:
    """`block` with `gate` fed by the split-KV-only predicate."""
    split_if = cst.parse_statement(
        f"if {spelling['const_expr']}({SPLIT_TEST}):\n"
        f"    {name} = {code(gate.condition)}\n"
        f"else:\n"
        f"    {name} = {spelling['true']}\n")
    index = gate.path[-1]
    if gate.assigned_at is not None:  # `G = <n_block test>` / `if G:` -> replace the assignment
        old = block[gate.assigned_at]
        split_if = split_if.with_changes(leading_lines=[*old.leading_lines, *_k.comment_lines(_k.wrap(_COMMENT.split()))])
        return [*block[:gate.assigned_at], split_if, *block[gate.assigned_at + 1:]]
    split_if = split_if.with_changes(leading_lines=[*gate.node.leading_lines, *_k.comment_lines(_k.wrap(_COMMENT.split()))])
    new_gate = gate.node.with_changes(test=cst.Name(name), leading_lines=())
    return [*block[:index], split_if, new_gate, *block[index + 1:]]


def _imported(module: cst.Module) -> set[str]:
    """Names the module's top-level imports bind (`cutlass` for `import cutlass`, `Boolean` for
    `from cutlass import Boolean`)."""
    names: set[str] = set()
    for statement in module.body:
        if not isinstance(statement, cst.SimpleStatementLine):
            continue
        for small in statement.body:
            if isinstance(small, (cst.Import, cst.ImportFrom)) and not isinstance(small.names, cst.ImportStar):
                for alias in small.names:
                    bound = alias.asname.name if alias.asname else alias.name
                    names.add(code(bound).split(".")[0])
    return names


def _spelling(module: cst.Module, kernel: cst.FunctionDef) -> dict[str, str] | None:
    """How this file spells `const_expr(...)` and a traced True."""
    const = next((n.func for n in walk(kernel) if isinstance(n, cst.Call) and _k.const_expr_arg(n) is not None), None)
    imported = _imported(module)
    true = "cutlass.Boolean(True)" if "cutlass" in imported else "Boolean(True)" if "Boolean" in imported else None
    if const is None or true is None:
        return None
    return {"const_expr": code(const), "true": true}


class SplitKVOnlySkip(Resolution):
    id = "sm80-split-kv-only-skip"
    title = "Sm80 forward: only split-KV may skip the epilogue of a tile with no K blocks"
    kind = "bug"
    found_in = 2348
    prs = (2348,)
    location = f"{_k.PATH}::{_k.KERNEL}"
    sides = {
        "#2348": "runs the prologue .. epilogue only `if n_block_max > n_block_min:`, with or without split-KV",
        "main": "always runs the epilogue: a tile with no visible K blocks (causal with seqlen_q > seqlen_k, local) "
                "writes O = 0 and LSE = -inf into the torch.empty outputs",
    }
    resolution = ("gate on `has_n_blocks`, computed as `n_block_max > n_block_min` under "
                  "`if const_expr(self.is_split_kv):` and `cutlass.Boolean(True)` otherwise (a compound "
                  "const_expr-or-runtime test fails in the CuTe DSL); works at the kernel's top level and inside "
                  "the dense flow of sm80-block-sparse-flows")
    backport = "#2348: keep the skip for split-KV only (out_partial / lse_partial are pre-initialized)"

    def inspect(self, tree: SourceTree) -> Verdict:
        module = tree.module(_k.PATH)
        body = _k.kernel_body(module) if module is not None else None
        if body is None:
            return Verdict.absent(f"no `{_k.KERNEL}` in {_k.PATH}")
        found = [g for g in gates(body) if g.status != "other"]
        if not found:
            return Verdict.absent("the Sm80 kernel's epilogue is not under an `n_block_max > n_block_min` gate")
        bad = [g for g in found if g.status == "skips-always"]
        if bad:
            return Verdict.needed(f"`if {code(bad[0].node.test)}:` skips the epilogue without split-KV too")
        return Verdict.satisfied(f"the epilogue is skipped only under `const_expr({SPLIT_TEST})`")

    def rewrite(self, tree: SourceTree) -> None:
        module = tree.module(_k.PATH)
        kernel = find_definition(module, _k.KERNEL)
        body = list(kernel.body.body)
        spelling = _spelling(module, kernel)
        if spelling is None:
            raise ValueError(f"{_k.PATH} imports neither `cutlass` nor `Boolean`; cannot spell a traced True")
        taken = referenced_names(kernel)
        # Innermost edits first: paths stay valid while the blocks change (one gate per block).
        for gate in sorted((g for g in gates(body) if g.status == "skips-always"), key=lambda g: g.path, reverse=True):
            name = code(gate.node.test) if gate.assigned_at is not None else GATE_NAME
            if gate.assigned_at is None and GATE_NAME in taken:
                raise ValueError(f"`{GATE_NAME}` is already used in the kernel; cannot add the split-KV gate")
            if len(gate.path) == 1:
                body = _fixed_block(body, gate, name, spelling)
            else:
                outer = body[gate.path[0]]
                inner = _fixed_block(list(outer.body.body), gate, name, spelling)
                body[gate.path[0]] = outer.with_changes(body=outer.body.with_changes(body=inner))
        tree.write(_k.PATH, module.deep_replace(kernel, kernel.with_changes(body=kernel.body.with_changes(body=body))))

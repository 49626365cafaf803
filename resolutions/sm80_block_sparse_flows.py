"""D3 (issue-4 entry 2): the block-sparse and the dense flow of the Sm80 forward kernel.

#2348 runs the kernel's prologue -> mainloop -> finalize -> epilogue under a runtime
`if n_block_max > n_block_min:`; #2389 forks the K/V prefetch and the mainloop on
`if const_expr(self.use_block_sparsity): ... else: ...` and shares the rest. Stacked, the two
shapes conflict over the whole tail of the kernel. The resolution builds two compile-time flows:

    if const_expr(<block sparsity>):         # #2389's flow, every switch decided True
        <Q load .. block-sparse mainloop .. finalize .. its own epilogue>
    if const_expr(not <block sparsity>):     # #2348's flow, as #2348 wrote it
        <#2348's gate>: <dense, split-KV aware prologue .. epilogue>

The block-sparse flow is a statement-level three-way merge of the base tail, #2348's dense body
and #2389's tail with the switch decided: code #2389 shares with the dense flow keeps #2348's
edits (Pack-GQA Q load, `split_idx` to the epilogue); where #2389 replaced code (the prefetch, the
mainloop), its replacement wins. Every local the block-sparse flow binds that the dense flow's
runtime `if` binds too gets a `bs_` prefix: the CuTe DSL traces the runtime `if` as staged control
flow and rejects a local whose type differs between paths (`TYPE_UNSTABLE_JOIN`); renaming only
`row_scale`/`sO`, as the 2026 log did, no longer compiles on today's main (experiment e1).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from pathlib import Path

import libcst as cst

from stacker.cstedit import code, find_definition, param_names
from stacker.cstnames import binding_nodes, bound_names, first_use_binds, read_names, referenced_names, rename_names
from stacker.plugins import load_stack_module
from stacker.pysource import definition_span, parse_module, source_lines
from stacker.resolution import ConflictContext, MergedNode, Resolution, SourceTree, Verdict

_k = load_stack_module(Path(__file__).with_name("_sm80_kernel.py"), namespace="stacker_resolution")

PREFIX = "bs_"
_BS_COMMENT = ("Block-sparse flow: its own prologue, mainloop and epilogue, decided at compile time and kept "
               "apart from the dense flow below (stacker resolution sm80-block-sparse-flows).")
_RENAMED_COMMENT = ("Locals the dense flow's runtime `if` binds too carry a bs_ prefix (the CuTe DSL needs "
                    "type-stable locals across that `if`):")
_DENSE_COMMENT = "Dense flow (split-KV and paged-KV aware)."


def rename_set(bs_flow: Sequence[cst.CSTNode], dense_gate: cst.CSTNode, outer: set[str]) -> list[str]:
    """The locals to prefix: bound in the block-sparse flow and also bound anywhere inside the dense
    flow's runtime `if` (nested `def`s included), in the block-sparse flow's binding order. Names
    bound before the two flows (`outer`: kernel parameters, the shared prologue) are not the flows'
    own locals and keep their names."""
    dense = bound_names(dense_gate)
    ordered: list[str] = []
    for statement in bs_flow:
        for name in binding_nodes(statement):
            if name.value in dense and name.value not in outer and name.value not in ordered:
                ordered.append(name.value)
    return ordered


def prefixed(statements: Sequence[cst.BaseStatement], names: Sequence[str],
             taken: set[str]) -> list[cst.BaseStatement] | None:
    """The statements with `names` renamed to bs_<name>, or None where that is unsafe: a `bs_` name
    already in use, or a name the flow reads before binding it (its value comes from outside)."""
    if any(PREFIX + name in taken for name in names):
        return None
    if not all(first_use_binds(statements, name) for name in names):
        return None
    mapping = {name: PREFIX + name for name in names}
    return [rename_names(s, mapping) for s in statements]


def _flow_comment(names: Sequence[str]) -> list[cst.EmptyLine]:
    text = _k.wrap(_BS_COMMENT.split())
    if names:
        text += "\n" + _k.wrap([*_RENAMED_COMMENT.split(), *(f"{n}," for n in names[:-1]), f"{names[-1]}."])
    return [cst.EmptyLine(indent=False), *_k.comment_lines(text)]


# --- the claim: build both flows from the conflict's views and the file's originals ------------------------------

@dataclass(frozen=True)
class FlowsMerge:
    source: str  # the merged kernel, as it stands in the file
    switch: str  # the block-sparse test, e.g. "self.use_block_sparsity"
    renamed: tuple[str, ...]


def _common_prefix(keys: list[list[str]]) -> int:
    n = 0
    while all(n < len(k) for k in keys) and len({k[n] for k in keys}) == 1:
        n += 1
    return n


def _common_suffix(keys: list[list[str]], prefix: int) -> int:
    n = 0
    while all(len(k) - n - 1 >= prefix for k in keys) and len({k[len(k) - n - 1] for k in keys}) == 1:
        n += 1
    return n


def _switch(tail: Sequence[cst.BaseStatement]) -> tuple[str, cst.Call] | None:
    """The one block-sparse compile-time test the tail's top-level `if`s fork on (as code, and the
    `const_expr(...)` call to copy), or None if there is none or more than one."""
    found: dict[str, cst.Call] = {}
    for statement in tail:
        if isinstance(statement, cst.If):
            arg = _k.const_expr_arg(statement.test)
            if arg is not None and _k.mentions_block_sparsity(arg):
                positive = _k.negated(arg) if isinstance(arg, cst.UnaryOperation) else arg
                found.setdefault(code(positive), statement.test.with_changes(args=[cst.Arg(positive)]))
    return next(iter(found.items())) if len(found) == 1 else None


def _first_line(key: str) -> str:
    return key.split("\n", 1)[0]


def original_tail(original: Sequence[cst.BaseStatement], prefix: Sequence[cst.BaseStatement],
                  suffix: Sequence[cst.BaseStatement]) -> list[cst.BaseStatement] | None:
    """The statements of one side's original kernel body between the merged prefix and suffix.

    Anchored on the prefix statements the original has unchanged (monotone matching); statements
    of the prefix the original lacks (the other side added them cleanly) are skipped. None when a
    tail statement starts like a prefix statement the original has only in another form (the other
    side edited it cleanly): the boundary is then ambiguous and the merge must not guess."""
    pk = [_k.statement_key(s) for s in prefix]
    sk = [_k.statement_key(s) for s in suffix]
    ok = [_k.statement_key(s) for s in original]
    matched: set[int] = set()
    lo = 0
    for a, b, size in SequenceMatcher(None, pk, ok, autojunk=False).get_matching_blocks():
        if size:
            lo = max(lo, b + size)
            matched.update(range(a, a + size))
    hi = len(ok)
    for _, b, size in SequenceMatcher(None, sk, ok[lo:], autojunk=False).get_matching_blocks():
        if size:
            hi = min(hi, lo + b)
    tail = list(original[lo:hi])
    while tail and _k.statement_key(tail[0]) in pk:
        tail.pop(0)
    unmatched = {_first_line(k) for i, k in enumerate(pk) if i not in matched}
    if any(_first_line(_k.statement_key(s)) in unmatched for s in tail):
        return None
    return tail


def _gate_feeders(prefix: list[cst.BaseStatement], gate: cst.If) -> int:
    """How many statements at the end of the merged prefix only compute the gate's test (e.g. a
    `has_n_blocks = ...` fixed before this merge): they belong to the dense flow."""
    needed = read_names(gate.test)
    count = 0
    for statement in reversed(prefix):
        if not bound_names(statement) & needed:
            break
        needed |= read_names(statement)
        count += 1
    return count


@dataclass(frozen=True)
class _Sides:
    """The tails of the three originals, by role: `gated` ends in #2348's runtime gate, `switched`
    forks on the block-sparse test."""

    base: list[cst.BaseStatement]
    gated: list[cst.BaseStatement]
    switched: list[cst.BaseStatement]
    switch: str
    test: cst.Call


def _sides(tails: list[list[cst.BaseStatement]], feeders: list[cst.BaseStatement]) -> _Sides | None:
    base, ours, theirs = tails
    switches = _switch(ours), _switch(theirs)
    if _switch(base) is not None or (switches[0] is None) == (switches[1] is None):
        return None
    gated, switched = (ours, theirs) if switches[1] else (theirs, ours)
    feeder_keys = {_k.statement_key(s) for s in feeders}
    gated = [*feeders, *(s for s in gated if _k.statement_key(s) not in feeder_keys)]
    if not gated or not _k.is_gate(gated[-1]) or any(_k.mentions_block_sparsity(s) for s in gated):
        return None
    switch, test = switches[1] or switches[0]
    return _Sides(base, gated, switched, switch, test)


def _flows(sides: _Sides) -> tuple[list[cst.BaseStatement], cst.If] | None:
    """The block-sparse flow's statements and the (possibly updated) dense gate."""
    gate: cst.If = sides.gated[-1]
    dense_body = list(gate.body.body)
    bs_side = _k.specialize(sides.switched, sides.switch, True)

    def replaced_by_switch(_base, _dense, switched_part, switched_range):
        # Both sides changed this stretch: the block-sparse PR replaced it (or dropped it for its
        # flow) and the split PR edited the dense version, which lives on in the dense flow.
        return switched_part if all(bs_side.from_branch[i] for i in switched_range) else None

    bs_flow = _k.merge_statements(sides.base, dense_body, bs_side.statements, replaced_by_switch)
    dense_side = _k.specialize(sides.switched, sides.switch, False)
    dense = _k.merge_statements(sides.base, dense_body, dense_side.statements, None)
    if bs_flow is None or dense is None or not _k.calls_method(cst.Module(body=bs_flow), _k.EPILOGUE):
        return None
    if [_k.statement_key(s) for s in dense] != [_k.statement_key(s) for s in dense_body]:
        gate = gate.with_changes(body=gate.body.with_changes(body=dense))  # the PR edited shared code
    return _k.drop_unused_defs(bs_flow), gate


def merge_flows(views: tuple[str, str, str], originals: tuple[str, str, str]) -> FlowsMerge | None:
    """The merged kernel: prefix and suffix where the ours and theirs views agree (git merged them),
    the two flows from the three originals' tails. The views alone do not do: the side that moved
    the flow into its runtime gate deleted the old lines, and git applies such a deletion to every
    view where the other side left them alone. The base view is not needed (it may not parse).
    None if the code is not the shape this resolution was written for: the build then stops on the
    conflict, as it should."""
    view_modules = [parse_module(v) for v in views[1:]]
    original_modules = [parse_module(v) for v in originals]
    if any(m is None for m in (*view_modules, *original_modules)):
        return None
    bodies = [_k.kernel_body(m) for m in view_modules]
    original_bodies = [_k.kernel_body(m) for m in original_modules]
    if any(b is None for b in (*bodies, *original_bodies)):
        return None
    keys = [[_k.statement_key(s) for s in b] for b in bodies]
    start = _common_prefix(keys)
    end = _common_suffix(keys, start)
    prefix, suffix = bodies[0][:start], bodies[0][len(bodies[0]) - end:]
    tails = [original_tail(b, prefix, suffix) for b in original_bodies]
    if any(t is None for t in tails):
        return None
    gates = [t[-1] for t in tails if t and _k.is_gate(t[-1])]
    feeders = prefix[len(prefix) - _gate_feeders(prefix, gates[0]):] if len(gates) == 1 else []
    prefix = prefix[:len(prefix) - len(feeders)]
    sides = _sides(tails, feeders)
    flows = _flows(sides) if sides is not None else None
    if flows is None:
        return None
    bs_flow, gate = flows
    kernel = find_definition(view_modules[0], _k.KERNEL)
    if bound_names(feeders) & referenced_names([*bs_flow, *suffix]):
        return None  # the gate's inputs are used elsewhere too: they cannot move into the dense flow
    names = rename_set(bs_flow, gate, bound_names(prefix) | set(param_names(kernel)))
    bs_flow = prefixed(bs_flow, names, referenced_names(kernel))
    if bs_flow is None:
        return None
    test = sides.test
    bs_if = cst.If(test=test, body=cst.IndentedBlock(body=_k.without_leading_blank(bs_flow)),
                   leading_lines=_flow_comment(names))
    dense_test = test.with_changes(args=[cst.Arg(_k.negated(test.args[0].value))])
    dense_if = cst.If(test=dense_test,
                      body=cst.IndentedBlock(body=_k.without_leading_blank([*sides.gated[:-1], gate])),
                      leading_lines=[cst.EmptyLine(indent=False), *_k.comment_lines(_DENSE_COMMENT)])
    new_kernel = kernel.with_changes(body=kernel.body.with_changes(body=[*prefix, bs_if, dense_if, *suffix]))
    text = view_modules[0].deep_replace(kernel, new_kernel).code
    span = definition_span(text, _k.KERNEL)
    if span is None:
        return None
    return FlowsMerge(source=source_lines(text, span), switch=sides.switch, renamed=tuple(names))


# --- the transform: is the two-flow shape there, with no shared locals? ------------------------------------------

@dataclass(frozen=True)
class TwoFlows:
    bs_index: int
    dense_index: int
    switch: str


def two_flows(body: Sequence[cst.BaseStatement]) -> TwoFlows | None:
    """`if const_expr(X):` (ending in its own epilogue) followed by `if const_expr(not X):` holding
    the runtime-gated dense flow, both at the kernel's top level, X a block-sparse test."""
    for i, statement in enumerate(body):
        if not isinstance(statement, cst.If) or statement.orelse is not None:
            continue
        arg = _k.const_expr_arg(statement.test)
        if arg is None or not _k.mentions_block_sparsity(arg) or isinstance(arg, cst.UnaryOperation):
            continue
        if not _k.calls_method(statement.body, _k.EPILOGUE):
            continue
        switch = code(arg)
        for j in range(i + 1, len(body)):
            other = body[j]
            if (isinstance(other, cst.If) and other.orelse is None and _k.switch_value(other.test, switch) is False
                    and any(_k.is_gate(s) for s in other.body.body)):
                return TwoFlows(i, j, switch)
    return None


def _collisions(body: Sequence[cst.BaseStatement], kernel: cst.FunctionDef, shape: TwoFlows) -> list[str]:
    bs_flow = list(body[shape.bs_index].body.body)
    gates = [s for s in body[shape.dense_index].body.body if _k.is_gate(s)]
    outer = bound_names(body[:shape.bs_index]) | set(param_names(kernel))
    names: list[str] = []
    for gate in gates:
        names += [n for n in rename_set(bs_flow, gate, outer) if n not in names]
    return names


class BlockSparseDenseFlows(Resolution):
    id = "sm80-block-sparse-flows"
    title = "Sm80 forward: block-sparse and dense flows as two compile-time branches, bs_ locals"
    kind = "bug"  # [BUG found during merge]: neither PR is wrong alone
    prs = (2348, 2389)
    location = f"{_k.PATH}::{_k.KERNEL}"
    sides = {
        "#2348": "runs the prologue -> mainloop -> finalize -> epilogue under a runtime `if n_block_max > "
                 "n_block_min:` (a split with no K blocks skips its tile), with split-KV loop bounds and "
                 "`split_idx` passed to the epilogue",
        "#2389": "forks the K/V prefetch and the mainloop on `if const_expr(self.use_block_sparsity): ... else: "
                 "...`, sharing the Q load, finalize and epilogue",
        "main": "Pack-GQA Q load in the prologue (80b79f0b); the CuTe DSL rejects a local bound with different "
                "types on the paths of a runtime `if` (TYPE_UNSTABLE_JOIN)",
    }
    resolution = ("two compile-time flows: `if const_expr(<block sparsity>):` = #2389's flow with every switch "
                  "decided, #2348's edits to the code it shares (Pack-GQA Q load, `split_idx`), its own "
                  "epilogue; then `if const_expr(not <block sparsity>):` = #2348's gated dense flow unchanged. "
                  "Every local bound in the block-sparse flow and also inside the dense flow's runtime `if` "
                  "gets a `bs_` prefix (computed, 7 names on today's main; the 2026 log's `row_scale`/`sO` "
                  "alone fails with TYPE_UNSTABLE_JOIN on gmem_thr_copy_Q)")
    backport = ("whichever of #2348/#2389 merges second (easier in #2389): give the block-sparse path its own "
                "const_expr branch through the epilogue and keep the dense path's runtime gate inside "
                "`if const_expr(not self.use_block_sparsity):`")

    def claim(self, conflict: ConflictContext) -> MergedNode | None:
        if conflict.originals is None:
            return None
        merged = merge_flows(conflict.views, conflict.originals)
        return MergedNode(_k.KERNEL, merged.source) if merged else None

    def inspect(self, tree: SourceTree) -> Verdict:
        module = tree.module(_k.PATH)
        body = _k.kernel_body(module) if module is not None else None
        if body is None:
            return Verdict.absent(f"no `{_k.KERNEL}` in {_k.PATH}")
        if not any(isinstance(s, cst.If) and (a := _k.const_expr_arg(s.test)) is not None
                   and _k.mentions_block_sparsity(a) for s in body):
            return Verdict.absent("the Sm80 kernel has no compile-time block-sparse flow")
        if not _k.epilogue_gates(body):
            return Verdict.absent("no runtime `if` around the dense epilogue: the flows cannot collide")
        shape = two_flows(body)
        if shape is None:
            return Verdict.needed("the block-sparse switch and the runtime-gated dense epilogue are not two "
                                  "top-level compile-time flows")
        names = _collisions(body, find_definition(module, _k.KERNEL), shape)
        if names:
            return Verdict.needed("bound in both the block-sparse flow and the dense flow's runtime `if`: "
                                  + ", ".join(names))
        return Verdict.satisfied(f"`if const_expr({shape.switch})` and `if const_expr(not ...)` flows, no local "
                                 "bound in both")

    def rewrite(self, tree: SourceTree) -> None:
        module = tree.module(_k.PATH)
        kernel = find_definition(module, _k.KERNEL)
        body = list(kernel.body.body)
        shape = two_flows(body)
        if shape is None:
            raise ValueError("the Sm80 kernel's block-sparse and dense flows are not in the two-branch shape and "
                             "there is no conflict to build it from: restructure them by hand")
        names = _collisions(body, kernel, shape)
        bs_if = body[shape.bs_index]
        renamed = prefixed(list(bs_if.body.body), names, referenced_names(kernel))
        if renamed is None:
            raise ValueError(f"cannot prefix {', '.join(names)} with {PREFIX!r} in the block-sparse flow safely")
        body[shape.bs_index] = bs_if.with_changes(body=bs_if.body.with_changes(body=renamed))
        tree.write(_k.PATH, module.deep_replace(kernel, kernel.with_changes(body=kernel.body.with_changes(body=body))))

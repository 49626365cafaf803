"""D1 — the SM120 forward dispatch in `interface.py::_flash_attn_fwd` (issue 4, entry 3).

Four PRs edit the same `elif arch // 10 == 12:` arm: #2348 (paged KV + split-KV on the CpAsync
kernel), #2349 (a TMA kernel chosen when it can run), #2389 (block sparsity on the CpAsync kernel)
and #2439 (dropout on the CpAsync kernel). Git stops twice on it (stacking #2349 on #2348, and
#2439 on the result) and merges the rest cleanly but incompletely. The target depends on which
PRs are stacked, so the transform is a list of clauses, each checked and applied only when its
PRs are in the bundle, and the log names every clause with its state.
"""

from __future__ import annotations

import difflib
import re
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import libcst as cst

from stacker.cstedit import (
    Listed,
    code,
    comment_lines,
    find_definition,
    keyword,
    listed,
    normalized,
    relist,
    remove_keyword,
    same_code,
    walk,
    with_keyword,
)
from stacker.plugins import load_stack_module
from stacker.resolution import ConflictContext, Resolution, SourceTree, Verdict

sm120 = load_stack_module(Path(__file__).with_name("_sm120.py"), namespace="stacker_resolution")

# The TMA gate: which calls may take the TMA kernel. Each operand with the PR that makes it
# necessary and the reason written beside it in the code.
GATE = (
    ("page_table is None", 2349, "paged KV runs on the CpAsync kernel (#2348)"),
    ("not is_varlen", 2349, "main's is_varlen: cu_seqlens or seqused -> CpAsync kernel"),
    ("not is_split_kv", 2348, "the TMA kernel has no split-KV epilogue (#2348)"),
    ("not use_block_sparsity", 2389, "block sparsity runs on the CpAsync kernel (#2389)"),
    ("dropout_p == 0.0", 2439, "the TMA kernel has no dropout (#2439)"),
)
NUM_STAGES = "2 if page_table is not None else 1"


@dataclass
class Branch:
    """The SM120 arm being checked or rewritten, with what the clauses need to know around it."""

    node: cst.If
    prs: frozenset[int]
    main_is_varlen: bool  # `_flash_attn_fwd` binds its own `is_varlen` outside this arm (main 0fad7a29)

    @property
    def statements(self) -> list[cst.BaseStatement]:
        return sm120.block_statements(self.node.body)

    def with_statements(self, statements: list[cst.BaseStatement]) -> Branch:
        body = self.node.body.with_changes(body=statements)
        return Branch(self.node.with_changes(body=body), self.prs, self.main_is_varlen)

    def replace(self, old: cst.CSTNode, new: cst.CSTNode) -> Branch:
        return Branch(self.node.deep_replace(old, new), self.prs, self.main_is_varlen)

    def calls(self, cls: str) -> list[cst.Call]:
        return sm120.constructor_calls(self.node, cls)

    def gate(self) -> cst.SimpleStatementLine | None:
        return next((s for s in self.statements if sm120.assigns(s, "use_tma_sm120")), None)


@dataclass(frozen=True)
class Clause:
    key: str
    prs: tuple[int, ...]  # every one must be in the bundle for the clause to apply
    what: str  # for the log
    holds: Callable[[Branch], bool]
    apply: Callable[[Branch], Branch]
    applies: Callable[[Branch], str | None] = lambda branch: None  # why not, beyond missing PRs


# --- block sparsity (#2389; its split/paged guards need #2348) -------------------------------------------

def _bs_asserts(branch: Branch) -> list[str]:
    return ["not is_split_kv", "page_table is None"] if 2348 in branch.prs else []


def _bs_guard(branch: Branch) -> cst.If | None:
    return next((s for s in branch.statements if sm120.is_if(s, "use_block_sparsity")), None)


def _bs_holds(branch: Branch) -> bool:
    if any(sm120.is_assert(s, "not use_block_sparsity") for s in branch.statements):
        return False
    wanted = _bs_asserts(branch)
    if not wanted:
        return True
    guard = _bs_guard(branch)
    inside = sm120.block_statements(guard.body) if guard else []
    return all(any(sm120.is_assert(s, t) for s in inside) for t in wanted)


_BS_MESSAGES = {"not is_split_kv": "Block sparsity with SplitKV not supported on SM 12.0",
                "page_table is None": "Block sparsity with paged KV not supported on SM 12.0"}


def _bs_apply(branch: Branch) -> Branch:
    statements = branch.statements
    main_assert = next((s for s in statements if sm120.is_assert(s, "not use_block_sparsity")), None)
    guard = _bs_guard(branch)
    wanted = _bs_asserts(branch)
    if guard is not None:
        inside = sm120.block_statements(guard.body)
        missing = [cst.parse_statement(f'assert {t}, "{_BS_MESSAGES[t]}"\n') for t in wanted
                   if not any(sm120.is_assert(s, t) for s in inside)]
        new_guard = guard.with_changes(body=guard.body.with_changes(body=[*inside, *missing]))
        statements = [new_guard if s is guard else s for s in statements]
        return branch.with_statements(sm120.without(statements, [main_assert] if main_assert else []))
    if not wanted:  # #2389 without #2348: nothing to refuse beyond what main refuses elsewhere
        return branch.with_statements(sm120.without(statements, [main_assert]))
    block = cst.parse_statement(
        "if use_block_sparsity:\n"
        "    # Block sparsity runs on the CpAsync kernel (#2389): its block-sparse mainloop ignores the\n"
        "    # split-KV range and loads K/V without the paged-KV loaders (#2348).\n"
        + "".join(f'    assert {t}, "{_BS_MESSAGES[t]}"\n' for t in wanted))
    if main_assert is None:
        return branch.with_statements(sm120.insert_before(statements, 0, [block]))
    block = block.with_changes(leading_lines=main_assert.leading_lines)
    return branch.with_statements([block if s is main_assert else s for s in statements])


# --- paged KV (#2348) ---------------------------------------------------------------------------------

_MAIN_REFUSALS = ("page_table is None", "not is_split_kv")  # main's "not supported on SM 12.0 in this PR"


def _paged_guard(branch: Branch) -> cst.If | None:
    return next((s for s in branch.statements if sm120.is_if(s, "page_table is not None")
                 and any(sm120.is_assert(x, "seqused_k is not None") for x in sm120.block_statements(s.body))), None)


def _paged_holds(branch: Branch) -> bool:
    refusals = [s for s in branch.statements if any(sm120.is_assert(s, t) for t in _MAIN_REFUSALS)]
    return not refusals and _paged_guard(branch) is not None


def _paged_apply(branch: Branch) -> Branch:
    statements = branch.statements
    refusals = [s for s in statements if any(sm120.is_assert(s, t) for t in _MAIN_REFUSALS)]
    statements = sm120.without(statements, refusals)
    if _paged_guard(branch.with_statements(statements)) is None:
        guard = cst.parse_statement(
            "if page_table is not None:\n"
            '    assert seqused_k is not None, "Paged KV on SM120 requires seqused_k"\n')
        at = next((i for i, s in enumerate(statements) if _dispatches(s)), len(statements))
        statements = sm120.insert_before(statements, at, [guard])
    return branch.with_statements(statements)


def _dispatches(statement: cst.BaseStatement) -> bool:
    """The first statement of the dispatch proper: the TMA gate or a kernel constructor."""
    return (sm120.assigns(statement, "use_tma_sm120") or bool(sm120.constructor_calls(statement, sm120.TMA_CLASS))
            or bool(sm120.constructor_calls(statement, sm120.CPASYNC_CLASS)))


# --- main's is_varlen (#2349 x main 0fad7a29, CW7) ----------------------------------------------------------

def _local_is_varlen(branch: Branch) -> list[cst.CSTNode]:
    return [n for n in walk(branch.node.body) if sm120.assigns(n, "is_varlen")]


def _varlen_applies(branch: Branch) -> str | None:
    return None if branch.main_is_varlen else "main binds no is_varlen of its own before the dispatch"


def _varlen_apply(branch: Branch) -> Branch:
    local = _local_is_varlen(branch)
    top = [s for s in branch.statements if any(s is n for n in local)]
    if len(top) != len(local):
        raise ValueError("is_varlen is rebound inside a nested block of the SM120 dispatch; not rewritten")
    return branch.with_statements(sm120.without(branch.statements, top))


# --- the TMA gate (#2349, operands per PR) ---------------------------------------------------------------

def _operands(expression: cst.BaseExpression) -> list[cst.BaseExpression]:
    if isinstance(expression, cst.BooleanOperation) and isinstance(expression.operator, cst.And):
        return _operands(expression.left) + _operands(expression.right)
    return [expression]


def _gate_operands(branch: Branch) -> list[str] | None:
    gate = branch.gate()
    if gate is None:
        return None
    return [normalized(o) for o in _operands(gate.body[0].value)]


def _gate_holds(operand: str) -> Callable[[Branch], bool]:
    def holds(branch: Branch) -> bool:
        present = _gate_operands(branch)
        return present is not None and normalized(operand) in present
    return holds


def _gate_apply(branch: Branch) -> Branch:
    gate = branch.gate()
    if gate is None:
        raise ValueError("the SM120 dispatch has no `use_tma_sm120 = ...` (#2349's TMA gate): the merge lost "
                         "#2349's dispatch, which a transform cannot rebuild")
    existing = _operands(gate.body[0].value)
    wanted = [o for o, pr, _ in GATE if pr in branch.prs]
    known = {normalized(o): why for o, _, why in GATE}
    lines = [code(o).strip() for o in existing]
    lines += [o for o in wanted if normalized(o) not in {normalized(x) for x in existing}]
    body = "".join(f"    {'and ' if i else ''}{text}" + (f"  # {known[normalized(text)]}" if normalized(text) in known else "")
                   + "\n" for i, text in enumerate(lines))
    statement = cst.parse_statement(f"use_tma_sm120 = (\n{body})\n").with_changes(leading_lines=gate.leading_lines)
    return branch.replace(gate, statement)


# --- the constructors ---------------------------------------------------------------------------------------

def _kwarg_holds(cls: str, name: str, value: str | None) -> Callable[[Branch], bool]:
    """Every `cls(...)` in the arm has `name=value` (value None: has no `name` keyword)."""
    def holds(branch: Branch) -> bool:
        calls = branch.calls(cls)
        if value is None:
            return all(keyword(c, name) is None for c in calls)
        return bool(calls) and all((k := keyword(c, name)) is not None and same_code(k.value, value) for c in calls)
    return holds


def _kwarg_apply(cls: str, name: str, value: str | None, *, after: str | None = None,
                 note: tuple[str, ...] = ()) -> Callable[[Branch], Branch]:
    def apply(branch: Branch) -> Branch:
        for call in branch.calls(cls):
            if value is None:
                new = _without_keyword(call, name)
            else:
                new = with_keyword(call, name, value, after=after)
                if note:
                    new = _annotate(new, name, note)
            branch = branch.replace(call, new)
        return branch
    return apply


def _annotate(call: cst.Call, name: str, note: tuple[str, ...]) -> cst.Call:
    """Comment lines above keyword `name` (one-per-line calls only; a call on one line stays as it is)."""
    if not any(isinstance(a.comma, cst.Comma) and isinstance(a.comma.whitespace_after, cst.ParenthesizedWhitespace)
               for a in call.args):
        return call
    lines = comment_lines(call.args, *note)
    items = [Listed(i.node, i.comments + lines) if i.node.keyword is not None and i.node.keyword.value == name else i
             for i in listed(call.args)]
    return call.with_changes(args=relist(call.args, items))


def _without_keyword(call: cst.Call, name: str) -> cst.Call:
    """`call` without keyword `name`, and without the comment lines that stood above it."""
    items = [i for i in listed(call.args) if i.node.keyword is None or i.node.keyword.value != name]
    return call.with_changes(args=relist(call.args, items))


TMA, CPASYNC = sm120.TMA_CLASS, sm120.CPASYNC_CLASS

CLAUSES = (
    Clause("block-sparsity", (2389,), "block sparsity reaches SM120 (main's `assert not use_block_sparsity` lifted; "
           "with #2348: refused with split-KV or paged KV) — CW8", _bs_holds, _bs_apply),
    Clause("paged-kv", (2348,), "paged KV allowed with seqused_k (main's 'not supported in this PR' asserts for "
           "paged KV and split-KV gone)", _paged_holds, _paged_apply),
    Clause("main-is-varlen", (2349,), "the TMA gate reads main's is_varlen (cu_seqlens_q/k or seqused_q/k); "
           "#2349's local rebinding (cu_seqlens only) removed — CW7",
           lambda b: not _local_is_varlen(b), _varlen_apply, _varlen_applies),
    *(Clause(f"gate:{operand}", (pr,) if pr == 2349 else (2349, pr), f"TMA gate has `{operand}` ({why})",
             _gate_holds(operand), _gate_apply) for operand, pr, why in GATE),
    Clause("cpasync-split-kv", (2348,), "CpAsync kernel gets is_split_kv=is_split_kv",
           _kwarg_holds(CPASYNC, "is_split_kv", "is_split_kv"),
           _kwarg_apply(CPASYNC, "is_split_kv", "is_split_kv", after="is_local")),
    Clause("cpasync-num-stages", (2348,), f"CpAsync kernel num_stages={NUM_STAGES} (#2348's head: 2 always; "
           "2 stages only pay off hiding page-table lookups, and cost occupancy for d<=64)",
           _kwarg_holds(CPASYNC, "num_stages", NUM_STAGES),
           _kwarg_apply(CPASYNC, "num_stages", NUM_STAGES,
                        note=("D1: 2 stages for paged KV only (#2348 uses 2 always; 1 keeps occupancy otherwise)",))),
    Clause("cpasync-dropout", (2439,), "CpAsync kernel gets p_dropout=dropout_p (#2439)",
           _kwarg_holds(CPASYNC, "p_dropout", "dropout_p"), _kwarg_apply(CPASYNC, "p_dropout", "dropout_p")),
    Clause("tma-no-dropout", (2349, 2439), "no p_dropout for the TMA kernel (it has none)",
           _kwarg_holds(TMA, "p_dropout", None), _kwarg_apply(TMA, "p_dropout", None)),
)


class Sm120Dispatch(Resolution):
    id = "sm120-dispatch"
    title = "SM120 forward dispatch: TMA kernel where it can run, CpAsync kernel for the rest (issue 4, entry 3)"
    kind = "conflict"
    prs = (2349,)
    location = f"{sm120.INTERFACE}::_flash_attn_fwd"
    sides = {
        "main": "SM120 runs FlashAttentionForwardSm120 (CpAsync, Sm80-derived) with num_stages=1; refuses block "
                "sparsity, paged KV and split-KV; since 0fad7a29 binds is_varlen = cu_seqlens_q/k or seqused_q/k",
        "#2348 (+#2336)": "paged KV (asserts seqused_k) and split-KV on the CpAsync kernel: is_split_kv=is_split_kv, "
                          "num_stages=2 always",
        "#2349": "adds FlashAttentionForwardSm120Tma, chosen when use_tma_sm120 = page_table is None and not "
                 "is_varlen (rebinding is_varlen to cu_seqlens only) and can_implement(...); CpAsync otherwise",
        "#2389": "block-sparse forward in the Sm80/SM120 kernel, but leaves main's `assert not use_block_sparsity` "
                 "for SM120 in place (unreachable)",
        "#2439": "p_dropout=dropout_p on the SM120 constructor (the base's single CpAsync call)",
    }
    resolution = ("one arm, clause by clause for the PRs present: block sparsity lifted with split-KV / paged "
                  "KV refused (#2389 + #2348); paged-KV guard (#2348); main's is_varlen, not a local one; "
                  "use_tma_sm120 = page_table is None and not is_varlen and not is_split_kv and not "
                  "use_block_sparsity and dropout_p == 0.0 (each operand only with its PR); CpAsync gets "
                  f"is_split_kv, num_stages={NUM_STAGES} and p_dropout=dropout_p; the TMA kernel no p_dropout. "
                  "Git's two conflicts on the arm are claimed (step #2349: #2348's guard and CpAsync call into "
                  "#2349's dispatch; step #2439: the bundle's arm, #2439's kwarg re-applied by the transform)")
    backport = ("whichever of #2348/#2349/#2389/#2439 lands last adopts the combined arm; #2349 should gate on "
                "main's is_varlen and not is_split_kv as soon as #2348 is in main; #2389 should lift the SM120 "
                "block-sparsity assert itself")

    # --- the conflicts git leaves on the arm ---------------------------------------------------------------

    def claim(self, conflict: ConflictContext) -> str | None:
        hunk = conflict.hunk
        if f"{CPASYNC}(" not in hunk.base:
            return None
        if f"{TMA}(" in hunk.theirs and f"{TMA}(" not in hunk.base + hunk.ours and f"{CPASYNC}(" in hunk.ours:
            return _merge_dispatch(hunk.base, hunk.ours, hunk.theirs)
        present = conflict.bundle_prs | {conflict.step_pr}
        if 2439 in present and f"{TMA}(" not in hunk.base and _only_added(hunk.base, hunk.theirs, _P_DROPOUT):
            # #2439's only edit here is p_dropout on the base's single SM120 constructor: the bundle's arm
            # stands, and the transform puts p_dropout on the CpAsync constructor (and gates TMA on it).
            return hunk.ours
        return None

    # --- the transform ------------------------------------------------------------------------------------------

    def inspect(self, tree: SourceTree) -> Verdict:
        branch, why = self._branch(tree.module(sm120.INTERFACE), tree.prs)
        if branch is None:
            return Verdict.absent(why)
        needed, held, skipped = self._survey(branch)
        summary = _summary(needed, held, skipped)
        return Verdict.needed(summary) if needed else Verdict.satisfied(summary)

    def rewrite(self, tree: SourceTree) -> None:
        module = tree.module(sm120.INTERFACE)
        branch, _ = self._branch(module, tree.prs)
        original = branch.node
        for clause in CLAUSES:
            if self._applies(clause, branch) is None and not clause.holds(branch):
                branch = clause.apply(branch)
        tree.write(sm120.INTERFACE, module.deep_replace(original, branch.node))

    def _branch(self, module: cst.Module | None, prs: frozenset[int]) -> tuple[Branch | None, str]:
        function = find_definition(module, "_flash_attn_fwd") if module is not None else None
        if not isinstance(function, cst.FunctionDef):
            return None, f"{sm120.INTERFACE} has no _flash_attn_fwd"
        node = sm120.sm120_branch(function)
        if node is None:
            return None, "_flash_attn_fwd has no single `arch // 10 == 12` arm building fa_fwd"
        outside = [n for n in walk(function.body) if sm120.assigns(n, "is_varlen")
                   and not any(n is x for x in walk(node))]
        return Branch(node, prs, bool(outside)), ""

    def _applies(self, clause: Clause, branch: Branch) -> str | None:
        missing = [n for n in clause.prs if n not in branch.prs]
        if missing:
            return "needs " + ", ".join(f"#{n}" for n in missing)
        return clause.applies(branch)

    def _survey(self, branch: Branch) -> tuple[list[str], list[str], list[str]]:
        needed, held, skipped = [], [], []
        for clause in CLAUSES:
            why = self._applies(clause, branch)
            if why is not None:
                skipped.append(f"{clause.key} ({why})")
            elif clause.holds(branch):
                held.append(clause.key)
            else:
                needed.append(f"{clause.key}: {clause.what}")
        return needed, held, skipped


def _summary(needed: list[str], held: list[str], skipped: list[str]) -> str:
    parts = []
    if needed:
        parts.append("needed — " + "; ".join(needed))
    if held:
        parts.append("already in place — " + ", ".join(held))
    if skipped:
        parts.append("not applicable — " + ", ".join(skipped))
    return " | ".join(parts)


# --- claim helpers ----------------------------------------------------------------------------------------------

_P_DROPOUT = re.compile(r"^\s*p_dropout=dropout_p,?\s*$")


def _only_added(base: str, theirs: str, pattern: re.Pattern) -> bool:
    """Whether `theirs` is `base` with lines inserted, every one of them matching `pattern`."""
    a, b = base.splitlines(), theirs.splitlines()
    added = False
    for tag, _i1, _i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        if tag != "insert" or not all(pattern.match(line) for line in b[j1:j2]):
            return False
        added = True
    return added


def _indent_of(*sections: str) -> str:
    lines = [line for s in sections for line in s.splitlines() if line.strip()]
    common = textwrap.dedent("\n".join(lines))
    first_raw = lines[0] if lines else ""
    first_dedented = common.splitlines()[0] if common else ""
    return first_raw[: len(first_raw) - len(first_dedented)]


def _statements(section: str) -> tuple[list[cst.BaseStatement], list[cst.EmptyLine]] | None:
    """The statements of a hunk section (comment lines opening it stay with its first statement) and
    the lines that close it; None unless it is a run of whole statements."""
    try:
        module = cst.parse_module(textwrap.dedent(section))
    except cst.ParserSyntaxError:
        return None
    body = list(module.body)
    if not body:
        return None
    body[0] = body[0].with_changes(leading_lines=[*module.header, *body[0].leading_lines])
    return body, list(module.footer)


def _merge_dispatch(base: str, ours: str, theirs: str) -> str | None:
    """Step #2349 on #2348: #2348's new guard statements, then #2349's dispatch whose CpAsync constructor
    is the 3-way merge (per keyword) of the base's, #2348's and #2349's. None if the sections are not
    whole statements or the constructors disagree on a keyword both sides changed."""
    indent = _indent_of(base, ours, theirs)
    sides = [_statements(s) for s in (base, ours, theirs)]
    if any(s is None for s in sides):
        return None
    (base_s, _), (ours_s, ours_footer), (theirs_s, theirs_footer) = sides
    if any(line.comment is not None for line in ours_footer):
        return None  # comments closing #2348's side would have no statement to stay with
    base_call, ours_call = _last_constructor(base_s), _last_constructor(ours_s)
    theirs_calls = [c for s in theirs_s for c in sm120.constructor_calls(s, CPASYNC)]
    if base_call is None or ours_call is None or len(theirs_calls) != 1:
        return None
    merged_call = _merge_call(base_call, ours_call, theirs_calls[0])
    if merged_call is None:
        return None
    added_by_ours = [s for s in ours_s[:-1] if not any(same_code(s, b) for b in base_s)]
    dropped_by_ours = [b for b in base_s if not any(same_code(b, o) for o in ours_s)]
    kept_theirs = [t for t in theirs_s if not any(same_code(t, d) for d in dropped_by_ours)]
    kept_theirs = [t.deep_replace(theirs_calls[0], merged_call) if any(n is theirs_calls[0] for n in walk(t)) else t
                   for t in kept_theirs]
    text = cst.Module(body=[*added_by_ours, *kept_theirs], footer=theirs_footer).code
    return textwrap.indent(text, indent)


def _last_constructor(statements: list[cst.BaseStatement]) -> cst.Call | None:
    last = statements[-1]
    calls = sm120.constructor_calls(last, CPASYNC)
    return calls[0] if sm120.assigns(last, "fa_fwd") and len(calls) == 1 else None


def _merge_call(base: cst.Call, ours: cst.Call, theirs: cst.Call) -> cst.Call | None:
    """`ours` with `theirs`' keyword changes relative to `base`; None where both changed one keyword
    differently or the positional arguments differ."""
    def positional(call: cst.Call) -> list[str]:
        return [normalized(a.value) for a in call.args if a.keyword is None]

    def keywords(call: cst.Call) -> dict[str, cst.Arg]:
        return {a.keyword.value: a for a in call.args if a.keyword is not None}

    if not positional(base) == positional(ours) == positional(theirs):
        return None
    b, o, t = keywords(base), keywords(ours), keywords(theirs)
    merged = ours
    previous: str | None = None
    for name, arg in t.items():
        if name not in b:
            if name not in o:
                merged = with_keyword(merged, name, arg.value, after=previous)
            elif not same_code(o[name].value, arg.value):
                return None
        elif not same_code(b[name].value, arg.value):
            if name in o and same_code(o[name].value, b[name].value):
                merged = with_keyword(merged, name, arg.value)
            elif name not in o or not same_code(o[name].value, arg.value):
                return None
        previous = name
    for name in b.keys() - t.keys():
        if name in o and not same_code(o[name].value, b[name].value):
            return None
        if name in o:
            merged = remove_keyword(merged, name)
    return merged

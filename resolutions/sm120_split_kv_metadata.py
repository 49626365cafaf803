"""CW4 — SM120 split-KV (#2348) must not be handed main's dynamic-split scheduler metadata.

Main a19e1c6f (#2559) computes `scheduler_metadata` for every split-KV + varlen forward: a per-batch
`num_splits_dynamic` and a virtual batch order for the SM100 persistent scheduler, and the combine
kernel then merges only `num_splits_dynamic[b]` partials per batch. When that landed only SM100/110
could split. #2348's SM120 kernel splits every batch statically into `num_splits` chunks and never
reads the metadata, so the combine could drop partials (and computing it needs a driver: on a CPU
compile the split-KV + varlen case failed in the prepare kernel). Git merges all of it cleanly.
"""

from __future__ import annotations

from pathlib import Path

import libcst as cst

from stacker.cstedit import calls_to, find_definition, normalized, walk
from stacker.plugins import load_stack_module
from stacker.resolution import Resolution, SourceTree, Verdict

sm120 = load_stack_module(Path(__file__).with_name("_sm120.py"), namespace="stacker_resolution")

ARCH_LIMIT = "arch // 10 in [10, 11]"
_ARCH_LIMITS = {normalized(ARCH_LIMIT), normalized("arch // 10 in (10, 11)")}
REFUSAL = "not (is_split_kv and has_scheduler_metadata)"
_REFUSAL_STATEMENT = (f"assert {REFUSAL}, (\n"
                      '    "SplitKV scheduler_metadata (dynamic splits) not supported on SM 12.0"\n'
                      ")\n")


def _operands(expression: cst.BaseExpression) -> list[cst.BaseExpression]:
    if isinstance(expression, cst.BooleanOperation) and isinstance(expression.operator, cst.And):
        return _operands(expression.left) + _operands(expression.right)
    return [expression]


def _metadata_if(function: cst.FunctionDef) -> cst.If | None:
    """Main's `if (is_split_kv and ... ): scheduler_metadata = _get_scheduler_metadata(...)`."""
    for node in walk(function.body):
        if (isinstance(node, cst.If) and calls_to(node.body, "_get_scheduler_metadata")
                and normalized("is_split_kv") in {normalized(o) for o in _operands(node.test)}):
            return node
    return None


def _binds(function: cst.FunctionDef, name: str) -> bool:
    return any(sm120.assigns(n, name) for n in walk(function.body))


def _limited(node: cst.If) -> bool:
    return any(normalized(o) in _ARCH_LIMITS for o in _operands(node.test))


def _refuses(branch: cst.If) -> bool:
    return any(sm120.is_assert(s, REFUSAL) for s in sm120.block_statements(branch.body))


def _with_arch_limit(node: cst.If) -> cst.If:
    """`node` with `and arch // 10 in [10, 11]` as its last operand, on its own line if the test is
    laid out one operand per line (with a comment saying why)."""
    test = node.test
    outer = test.operator.whitespace_before if isinstance(test, cst.BooleanOperation) else cst.SimpleWhitespace(" ")
    if isinstance(outer, cst.ParenthesizedWhitespace):
        indent = outer.last_line
        note = [cst.EmptyLine(indent=True, whitespace=indent, comment=cst.Comment(
                    "# SM100 family only: SM120 split-KV (#2348) splits statically, ignores this metadata")),
                ]
        outer = outer.with_changes(empty_lines=[*outer.empty_lines, *note])
    operation = cst.BooleanOperation(
        left=test.with_changes(lpar=[], rpar=[]), operator=cst.And(whitespace_before=outer),
        right=cst.parse_expression(ARCH_LIMIT), lpar=test.lpar, rpar=test.rpar)
    return node.with_changes(test=operation)


def _with_refusal(branch: cst.If) -> cst.If:
    """The refusal after the arm's leading guards (asserts, the block-sparsity `if`), before the rest."""
    statements = sm120.block_statements(branch.body)
    at = next((i for i, s in enumerate(statements)
               if not (isinstance(s, cst.SimpleStatementLine) and isinstance(s.body[0], cst.Assert))
               and not sm120.is_if(s, "use_block_sparsity")), len(statements))
    new = sm120.insert_before(statements, at, [cst.parse_statement(_REFUSAL_STATEMENT)])
    return branch.with_changes(body=branch.body.with_changes(body=new))


class Sm120SplitKvSchedulerMetadata(Resolution):
    id = "sm120-split-kv-scheduler-metadata"
    title = "SM120 split-KV gets no dynamic-split scheduler metadata (CW4)"
    kind = "conflict"
    prs = (2348,)
    location = f"{sm120.INTERFACE}::_flash_attn_fwd"
    sides = {
        "main (a19e1c6f #2559)": "computes scheduler_metadata (per-batch num_splits_dynamic, virtual batch order) "
                                 "for every split-KV + varlen forward; the combine merges num_splits_dynamic[b] "
                                 "partials; only SM100/110 could split then",
        "#2348 (+#2336)": "SM120 split-KV: the kernel splits every batch into num_splits static chunks and ignores "
                          "the metadata",
    }
    resolution = (f"main's metadata condition gets `and {ARCH_LIMIT}`; the SM120 arm asserts `{REFUSAL}` "
                  "(a user-supplied scheduler_metadata with SM120 split-KV is refused, not silently misused)")
    backport = ("#2348, rebased on main >= a19e1c6f: gate the metadata on the SM100 family, or teach the SM120 "
                "split-KV kernel num_splits_dynamic")

    def inspect(self, tree: SourceTree) -> Verdict:
        found = self._find(tree.module(sm120.INTERFACE))
        if isinstance(found, str):
            return Verdict.absent(found)
        metadata_if, branch = found
        missing = []
        if not _limited(metadata_if):
            missing.append(f"the metadata condition lacks `{ARCH_LIMIT}`")
        if not _refuses(branch):
            missing.append(f"the SM120 arm lacks `assert {REFUSAL}`")
        if missing:
            return Verdict.needed("; ".join(missing))
        return Verdict.satisfied(f"metadata only for {ARCH_LIMIT}; SM120 refuses split-KV with scheduler_metadata")

    def rewrite(self, tree: SourceTree) -> None:
        module = tree.module(sm120.INTERFACE)
        metadata_if, branch = self._find(module)
        if not _limited(metadata_if):
            module = module.deep_replace(metadata_if, _with_arch_limit(metadata_if))
            metadata_if, branch = self._find(module)
        if not _refuses(branch):
            module = module.deep_replace(branch, _with_refusal(branch))
        tree.write(sm120.INTERFACE, module)

    def _find(self, module: cst.Module | None) -> tuple[cst.If, cst.If] | str:
        function = find_definition(module, "_flash_attn_fwd") if module is not None else None
        if not isinstance(function, cst.FunctionDef):
            return f"{sm120.INTERFACE} has no _flash_attn_fwd"
        metadata_if = _metadata_if(function)
        if metadata_if is None:
            return "main computes no split-KV scheduler metadata here (it predates a19e1c6f)"
        if not _binds(function, "has_scheduler_metadata"):
            return "no has_scheduler_metadata in _flash_attn_fwd"
        branch = sm120.sm120_branch(function)
        if branch is None:
            return "_flash_attn_fwd has no single `arch // 10 == 12` arm building fa_fwd"
        return metadata_if, branch

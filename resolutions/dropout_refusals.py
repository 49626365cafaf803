"""CW12: refuse dropout where a kernel would silently ignore it.

- #2389's SM80/SM120 block-sparse forward runs `mma_one_n_block_bs`, which #2439 does not wire
  dropout into: block sparsity + `dropout_p > 0` would return un-dropped attention.
- #2439 gives the qv (MLA) forward no `p_dropout` either (a gap in the PR itself).
Both merge cleanly; both would be silent wrong results. Refused in `_flash_attn_fwd`, next to where
`use_block_sparsity` is decided.
"""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from stacker.cstedit import find_definition, param_names, statement_position, statements, walk, with_block_body
from stacker.resolution import Resolution, SourceTree, Verdict

INTERFACE = "flash_attn/cute/interface.py"
FUNCTION = "_flash_attn_fwd"
_ANCHOR = m.SimpleStatementLine(body=[m.Assign(targets=[m.AssignTarget(m.Name("use_block_sparsity"))])])
_DROPOUT_ON = m.If(test=m.Comparison(left=m.Name("dropout_p"), comparisons=[m.ComparisonTarget(
    operator=m.GreaterThan())]), orelse=None)
HEADER = """\
if dropout_p > 0.0:
    # Paths that would silently drop the dropout: the SM80/SM120 block-sparse flow (#2389's
    # mma_one_n_block_bs has no dropout) and the qv (MLA) kernels (no p_dropout).
    pass
"""


class _DropoutRefusal:
    """One `assert` inside the `if dropout_p > 0.0:` block that follows `use_block_sparsity = ...`.

    A mixin, not a `Resolution`, so that only the concrete classes below are loaded as resolutions."""

    check: str  # the assert statement
    names: tuple[str, ...]  # names its test must mention to count as this refusal

    def _place(self, tree: SourceTree):
        module = tree.module(INTERFACE)
        function = find_definition(module, FUNCTION) if module else None
        if not isinstance(function, cst.FunctionDef) or "dropout_p" not in param_names(function):
            return None, None, None, f"no `dropout_p` in {FUNCTION}"
        anchor = next((n for n in walk(function) if m.matches(n, _ANCHOR)), None)
        if anchor is None:
            return None, None, None, f"{FUNCTION} does not decide `use_block_sparsity`"
        return module, function, anchor, ""

    def _present(self, function: cst.FunctionDef) -> bool:
        for node in walk(function):
            if m.matches(node, _DROPOUT_ON):
                for statement in node.body.body:
                    if m.matches(statement, m.SimpleStatementLine(body=[m.Assert()])):
                        used = {n.value for n in walk(statement.body[0].test) if isinstance(n, cst.Name)}
                        if set(self.names) <= used:
                            return True
        return False

    def inspect(self, tree: SourceTree) -> Verdict:
        module, function, _, why = self._place(tree)
        if module is None:
            return Verdict.absent(why)
        if self._present(function):
            return Verdict.satisfied("refused under `if dropout_p > 0.0:`")
        return Verdict.needed(f"`{self.check.splitlines()[0]}` is missing")

    def rewrite(self, tree: SourceTree) -> None:
        module, function, anchor, _ = self._place(tree)
        block, index = statement_position(function, anchor)
        body = list(block.body)
        after = index + 1
        if after < len(body) and m.matches(body[after], _DROPOUT_ON):
            guard = body[after]
        else:
            guard = statements(HEADER)[0]
            body.insert(after, guard)
        inner = [s for s in guard.body.body if not m.matches(s, m.SimpleStatementLine(body=[m.Pass()]))]
        new_statement = statements(self.check)[0]
        if not inner:  # the header's comment goes with the first real statement
            new_statement = new_statement.with_changes(leading_lines=guard.body.body[0].leading_lines)
        body[after] = guard.with_changes(body=guard.body.with_changes(body=[*inner, new_statement]))
        tree.write(INTERFACE, module.deep_replace(function, with_block_body(function, block, body)))


class DropoutBlockSparseRefused(_DropoutRefusal, Resolution):
    id = "dropout-block-sparse-refused"
    title = "Dropout with block sparsity refused on SM 8.x/12.x (the block-sparse mainloop has no dropout)"
    kind = "bug"
    found_in = None  # found during the merge: #2389 x #2439
    prs = (2389, 2439)
    location = f"{INTERFACE}::{FUNCTION}"
    sides = {
        "#2389": "SM80/SM120 block-sparse forward through `mma_one_n_block_bs`",
        "#2439": "dropout in the dense SM80/SM120 mainloop only",
    }
    resolution = ("`assert not (use_block_sparsity and arch // 10 in [8, 12])` when `dropout_p > 0`, right after "
                  "`use_block_sparsity` is decided")
    backport = "whichever of #2389/#2439 lands second: wire dropout into the block-sparse mainloop, or keep the assert"
    check = ('assert not (use_block_sparsity and arch // 10 in [8, 12]), (\n'
             '    "Dropout with block sparsity not supported on SM 8.x/12.x"\n)\n')
    names = ("use_block_sparsity", "arch")


class DropoutQvRefused(_DropoutRefusal, Resolution):
    id = "dropout-qv-refused"
    title = "Dropout with qv (MLA) refused (the MLA forward gets no `p_dropout`)"
    kind = "bug"
    found_in = 2439
    prs = (2439,)
    location = f"{INTERFACE}::{FUNCTION}"
    sides = {
        "main": "qv (MLA absorbed) forward through `FlashAttentionMLAForwardSm100`",
        "#2439": "dropout for the standard kernels only; the MLA constructor gets no `p_dropout`",
    }
    resolution = "`assert qv is None` when `dropout_p > 0`, beside the block-sparsity refusal"
    backport = "#2439: refuse (or implement) dropout with qv"
    check = 'assert qv is None, "Dropout not supported with qv (MLA)"\n'
    names = ("qv",)

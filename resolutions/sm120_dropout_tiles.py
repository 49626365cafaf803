"""D8: #2439's SM120 dropout tile sizes, re-done where main moved the tile choice (`_get_fwd_config`).

#2439 edited the inline tile heuristic of `_flash_attn_fwd` (SM120 with dropout: 128x64 for
head_dim <= 64, else 64x64, because the Philox mask generation spills registers at 128x128). main
(a19e1c6f) moved that heuristic into `_get_fwd_config` and rewrote it (`fwd_cfg` -> `cfg`, the
head_dim test inverted since the default is 128x128), so the edit cannot be replayed textually:
the conflict keeps main's deletion and this transform makes the edit in `_get_fwd_config`, with a
new `dropout_p` parameter passed from `_flash_attn_fwd`.
"""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from stacker.cstedit import callee_name, find_definition, insert_with_comma, keyword, param_names, set_keyword, statements, walk
from stacker.resolution import ConflictContext, Resolution, SourceTree, Verdict

INTERFACE = "flash_attn/cute/interface.py"
CONFIG = "_get_fwd_config"
CALLER = "_flash_attn_fwd"
# #2439's choice: (tile_m, tile_n) with dropout on SM120, for head_dim <= 64 and above
SMALL_HEAD, LARGE_HEAD = (128, 64), (64, 64)
COMMENT = ("# Dropout Philox PRNG causes register spilling at 128x128",
           "# non-causal. Split precompute/apply enables INT32/FP32",
           "# overlap; 128x64 avoids the spilling.")

_SM120 = m.If(test=m.Comparison(
    left=m.BinaryOperation(left=m.Name("arch"), operator=m.FloorDivide(), right=m.Integer("10")),
    comparisons=[m.ComparisonTarget(operator=m.Equal(), comparator=m.Integer("12"))]))
_DROPOUT_TEST = m.If(test=m.Comparison(left=m.Name("dropout_p"),
                                       comparisons=[m.ComparisonTarget(operator=m.GreaterThan())]))


def _sm120_branch(function: cst.FunctionDef) -> cst.If | None:
    return next((n for n in walk(function) if m.matches(n, _SM120)), None)


def _config_calls(caller: cst.FunctionDef) -> list[cst.Call]:
    return [n for n in walk(caller) if isinstance(n, cst.Call) and callee_name(n) == CONFIG]


class Sm120DropoutTiles(Resolution):
    id = "sm120-dropout-tiles"
    title = "SM120 dropout tile sizes go into `_get_fwd_config`, where main moved the tile choice"
    kind = "conflict"
    prs = (2439,)
    location = f"{INTERFACE}::{CALLER}"
    also_at = (f"{INTERFACE}::{CONFIG}",)
    sides = {
        "main (a19e1c6f #2559)": "moved the per-arch tile heuristic out of `_flash_attn_fwd` into `_get_fwd_config` "
                                 "and rewrote it (`cfg`, SM120 branch `if head_dim > 64:` over a 128x128 default); "
                                 "main 5a292507 (#2629) dropped the two `pack_gqa = False` guards beside it",
        "#2439": "made the SM120 branch of the inline heuristic pick 128x64 (head_dim <= 64) / 64x64 tiles when "
                 "`dropout_p > 0` (register spilling of the Philox mask at 128x128)",
    }
    resolution = (f"keep main's deletion; in `{CONFIG}` add `dropout_p: float = 0.0`, open its SM120 branch with "
                  f"`if dropout_p > 0.0:` choosing #2439's tiles (main's head_dim test becomes the `elif`), and pass "
                  f"`dropout_p=dropout_p` at the call in `{CALLER}`")
    backport = f"#2439: move the SM120 dropout tile choice into `{CONFIG}` (rebase on main a19e1c6f)"

    def claim(self, conflict: ConflictContext) -> str | None:
        hunk = conflict.hunk
        if conflict.qualname != CALLER or hunk.ours or not hunk.base:
            return None
        if "FwdConfig(" in hunk.base and "dropout_p" in hunk.theirs and "dropout_p" not in hunk.base:
            return ""  # main's deletion; the transform re-does #2439's edit in _get_fwd_config
        return None

    def _parts(self, tree: SourceTree):
        module = tree.module(INTERFACE)
        config = find_definition(module, CONFIG) if module else None
        caller = find_definition(module, CALLER) if module else None
        if not isinstance(caller, cst.FunctionDef) or "dropout_p" not in param_names(caller):
            return None, None, None, f"no `dropout_p` in {CALLER}"
        if not isinstance(config, cst.FunctionDef) or not _config_calls(caller):
            return None, None, None, f"{CALLER} does not take its tile sizes from {CONFIG}"
        return module, config, caller, ""

    def inspect(self, tree: SourceTree) -> Verdict:
        module, config, caller, why = self._parts(tree)
        if module is None:
            return Verdict.absent(why)
        problems = []
        if "dropout_p" not in param_names(config):
            problems.append(f"{CONFIG} has no `dropout_p` parameter")
        branch = _sm120_branch(config)
        if branch is None or not branch.body.body or not m.matches(branch.body.body[0], _DROPOUT_TEST):
            problems.append(f"{CONFIG}'s SM120 branch does not choose dropout tiles")
        if any(keyword(call, "dropout_p") is None for call in _config_calls(caller)):
            problems.append(f"{CALLER} does not pass dropout_p to {CONFIG}")
        if problems:
            return Verdict.needed("; ".join(problems))
        return Verdict.satisfied(f"{CONFIG} chooses the SM120 dropout tiles and {CALLER} passes dropout_p")

    def rewrite(self, tree: SourceTree) -> None:
        module, config, caller, _ = self._parts(tree)
        new_caller = caller
        for call in _config_calls(caller):
            if keyword(call, "dropout_p") is None:
                new_caller = new_caller.deep_replace(call, set_keyword(call, "dropout_p", "dropout_p"))
        module = module.deep_replace(caller, new_caller)
        config = find_definition(module, CONFIG)
        new_config = config
        if "dropout_p" not in param_names(config):
            new_config = _with_param(new_config, "dropout_p: float = 0.0")
        branch = _sm120_branch(new_config)
        if branch is None:
            raise ValueError(f"{CONFIG} has no `if arch // 10 == 12:` tile branch for #2439's dropout tiles")
        if not m.matches(branch.body.body[0], _DROPOUT_TEST):
            new_config = new_config.deep_replace(branch, _with_dropout_tiles(branch))
        tree.write(INTERFACE, module.deep_replace(config, new_config))


def _with_param(function: cst.FunctionDef, source: str) -> cst.FunctionDef:
    new = cst.parse_module(f"def f(*, {source}): pass\n").body[0].params.kwonly_params[0]
    params = function.params
    if params.kwonly_params:
        items = insert_with_comma(list(params.kwonly_params), len(params.kwonly_params), new)
        return function.with_changes(params=params.with_changes(kwonly_params=items))
    items = insert_with_comma(list(params.params), len(params.params), new)
    return function.with_changes(params=params.with_changes(params=items))


def _with_dropout_tiles(branch: cst.If) -> cst.If:
    body = list(branch.body.body)
    assign = next((n for n in walk(branch.body) if m.matches(n, m.Assign(targets=[m.AssignTarget(m.Name())],
                                                                       value=m.Call(args=[m.Arg()] * 4)))), None)
    if assign is None:
        raise ValueError(f"{CONFIG}'s SM120 branch assigns no 4-field tile config to model the dropout tiles on")
    target, ctor = assign.targets[0].target.value, callee_name(assign.value)
    flags = ", ".join(cst.Module(body=[]).code_for_node(a.value) for a in assign.value.args[2:])
    small, large = (f"{target} = {ctor}({m_}, {n_}, {flags})" for m_, n_ in (SMALL_HEAD, LARGE_HEAD))
    dropout = statements(
        f"if dropout_p > 0.0:\n    if head_dim <= 64:\n        {small}\n    else:\n        {large}\n")[0]
    leading = list(body[0].leading_lines) + [cst.EmptyLine(comment=cst.Comment(c)) for c in COMMENT]
    if len(body) == 1 and isinstance(body[0], cst.If):
        # main's own test becomes the `elif`
        chained = dropout.with_changes(leading_lines=leading, orelse=body[0].with_changes(leading_lines=()))
    else:
        rest = [body[0].with_changes(leading_lines=()), *body[1:]]
        chained = dropout.with_changes(leading_lines=leading,
                                       orelse=cst.Else(body=cst.IndentedBlock(body=rest)))
    return branch.with_changes(body=branch.body.with_changes(body=[chained]))

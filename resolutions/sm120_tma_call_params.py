"""D2 — `FlashAttentionForwardSm120Tma.__call__`'s parameters (issue 4, entry 1; CW9).

`interface.py` compiles every SM120 forward with one positional `compile_args` list built for
`FlashAttentionForwardSm80.__call__` (`cute.compile` binds positionally), so the TMA kernel's
`__call__` must list the same trailing parameters in the same order, `stream` last. The 2026 log had
two halves: `stream` was not last in #2349 (its head e2afb7fd fixed that: already satisfied, can be
retired), and with #2439 the two dropout seeds arrive positionally before `stream`, which the TMA
kernel must accept and refuse (it has no dropout; the dispatch only picks it when dropout_p == 0).
The scheduler inputs main added (aux_data, mCuTotal*) are the API port's (sm120_tma_main_api).
"""

from __future__ import annotations

from pathlib import Path

import libcst as cst

from stacker.cstedit import listed, relist
from stacker.plugins import load_stack_module
from stacker.resolution import Resolution, SourceTree, Verdict

sm120 = load_stack_module(Path(__file__).with_name("_sm120.py"), namespace="stacker_resolution")

SEEDS = ("dropout_seed_lo", "dropout_seed_hi")
SEED_REFUSAL = "dropout_seed_lo is None and dropout_seed_hi is None"
_REFUSAL_STATEMENT = (f"assert {SEED_REFUSAL}, (\n"
                      '    "Dropout not supported with TMA kernel (use CpAsync fallback)"\n'
                      ")\n")
SEED_NOTE = ("interface.py passes the dropout seeds (#2439) to every SM120 forward positionally;",
             "this kernel has no dropout (dispatch requires dropout_p == 0), so they must be None.")


def _aliased(names: list[str]) -> list[str]:
    """TMA parameter names under main's names (a not yet ported `aux_tensors` is main's `aux_data`)."""
    back = {old: new for new, old in sm120.OLD_NAMES.items()}
    return [back.get(n, n) for n in names]


def compare(tma_call: cst.FunctionDef, sm80_call: cst.FunctionDef | None) -> str:
    """One line for the log: the trailing parameters of both, and whether they agree."""
    tma = sm120.trailing(_aliased(sm120.param_names(tma_call)))
    if sm80_call is None:
        return "TMA trailing parameters: " + ", ".join(tma)
    sm80 = sm120.trailing(sm120.param_names(sm80_call))
    verdict = "same order as Sm80.__call__" if tma == sm80 else "Sm80.__call__ has " + ", ".join(sm80)
    return f"TMA __call__ after learnable_sink: {', '.join(tma)} ({verdict})"


class TmaStreamLast(Resolution):
    id = "sm120-tma-stream-last"
    title = "TMA SM120 __call__ keeps `stream` last (issue 4, entry 1, first half)"
    kind = "bug"
    found_in = 2349
    prs = (2349,)
    location = f"{sm120.TMA}::{sm120.TMA_CALL}"
    sides = {"main": "every forward __call__ keeps `stream` last: cute.compile binds compile_args positionally and "
                     "interface.py appends the stream last",
             "#2349": "declared `stream` right after softmax_scale (cu_seqlens_q then landed in the stream slot); "
                      "its head e2afb7fd moved it last"}
    resolution = "`stream` is the last parameter (moved there, with its comment, if it is not)"
    backport = "#2349 (done in its head e2afb7fd: this resolution reports already satisfied and can be retired)"

    def inspect(self, tree: SourceTree) -> Verdict:
        call = sm120.tma_method(tree.module(sm120.TMA), "__call__")
        if call is None:
            return Verdict.absent(f"no {sm120.TMA_CALL}")
        names = sm120.param_names(call)
        if "stream" not in names:
            return Verdict.absent("__call__ has no stream parameter")
        if names[-1] == "stream":
            return Verdict.satisfied("stream is the last parameter (#2349's head e2afb7fd)")
        return Verdict.needed(f"stream is parameter {names.index('stream') + 1} of {len(names)}")

    def rewrite(self, tree: SourceTree) -> None:
        tma = tree.module(sm120.TMA)
        call = sm120.tma_method(tma, "__call__")
        items = listed(call.params.params)
        stream = next(i for i in items if i.node.name.value == "stream")
        ordered = [i for i in items if i is not stream] + [stream]
        new = call.with_changes(params=call.params.with_changes(params=relist(call.params.params, ordered)))
        tree.write(sm120.TMA, tma.deep_replace(call, new))


def _refuses_seeds(call: cst.FunctionDef) -> bool:
    return any(sm120.is_assert(s, SEED_REFUSAL) for s in sm120.block_statements(call.body))


def _seeds_in_place(call: cst.FunctionDef, sm80: cst.FunctionDef) -> bool:
    """The seeds are parameters, and every parameter both have stands in Sm80's order."""
    tma = _aliased(sm120.param_names(call))
    reference = sm120.param_names(sm80)
    if not set(SEEDS) <= set(tma):
        return False
    shared_tma = [n for n in tma if n in reference]
    shared_ref = [n for n in reference if n in tma]
    return shared_tma == shared_ref


def _with_refusal(call: cst.FunctionDef) -> cst.FunctionDef:
    """The refusal after the docstring and the asserts that open the body."""
    statements = sm120.block_statements(call.body)
    at = 0
    while at < len(statements) and isinstance(statements[at], cst.SimpleStatementLine) and isinstance(
            statements[at].body[0], (cst.Assert, cst.Expr)) and (
            isinstance(statements[at].body[0], cst.Assert)
            or isinstance(statements[at].body[0].value, (cst.SimpleString, cst.ConcatenatedString))):
        at += 1
    new = [*statements[:at], cst.parse_statement(_REFUSAL_STATEMENT), *statements[at:]]
    return call.with_changes(body=call.body.with_changes(body=new))


class TmaDropoutSeeds(Resolution):
    id = "sm120-tma-dropout-seeds"
    title = "TMA SM120 __call__ accepts the dropout seeds and refuses them (issue 4, entry 1, second half; CW9)"
    kind = "conflict"
    prs = (2349, 2439)
    location = f"{sm120.TMA}::{sm120.TMA_CALL}"
    sides = {"#2439": "adds dropout_seed_lo, dropout_seed_hi before `stream` to every forward __call__ and passes "
                      "them positionally from interface.py (to both SM120 kernels)",
             "#2349": "its TMA kernel has no dropout and no seed parameters: 'too many positional arguments'"}
    resolution = ("the seed parameters copied from Sm80.__call__ at Sm80's position (last before stream), "
                  f"and `assert {SEED_REFUSAL}` in the body (the dispatch gates TMA on dropout_p == 0.0)")
    backport = ("#2439 if #2349 lands first (add the seeds to the TMA kernel too), else #2349; the positional "
                "contract is Sm80.__call__'s parameter list")

    def inspect(self, tree: SourceTree) -> Verdict:
        call = sm120.tma_method(tree.module(sm120.TMA), "__call__")
        sm80 = sm120.sm80_call(tree.module(sm120.FLASH_FWD))
        if call is None:
            return Verdict.absent(f"no {sm120.TMA_CALL}")
        if sm80 is None or not set(SEEDS) <= set(sm120.param_names(sm80)):
            return Verdict.absent("Sm80.__call__ takes no dropout seeds: interface.py passes none")
        missing = []
        if not _seeds_in_place(call, sm80):
            missing.append("the seed parameters are missing or out of Sm80's order")
        if not _refuses_seeds(call):
            missing.append(f"no `assert {SEED_REFUSAL}`")
        if missing:
            return Verdict.needed("; ".join(missing) + " — " + compare(call, sm80))
        return Verdict.satisfied(compare(call, sm80))

    def rewrite(self, tree: SourceTree) -> None:
        tma = tree.module(sm120.TMA)
        call = sm120.tma_method(tma, "__call__")
        sm80 = sm120.sm80_call(tree.module(sm120.FLASH_FWD))
        new = call
        if not _seeds_in_place(call, sm80):
            present = [n for n in SEEDS if n in sm120.param_names(call)]
            if present:  # seeds there but misplaced: take them out and put them back where Sm80 has them
                items = [i for i in listed(call.params.params) if i.node.name.value not in SEEDS]
                new = new.with_changes(params=new.params.with_changes(params=relist(call.params.params, items)))
            new = sm120.mirror_params(new, sm80, SEEDS, note={SEEDS[0]: SEED_NOTE})
        if not _refuses_seeds(new):
            new = _with_refusal(new)
        tree.write(sm120.TMA, tma.deep_replace(call, new))

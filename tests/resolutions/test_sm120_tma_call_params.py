"""D2 (sm120_tma_call_params): stream last (already satisfied on #2349's head) and the dropout seeds."""

from __future__ import annotations

from resolutions.sm120_tma_call_params import TmaDropoutSeeds, TmaStreamLast
from tests.resolutions.harness import assert_leaves, assert_rewrites
from tests.resolutions.tma_snippets import DROPOUT_FWD, FWD, MAIN_FWD, PORTED_TMA, PR_TMA, TMA

WITH_SEEDS = PORTED_TMA.replace(
    "        # stream last: positional binding\n",
    "        # interface.py passes the dropout seeds (#2439) to every SM120 forward positionally;\n"
    "        # this kernel has no dropout (dispatch requires dropout_p == 0), so they must be None.\n"
    "        dropout_seed_lo: Optional[int] = None,\n"
    "        dropout_seed_hi: Optional[int] = None,\n"
    "        # stream last: positional binding\n").replace(
    '        assert learnable_sink is None, "no sink"\n',
    '        assert learnable_sink is None, "no sink"\n'
    "        assert dropout_seed_lo is None and dropout_seed_hi is None, (\n"
    '            "Dropout not supported with TMA kernel (use CpAsync fallback)"\n'
    "        )\n")


def test_stream_last_is_already_satisfied_on_2349s_head() -> None:
    verdict = assert_leaves(TmaStreamLast(), {TMA: PR_TMA}, "satisfied")
    assert "e2afb7fd" in verdict.reason


def test_stream_moves_last_with_its_comment() -> None:
    early = PR_TMA.replace(
        "        blocksparse_tensors=None,\n        aux_tensors=None,\n        # stream last: positional binding\n"
        "        stream: cuda.CUstream = None,\n",
        "        # stream last: positional binding\n        stream: cuda.CUstream = None,\n"
        "        blocksparse_tensors=None,\n        aux_tensors=None,\n")
    assert early != PR_TMA
    verdict = assert_rewrites(TmaStreamLast(), {TMA: early}, {TMA: PR_TMA})
    assert verdict.reason == "stream is parameter 4 of 6"


def test_seeds_go_last_before_stream_and_are_refused() -> None:
    verdict = assert_rewrites(TmaDropoutSeeds(), {FWD: DROPOUT_FWD, TMA: PORTED_TMA}, {TMA: WITH_SEEDS})
    assert "missing or out of Sm80's order" in verdict.reason and "no `assert" in verdict.reason


def test_seeds_land_after_the_scheduler_inputs_even_before_the_api_port() -> None:
    from resolutions.sm120_tma_main_api import TmaAuxData, TmaVarlenSchedulerInputs
    from tests.resolutions.harness import run

    files = {FWD: DROPOUT_FWD, TMA: PR_TMA}
    for rule in (TmaDropoutSeeds(), TmaAuxData(), TmaVarlenSchedulerInputs()):
        _, files = run(rule, files)
    assert ("        aux_data: AuxData = AuxData(),\n"
            "        mCuTotalMBlocks: Optional[cute.Tensor] = None,\n"
            "        mCuTotalSplitsMBlocks: Optional[cute.Tensor] = None,\n"
            "        # interface.py passes") in files[TMA]
    assert_leaves(TmaDropoutSeeds(), files, "satisfied")


def test_seeds_in_the_wrong_place_are_moved() -> None:
    seeds = ("        # interface.py passes the dropout seeds (#2439) to every SM120 forward positionally;\n"
             "        # this kernel has no dropout (dispatch requires dropout_p == 0), so they must be None.\n"
             "        dropout_seed_lo: Optional[int] = None,\n"
             "        dropout_seed_hi: Optional[int] = None,\n")
    assert seeds in WITH_SEEDS
    misplaced = WITH_SEEDS.replace(seeds, "").replace(
        "        blocksparse_tensors=None,\n",
        "        blocksparse_tensors=None,\n        dropout_seed_lo: Optional[int] = None,\n"
        "        dropout_seed_hi: Optional[int] = None,\n")
    verdict = assert_rewrites(TmaDropoutSeeds(), {FWD: DROPOUT_FWD, TMA: misplaced}, {TMA: WITH_SEEDS})
    assert verdict.reason.startswith("the seed parameters are missing or out of Sm80's order —")


def test_seeds_in_place_are_satisfied_and_compared() -> None:
    verdict = assert_leaves(TmaDropoutSeeds(), {FWD: DROPOUT_FWD, TMA: WITH_SEEDS}, "satisfied")
    assert verdict.reason == ("TMA __call__ after learnable_sink: blocksparse_tensors, aux_data, mCuTotalMBlocks, "
                              "mCuTotalSplitsMBlocks, dropout_seed_lo, dropout_seed_hi, stream "
                              "(same order as Sm80.__call__)")


def test_without_seeds_in_sm80_nothing_to_do() -> None:
    verdict = assert_leaves(TmaDropoutSeeds(), {FWD: MAIN_FWD, TMA: PORTED_TMA}, "absent")
    assert "no dropout seeds" in verdict.reason

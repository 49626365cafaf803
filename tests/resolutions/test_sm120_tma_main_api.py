"""CW5 (sm120_tma_main_api): each API port of #2349's TMA file, one rule at a time and together."""

from __future__ import annotations

import pytest

from resolutions.sm120_tma_main_api import TmaAuxData, TmaMakeRmemTensor, TmaScoreVecSize, TmaVarlenSchedulerInputs
from tests.resolutions.harness import assert_leaves, assert_rewrites, run
from tests.resolutions.tma_snippets import FWD, MAIN_FWD, PORTED_TMA, PR_TMA, TMA

RULES = (TmaAuxData, TmaScoreVecSize, TmaMakeRmemTensor, TmaVarlenSchedulerInputs)


def port(rules, files):
    for rule in rules:
        _, files = run(rule(), files)
    return files


def test_all_rules_in_load_order_port_the_file() -> None:
    assert port(RULES, {FWD: MAIN_FWD, TMA: PR_TMA})[TMA] == PORTED_TMA


def test_all_rules_in_reverse_order_give_the_same_file() -> None:
    assert port(reversed(RULES), {FWD: MAIN_FWD, TMA: PR_TMA})[TMA] == PORTED_TMA


@pytest.mark.parametrize("rule", RULES)
def test_ported_file_is_already_satisfied(rule) -> None:
    assert_leaves(rule(), {FWD: MAIN_FWD, TMA: PORTED_TMA}, "satisfied")


@pytest.mark.parametrize("rule", RULES)
def test_no_tma_file_is_not_applicable(rule) -> None:
    assert_leaves(rule(), {FWD: MAIN_FWD}, "absent")


def test_aux_data_rule_alone() -> None:
    after = port([TmaAuxData], {FWD: MAIN_FWD, TMA: PR_TMA})[TMA]
    assert "aux_tensors=" not in after.replace("self.aux_tensors", "")
    assert "self_aux=self.aux_tensors" in after  # an attribute of that name is not the variable
    assert "compute_fastdiv_mods(mQ, self.pack_gqa, aux_data.tensors)" in after
    assert "from flash_attn.cute.utils import AuxData\n" in after
    assert_rewrites(TmaAuxData(), {FWD: MAIN_FWD, TMA: PR_TMA}, {TMA: after})


def test_aux_data_needs_mains_aux_data() -> None:
    old_main = MAIN_FWD.replace("aux_data: AuxData = AuxData(),", "aux_tensors=None,")
    verdict = assert_leaves(TmaAuxData(), {FWD: old_main, TMA: PR_TMA}, "absent")
    assert "f3b4de56" in verdict.reason


def test_score_vec_size_needs_mains_rename() -> None:
    old_main = MAIN_FWD.replace("self.score_vec_size", "self.vec_size")
    assert_leaves(TmaScoreVecSize(), {FWD: old_main, TMA: PR_TMA}, "absent")
    verdict = assert_rewrites(TmaScoreVecSize(), {FWD: MAIN_FWD, TMA: PR_TMA},
                              {TMA: PR_TMA.replace("self.vec_size", "self.score_vec_size")})
    assert verdict.reason.endswith("1 read(s) of self.vec_size")


def test_make_rmem_tensor_only_renames_cute_make_fragment() -> None:
    old_main = MAIN_FWD.replace("cute.make_rmem_tensor", "cute.make_fragment")
    assert_leaves(TmaMakeRmemTensor(), {FWD: old_main, TMA: PR_TMA}, "absent")
    after = PR_TMA.replace("cute.make_fragment(", "cute.make_rmem_tensor(")
    assert "thr_mma.make_fragment_A" in after
    assert_rewrites(TmaMakeRmemTensor(), {FWD: MAIN_FWD, TMA: PR_TMA}, {TMA: after})


def test_scheduler_inputs_follow_sm80_order_whatever_the_aux_name() -> None:
    after = port([TmaVarlenSchedulerInputs], {FWD: MAIN_FWD, TMA: PR_TMA})[TMA]
    assert ("        aux_tensors=None,\n"
            "        mCuTotalMBlocks: Optional[cute.Tensor] = None,\n"
            "        mCuTotalSplitsMBlocks: Optional[cute.Tensor] = None,\n"
            "        # stream last: positional binding\n"
            "        stream: cuda.CUstream = None,\n") in after
    assert "cu_total_splits_m_blocks_ptr=mCuTotalSplitsMBlocks,\n        )" in after


def test_scheduler_inputs_need_mains_scheduler() -> None:
    old_main = MAIN_FWD.replace("mCuTotalMBlocks: Optional[cute.Tensor] = None,\n", "")
    verdict = assert_leaves(TmaVarlenSchedulerInputs(), {FWD: old_main, TMA: PR_TMA}, "absent")
    assert "a19e1c6f" in verdict.reason

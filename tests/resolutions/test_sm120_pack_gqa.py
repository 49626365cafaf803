"""CW6 (sm120_pack_gqa): entry 5's two halves — TMA unpacks, the CpAsync class keeps main's Pack-GQA."""

from __future__ import annotations

from resolutions.sm120_pack_gqa import CpAsyncPackedGqa, TmaUnpackedGqa
from tests.resolutions.harness import assert_leaves, assert_rewrites, dedent
from tests.resolutions.tma_snippets import FWD, MAIN_FWD, PR_TMA, TMA

SM120 = "flash_attn/cute/flash_fwd_sm120.py"
UNPACKED_TMA = PR_TMA.replace(
    "        self.use_tma_O = False\n",
    "        self.use_tma_O = False\n"
    "        # The TMA path never packs Q/O/LSE (TMA tiles the unpacked (seqlen, dim) modes; K/V are\n"
    "        # indexed by head_idx // qhead_per_kvhead): GQA/MQA run unpacked, and the shared epilogue\n"
    "        # must not take its Pack-GQA store.\n"
    "        self.pack_gqa = False\n")

MAIN_SM120 = dedent('''
    from flash_attn.cute.flash_fwd import FlashAttentionForwardSm80


    class FlashAttentionForwardSm120(FlashAttentionForwardSm80):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.arch = Arch.sm_80

        @staticmethod
        def can_implement(dtype):
            return True
    ''')


def test_tma_kernel_runs_gqa_unpacked() -> None:
    assert_rewrites(TmaUnpackedGqa(), {TMA: PR_TMA}, {TMA: UNPACKED_TMA})


def test_tma_unpacking_before_super_does_not_count() -> None:
    early = PR_TMA.replace("        super().__init__(dtype, pack_gqa=pack_gqa)\n",
                           "        self.pack_gqa = False\n        super().__init__(dtype, pack_gqa=pack_gqa)\n")
    assert_rewrites(TmaUnpackedGqa(), {TMA: early}, {TMA: UNPACKED_TMA.replace(
        "        super().__init__(dtype, pack_gqa=pack_gqa)\n",
        "        self.pack_gqa = False\n        super().__init__(dtype, pack_gqa=pack_gqa)\n")})


def test_tma_kernel_that_packs_itself_keeps_pack_gqa() -> None:
    packing = PR_TMA.replace("acc = cute.make_fragment", "mQ = pack_gqa_layout(mQ)\n        acc = cute.make_fragment")
    verdict = assert_leaves(TmaUnpackedGqa(), {TMA: packing}, "absent")
    assert "pack_gqa_layout" in verdict.reason


def test_cpasync_half_is_not_applicable_on_todays_main() -> None:
    verdict = assert_leaves(CpAsyncPackedGqa(), {FWD: MAIN_FWD, SM120: MAIN_SM120}, "absent")
    assert "2821c89d" in verdict.reason and "80b79f0b" in verdict.reason


def test_cpasync_half_applies_on_a_main_without_sm80_pack_gqa() -> None:
    old_fwd = MAIN_FWD.replace("mQ = pack_gqa_layout(mQ, self.qhead_per_kvhead)", "pass")
    assert_rewrites(CpAsyncPackedGqa(), {FWD: old_fwd, SM120: MAIN_SM120}, {SM120: MAIN_SM120.replace(
        "        self.arch = Arch.sm_80\n", "        self.arch = Arch.sm_80\n        self.pack_gqa = False\n")})


def test_cpasync_half_adds_an_init_where_there_is_none() -> None:
    no_init = MAIN_SM120.replace("    def __init__(self, *args, **kwargs):\n        super().__init__(*args, **kwargs)\n"
                                 "        self.arch = Arch.sm_80\n\n", "")
    assert "__init__" not in no_init
    assert_rewrites(CpAsyncPackedGqa(), {FWD: MAIN_FWD, SM120: no_init}, {SM120: no_init.replace(
        "    @staticmethod\n", "    def __init__(self, *args, **kwargs):\n        super().__init__(*args, **kwargs)\n"
        "        self.pack_gqa = False\n\n    @staticmethod\n")})

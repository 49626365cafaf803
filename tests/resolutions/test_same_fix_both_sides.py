"""(a) hunks: the same fix on both sides, main's words kept."""

from __future__ import annotations

from resolutions.same_fix_both_sides import SoftmaxScaleNoneFixedByMain, UseTmaOSamePredicate
from tests.resolutions.harness import claim

BWD = "flash_attn/cute/flash_bwd.py"
FWD = "flash_attn/cute/flash_fwd.py"

SCALE_BASE = "        log2, scale = utils.compute_softmax_scale_log2(scale, self.mod)\n".replace(
    "log2", "softmax_scale_log2")
SCALE_OURS = "        softmax_scale_log2, _ = utils.compute_softmax_scale_log2(\n            scale, self.mod\n        )\n"
SCALE_THEIRS = ("        # inline: no None\n        if const_expr(self.mod is None):\n"
                "            softmax_scale_log2 = scale * LOG2_E\n        else:\n"
                "            softmax_scale_log2 = Float32(LOG2_E)\n")


def test_scale_fix_keeps_main():
    got = claim(SoftmaxScaleNoneFixedByMain(), BWD, "FlashAttentionBackwardSm80.__call__", SCALE_BASE, SCALE_OURS,
                SCALE_THEIRS, 2439, set())
    assert got == SCALE_OURS


def test_scale_declines_when_theirs_binds_more():
    theirs = SCALE_THEIRS + "        scale = None\n"
    assert claim(SoftmaxScaleNoneFixedByMain(), BWD, "FlashAttentionBackwardSm80.__call__", SCALE_BASE, SCALE_OURS,
                 theirs, 2439, set()) is None


TMA_OURS = "        self.use_tma_O = Arch.sm_90 <= self.arch < Arch.sm_120\n"
TMA_THEIRS = ("        # old comment\n        # SM90+ but not SM120\n"
              "        self.use_tma_O = self.arch >= Arch.sm_90 and self.arch < Arch.sm_120\n")
TMA_BASE = "        # old comment\n        self.use_tma_O = self.arch >= Arch.sm_90\n"


def test_same_predicate_keeps_main():
    assert claim(UseTmaOSamePredicate(), FWD, "FlashAttentionForwardSm80.__call__", TMA_BASE, TMA_OURS, TMA_THEIRS,
                 2439, set()) == TMA_OURS


def test_different_predicate_is_a_real_conflict():
    theirs = TMA_THEIRS.replace("Arch.sm_120", "Arch.sm_100")
    assert claim(UseTmaOSamePredicate(), FWD, "FlashAttentionForwardSm80.__call__", TMA_BASE, TMA_OURS, theirs,
                 2439, set()) is None
    other_target = TMA_THEIRS.replace("use_tma_O", "use_tma_Q")
    assert claim(UseTmaOSamePredicate(), FWD, "FlashAttentionForwardSm80.__call__", TMA_BASE, TMA_OURS,
                 other_target, 2439, set()) is None


def test_calls_are_not_evaluated():
    theirs = "        self.use_tma_O = exploit(self.arch)\n"
    assert claim(UseTmaOSamePredicate(), FWD, "FlashAttentionForwardSm80.__call__", TMA_BASE, TMA_OURS, theirs,
                 2439, set()) is None

"""Entry 4: positional parameters/arguments both sides added, ours then theirs at both ends."""

from __future__ import annotations

from resolutions.positional_ours_then_theirs import PositionalOursThenTheirs
from tests.resolutions.harness import dedent
from tests.resolutions.whole_file import merge_with

FWD = "flash_attn/cute/flash_fwd.py"
IFACE = "flash_attn/cute/interface.py"

BASE = dedent("""
    class FlashAttentionForwardSm80:
        def __call__(self, mQ, stream):
            self.kernel(
                mQ,
                tiles,
            ).launch(stream=stream)

        def kernel(
            self,
            mQ,
            tiles,
        ):
            pass
""")
OURS = BASE.replace("            tiles,\n        ).launch", "            tiles,\n            blocks,\n        ).launch") \
    .replace("        tiles,\n    ):", "        tiles,\n        blocks: Blocks = None,\n    ):")
THEIRS = BASE.replace("            tiles,\n        ).launch",
                      "            tiles,\n            nheads if drop else None,\n            seed,\n        ).launch") \
    .replace("        tiles,\n    ):", "        tiles,\n        nheads: Int = None,\n        seed: Int = None,\n    ):")


def test_kernel_and_launch_get_the_same_order():
    merged, conflicts, _ = merge_with([PositionalOursThenTheirs()], FWD, BASE, OURS, THEIRS)
    assert conflicts == 2
    assert "            tiles,\n            blocks,\n            nheads if drop else None,\n            seed,\n" in merged
    assert "        tiles,\n        blocks: Blocks = None,\n        nheads: Int = None,\n        seed: Int = None,\n" \
        in merged


def test_other_calls_in_the_same_method_are_not_claimed():
    base = BASE.replace("self.kernel(", "self.other(")
    ours = OURS.replace("self.kernel(", "self.other(")
    theirs = THEIRS.replace("self.kernel(", "self.other(")
    merged, conflicts, result = merge_with([PositionalOursThenTheirs()], FWD, base, ours, theirs)
    assert merged is None and len(result.merged.conflicts) == 1  # the launch hunk stays a conflict


IFACE_BASE = dedent("""
    def _flash_attn_fwd(
        q,
        sink=None,
    ) -> Tuple[Tensor, Tensor]:
        return q
""")
IFACE_OURS = IFACE_BASE.replace("    sink=None,\n) -> Tuple[Tensor, Tensor]:",
                                "    sink=None,\n    meta=None,\n) -> Tuple[Tensor, ...]:")
IFACE_THEIRS = IFACE_BASE.replace("    sink=None,\n", "    sink=None,\n    drop_p=0.0,\n")


def test_signature_with_a_changed_annotation_keeps_ours_params_first():
    merged, conflicts, _ = merge_with([PositionalOursThenTheirs()], IFACE, IFACE_BASE, IFACE_OURS, IFACE_THEIRS)
    assert conflicts == 1
    assert merged == IFACE_BASE.replace("    sink=None,\n) -> Tuple[Tensor, Tensor]:",
                                        "    sink=None,\n    meta=None,\n    drop_p=0.0,\n) -> Tuple[Tensor, ...]:")


def test_not_offered_without_2439():
    merged, _, _ = merge_with([PositionalOursThenTheirs()], IFACE, IFACE_BASE, IFACE_OURS, IFACE_THEIRS,
                              step_pr=2389, bundle_prs=frozenset({2348}))
    assert merged is None


KEY_BASE = dedent("""
    def _flash_attn_bwd(q, dropout_p=0.0):
        compile_key = (
            q.dtype,
            (q.shape[0] == 1),
        )
        other = (
            q.dtype,
        )
""")
KEY_OURS = KEY_BASE.replace("        (q.shape[0] == 1),\n", "        single_q,\n        total is not None,\n")
KEY_THEIRS = KEY_BASE.replace("        (q.shape[0] == 1),\n", "        (q.shape[0] == 1),\n        dropout_p,\n")


def test_compile_key_tuple_gets_ours_then_theirs_and_no_other_tuple():
    merged, conflicts, _ = merge_with([PositionalOursThenTheirs()], IFACE, KEY_BASE, KEY_OURS, KEY_THEIRS)
    assert conflicts == 1
    assert "        single_q,\n        total is not None,\n        dropout_p,\n    )\n    other" in merged
    renamed = [t.replace("compile_key", "cache_key") for t in (KEY_BASE, KEY_OURS, KEY_THEIRS)]
    assert merge_with([PositionalOursThenTheirs()], IFACE, *renamed)[0] is None

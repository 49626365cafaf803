"""D8: SM120 dropout tiles in the moved tile-config function."""

from __future__ import annotations

from resolutions.sm120_dropout_tiles import Sm120DropoutTiles
from tests.resolutions.harness import assert_leaves, assert_rewrites, claim, dedent

IFACE = "flash_attn/cute/interface.py"

OURS = dedent("""
    def _get_fwd_config(
        *,
        arch: int,
        head_dim: int,
        tile_mn=None,
    ) -> Cfg:
        cfg = Cfg(128, 128, True, True)
        if tile_mn is None:
            if arch // 10 == 12:
                # tuned for small SMEM
                if head_dim > 64:
                    cfg = Cfg(128, 64, True, True)
            elif arch // 10 == 8:
                cfg = Cfg(128, 64, True, True)
        return cfg


    def _flash_attn_fwd(q, arch, head_dim, dropout_p=0.0):
        cfg = _get_fwd_config(
            arch=arch,
            head_dim=head_dim,
        )
""")
AFTER = dedent("""
    def _get_fwd_config(
        *,
        arch: int,
        head_dim: int,
        tile_mn=None,
        dropout_p: float = 0.0,
    ) -> Cfg:
        cfg = Cfg(128, 128, True, True)
        if tile_mn is None:
            if arch // 10 == 12:
                # tuned for small SMEM
                # Dropout Philox PRNG causes register spilling at 128x128
                # non-causal. Split precompute/apply enables INT32/FP32
                # overlap; 128x64 avoids the spilling.
                if dropout_p > 0.0:
                    if head_dim <= 64:
                        cfg = Cfg(128, 64, True, True)
                    else:
                        cfg = Cfg(64, 64, True, True)
                elif head_dim > 64:
                    cfg = Cfg(128, 64, True, True)
            elif arch // 10 == 8:
                cfg = Cfg(128, 64, True, True)
        return cfg


    def _flash_attn_fwd(q, arch, head_dim, dropout_p=0.0):
        cfg = _get_fwd_config(
            arch=arch,
            head_dim=head_dim,
            dropout_p=dropout_p,
        )
""")


def test_dropout_tiles_param_and_call_site():
    assert_rewrites(Sm120DropoutTiles(), {IFACE: OURS}, {IFACE: AFTER})


def test_branch_with_several_statements_is_wrapped_in_else():
    ours = OURS.replace("            if head_dim > 64:\n                cfg = Cfg(128, 64, True, True)\n",
                        "            cfg = Cfg(128, 64, True, True)\n            note = 1\n")
    from tests.resolutions.harness import run
    verdict, files = run(Sm120DropoutTiles(), {IFACE: ours})
    assert verdict.status == "needed"
    assert ("            if dropout_p > 0.0:\n                if head_dim <= 64:\n                    cfg = Cfg(128, 64, "
            "True, True)\n                else:\n                    cfg = Cfg(64, 64, True, True)\n            else:\n"
            "                cfg = Cfg(128, 64, True, True)\n                note = 1\n") in files[IFACE]


def test_already_satisfied_and_not_applicable():
    assert_leaves(Sm120DropoutTiles(), {IFACE: AFTER}, "satisfied")
    assert_leaves(Sm120DropoutTiles(), {IFACE: OURS.replace(", dropout_p=0.0", "")}, "absent")
    inline = OURS.replace("cfg = _get_fwd_config(", "cfg = pick(")
    assert_leaves(Sm120DropoutTiles(), {IFACE: inline}, "absent")


def test_only_the_call_site_missing_is_needed():
    partial = AFTER.replace("        dropout_p=dropout_p,\n    )", "    )")
    assert_rewrites(Sm120DropoutTiles(), {IFACE: partial}, {IFACE: AFTER})


def test_claim_keeps_mains_deletion_of_the_edited_block():
    base = "    cfg = Cfg(128, 128)\n    if arch == 12:\n        cfg = Cfg(128, 64)\n"
    theirs = "    cfg = Cfg(128, 128)\n    if arch == 12:\n        if dropout_p > 0.0:\n            cfg = Cfg(64, 64)\n"
    assert claim(Sm120DropoutTiles(), IFACE, "_flash_attn_fwd", base.replace("Cfg", "FwdConfig"), "",
                 theirs.replace("Cfg", "FwdConfig"), 2439, set()) == ""
    assert claim(Sm120DropoutTiles(), IFACE, "_flash_attn_fwd", base, "", base + "    x = 1\n", 2439, set()) is None

"""D6: p_dropout not in the SM100 kwargs dict shared with the head_dim=256 kernel."""

from __future__ import annotations

from resolutions.sm100_dropout_kwarg import Sm100DropoutKwarg
from tests.resolutions.harness import assert_leaves, assert_rewrites, claim, dedent

IFACE = "flash_attn/cute/interface.py"

UNION = dedent("""
    def _flash_attn_fwd(q, head_dim, dropout_p=0.0):
        use_dedicated_hd256_kernel = head_dim == 256
        if arch == 10:
            if use_dedicated_hd256_kernel:
                # big heads: fewer features
                assert softcap is None, "hd256: no softcap"
                assert sink is None, \\
                    "hd256: no sink"
                pack = False
            cls = Big if use_dedicated_hd256_kernel else Small
            fa_fwd_kwargs = dict(
                causal=causal,
                per_split=per_split,
                p_dropout=dropout_p,
            )
            if not use_dedicated_hd256_kernel:
                fa_fwd_kwargs["sem"] = sem is not None
            fa = cls(head_dim, **fa_fwd_kwargs)
""")
RESOLVED = dedent("""
    def _flash_attn_fwd(q, head_dim, dropout_p=0.0):
        use_dedicated_hd256_kernel = head_dim == 256
        if arch == 10:
            if use_dedicated_hd256_kernel:
                # big heads: fewer features
                assert softcap is None, "hd256: no softcap"
                assert sink is None, \\
                    "hd256: no sink"
                assert dropout_p == 0.0, "SM100 forward with head_dim=256 does not support dropout"
                pack = False
            cls = Big if use_dedicated_hd256_kernel else Small
            fa_fwd_kwargs = dict(
                causal=causal,
                per_split=per_split,
            )
            if not use_dedicated_hd256_kernel:
                fa_fwd_kwargs["sem"] = sem is not None
                # #2439: only FlashAttentionForwardSm100 takes p_dropout (hd256 asserts 0 above)
                fa_fwd_kwargs["p_dropout"] = dropout_p
            fa = cls(head_dim, **fa_fwd_kwargs)
""")


def test_union_kwarg_leaves_the_shared_dict():
    assert_rewrites(Sm100DropoutKwarg(), {IFACE: UNION}, {IFACE: RESOLVED})


def test_ours_dict_without_p_dropout_gets_it_under_the_guard():
    ours = UNION.replace("            p_dropout=dropout_p,\n", "")
    assert_rewrites(Sm100DropoutKwarg(), {IFACE: ours}, {IFACE: RESOLVED})


def test_no_guard_after_the_dict_gets_one():
    ours = UNION.replace("            p_dropout=dropout_p,\n", "").replace(
        '        if not use_dedicated_hd256_kernel:\n            fa_fwd_kwargs["sem"] = sem is not None\n', "")
    result = {IFACE: ours}
    from tests.resolutions.harness import run
    verdict, files = run(Sm100DropoutKwarg(), result)
    assert verdict.status == "needed"
    assert ('    if not use_dedicated_hd256_kernel:\n'
            '            # #2439: only FlashAttentionForwardSm100 takes p_dropout') in files[IFACE]
    assert Sm100DropoutKwarg().inspect(_tree(files)).status == "satisfied"


def _tree(files):
    from stacker.resolution import SourceTree
    return SourceTree(files=dict(files))


def test_already_satisfied():
    assert_leaves(Sm100DropoutKwarg(), {IFACE: RESOLVED}, "satisfied")


def test_not_applicable_without_the_shared_dict_or_dropout():
    assert_leaves(Sm100DropoutKwarg(), {IFACE: RESOLVED.replace("fa_fwd_kwargs = dict(", "kw = dict(")}, "absent")
    assert_leaves(Sm100DropoutKwarg(), {IFACE: RESOLVED.replace(", dropout_p=0.0", "")}, "absent")


def test_claim_keeps_ours_in_the_dict_hunk_only():
    ours_view = UNION.replace("            p_dropout=dropout_p,\n", "")
    ours = "            per_split=per_split,\n"
    context_views = (ours_view, ours_view, ours_view)
    from stacker.linemerge import Conflict
    from stacker.resolution import ConflictContext
    ctx = ConflictContext(path=IFACE, qualname="_flash_attn_fwd",
                          hunk=Conflict(base="", ours=ours, theirs="            p_dropout=dropout_p,\n"),
                          views=context_views, step_pr=2439, bundle_prs=frozenset())
    assert Sm100DropoutKwarg().claim(ctx) == ours
    # the same kwarg in another call (e.g. the SM120 constructor) is not this resolution's
    other = "            tile_m=tile_m,\n"
    assert claim(Sm100DropoutKwarg(), IFACE, "_flash_attn_fwd", "", other, "            p_dropout=dropout_p,\n",
                 2439, set()) is None

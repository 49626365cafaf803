"""CW12: dropout refused with block sparsity (SM 8.x/12.x) and with qv."""

from __future__ import annotations

from resolutions.dropout_refusals import DropoutBlockSparseRefused, DropoutQvRefused
from tests.resolutions.harness import assert_leaves, assert_rewrites, dedent, run

IFACE = "flash_attn/cute/interface.py"
BEFORE = dedent("""
    def _flash_attn_fwd(q, qv, blocks, arch, dropout_p=0.0):
        use_block_sparsity = blocks is not None

        causal = resolve()
""")
BOTH = dedent("""
    def _flash_attn_fwd(q, qv, blocks, arch, dropout_p=0.0):
        use_block_sparsity = blocks is not None
        if dropout_p > 0.0:
            # Paths that would silently drop the dropout: the SM80/SM120 block-sparse flow (#2389's
            # mma_one_n_block_bs has no dropout) and the qv (MLA) kernels (no p_dropout).
            assert not (use_block_sparsity and arch // 10 in [8, 12]), (
                "Dropout with block sparsity not supported on SM 8.x/12.x"
            )
            assert qv is None, "Dropout not supported with qv (MLA)"

        causal = resolve()
""")


def test_both_refusals_share_one_block():
    verdict, once = run(DropoutBlockSparseRefused(), {IFACE: BEFORE})
    assert verdict.status == "needed"
    assert_rewrites(DropoutQvRefused(), once, {IFACE: BOTH})
    assert_leaves(DropoutBlockSparseRefused(), {IFACE: BOTH}, "satisfied")


def test_each_alone_is_idempotent():
    _, files = run(DropoutQvRefused(), {IFACE: BEFORE})
    assert "assert qv is None" in files[IFACE] and "# Paths that would" in files[IFACE]
    assert_leaves(DropoutQvRefused(), files, "satisfied")
    assert DropoutBlockSparseRefused().inspect(_tree(files)).status == "needed"


def _tree(files):
    from stacker.resolution import SourceTree
    return SourceTree(files=dict(files))


def test_not_applicable_without_dropout():
    assert_leaves(DropoutQvRefused(), {IFACE: BEFORE.replace(", dropout_p=0.0", "")}, "absent")

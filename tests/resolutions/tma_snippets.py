"""Synthetic files shaped like FA4's flash_fwd.py (main) and #2349's flash_fwd_sm120_tma.py, for the
TMA kernel's resolutions. Small on purpose: only what the rules read."""

from __future__ import annotations

from tests.resolutions.harness import dedent

FWD = "flash_attn/cute/flash_fwd.py"
TMA = "flash_attn/cute/flash_fwd_sm120_tma.py"

MAIN_FWD = dedent('''
    import cutlass.cute as cute
    from flash_attn.cute.utils import AuxData


    class FlashAttentionForwardBase:
        def __init__(self, score_mod=None):
            self.score_vec_size: cutlass.Constexpr = 2
            self.mask_vec_size: cutlass.Constexpr = 1

        def rmem(self, shape):
            return cute.make_rmem_tensor(shape, Float32)


    class FlashAttentionForwardSm80(FlashAttentionForwardBase):
        def __call__(
            self,
            mQ,
            learnable_sink=None,
            blocksparse_tensors=None,
            aux_data: AuxData = AuxData(),
            mCuTotalMBlocks: Optional[cute.Tensor] = None,
            mCuTotalSplitsMBlocks: Optional[cute.Tensor] = None,
            # keep stream last
            stream: cuda.CUstream = None,
        ):
            args = TileSchedulerArguments(
                num_block=1,
                mCuSeqlensQ=mCuSeqlensQ,
                cu_total_m_blocks_ptr=mCuTotalMBlocks,
                cu_total_splits_m_blocks_ptr=mCuTotalSplitsMBlocks,
            )
            mQ = pack_gqa_layout(mQ, self.qhead_per_kvhead)
    ''')

# #2439 adds the seeds (ours then theirs: last before stream).
DROPOUT_FWD = MAIN_FWD.replace(
    "        # keep stream last\n",
    "        dropout_seed_lo: Optional[int] = None,\n"
    "        dropout_seed_hi: Optional[int] = None,\n"
    "        # keep stream last\n")
assert DROPOUT_FWD != MAIN_FWD

PR_TMA = dedent('''
    import cutlass.cute as cute
    from flash_attn.cute.flash_fwd import FlashAttentionForwardBase


    class FlashAttentionForwardSm120Tma(FlashAttentionForwardBase):
        def __init__(self, dtype, pack_gqa=True):
            super().__init__(dtype, pack_gqa=pack_gqa)
            self.use_tma_O = False

        def apply_score_mod(self, acc_S, aux_tensors=None):
            inner(acc_S, self.vec_size, aux_tensors)

        def __call__(
            self,
            mQ,
            learnable_sink=None,
            blocksparse_tensors=None,
            aux_tensors=None,
            # stream last: positional binding
            stream: cuda.CUstream = None,
        ):
            """Launch."""
            assert learnable_sink is None, "no sink"
            args = TileSchedulerArguments(
                num_block=1,
                mCuSeqlensQ=mCuSeqlensQ,
            )
            fastdiv = utils.compute_fastdiv_mods(mQ, self.pack_gqa, aux_tensors)
            self.kernel(mQ, aux_tensors, fastdiv).launch(stream=stream)

        def kernel(self, mQ, aux_tensors=None, fastdiv=None):
            acc = cute.make_fragment(shape, Float32)
            tSrQ = thr_mma.make_fragment_A(sQ)
            mask_fn = partial(mask.apply_mask, aux_tensors=aux_tensors, self_aux=self.aux_tensors)
    ''')

PORTED_TMA = dedent('''
    import cutlass.cute as cute
    from flash_attn.cute.flash_fwd import FlashAttentionForwardBase
    from flash_attn.cute.utils import AuxData


    class FlashAttentionForwardSm120Tma(FlashAttentionForwardBase):
        def __init__(self, dtype, pack_gqa=True):
            super().__init__(dtype, pack_gqa=pack_gqa)
            self.use_tma_O = False

        def apply_score_mod(self, acc_S, aux_data: AuxData = AuxData()):
            inner(acc_S, self.score_vec_size, aux_data)

        def __call__(
            self,
            mQ,
            learnable_sink=None,
            blocksparse_tensors=None,
            aux_data: AuxData = AuxData(),
            mCuTotalMBlocks: Optional[cute.Tensor] = None,
            mCuTotalSplitsMBlocks: Optional[cute.Tensor] = None,
            # stream last: positional binding
            stream: cuda.CUstream = None,
        ):
            """Launch."""
            assert learnable_sink is None, "no sink"
            args = TileSchedulerArguments(
                num_block=1,
                mCuSeqlensQ=mCuSeqlensQ,
                cu_total_m_blocks_ptr=mCuTotalMBlocks,
                cu_total_splits_m_blocks_ptr=mCuTotalSplitsMBlocks,
            )
            fastdiv = utils.compute_fastdiv_mods(mQ, self.pack_gqa, aux_data.tensors)
            self.kernel(mQ, aux_data, fastdiv).launch(stream=stream)

        def kernel(self, mQ, aux_data: AuxData = AuxData(), fastdiv=None):
            acc = cute.make_rmem_tensor(shape, Float32)
            tSrQ = thr_mma.make_fragment_A(sQ)
            mask_fn = partial(mask.apply_mask, aux_data=aux_data, self_aux=self.aux_tensors)
    ''')

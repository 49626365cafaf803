"""Synthetic stand-ins for the Sm80 forward kernel, in the shapes the Sm80 resolutions work on.

Written for these tests (not taken from flash-attention): a tiny `kernel` with a shared prefix, then
one flow prologue -> mainloop -> finalize -> epilogue, and the three versions of it a stack sees:
- BASE: the flow at the kernel's top level;
- SPLIT (like #2348): the flow under a runtime `if n_block_max > n_block_min:`, plus its edits to
  code the other PR shares (a packed Q load, `split_idx` to the epilogue, the loop bound);
- SPARSE (like #2389): a `step_bs` helper, and the prefetch and mainloop forked on
  `if const_expr(self.use_block_sparsity): ... else: <old code>`.
"""

from __future__ import annotations

import textwrap

PATH = "flash_attn/cute/flash_fwd.py"
BLOCK_INFO_PATH = "flash_attn/cute/block_info.py"

HEADER = textwrap.dedent("""\
    import cutlass
    from cutlass import const_expr


    class FlashAttentionForwardSm80:
        @cute.kernel
        def kernel(self, mQ, mO, num_splits):
    """)

BASE = HEADER + textwrap.indent(textwrap.dedent("""\
    tidx = thread_index()
    block_info = BlockInfo(self.tile_m, self.tile_n)
    n_block_min, n_block_max = block_info.get_n_block_min_max(seqlen, m_block)
    n_block = n_block_max - 1
    step = partial(self.step, mQ=mQ)

    # Prologue
    thr_q = copy_q.get_slice(tidx)
    self.load_q(thr_q, mQ)
    commit()

    def warm_up():
        wait(2)
        q_view = retile(mQ)

    # Prefetch
    prefetch(n_block)
    warm_up()

    # Mainloop
    mask = Mask(seqlen)
    mask_fn = partial(mask.apply, causal=self.is_causal)

    for n_tile in cutlass.range(n_block, unroll=1):
        step(n_block - n_tile, mask_fn=mask_fn)
    # Epilogue
    scale = softmax.finalize()
    out_tile = make_tensor(sQ)
    self.epilogue(acc, out_tile, mO)
"""), " " * 8)

SPLIT = HEADER + textwrap.indent(textwrap.dedent("""\
    tidx = thread_index()
    block_info = BlockInfo(self.tile_m, self.tile_n)
    n_block_min, n_block_max = block_info.get_n_block_min_max(seqlen, m_block, split_idx, num_splits)
    n_block = n_block_max - 1
    step = partial(self.step, mQ=mQ)

    if n_block_max > n_block_min:
        # Prologue
        thr_q = copy_q.get_slice(tidx)
        if const_expr(not self.pack_gqa):
            self.load_q(thr_q, mQ)
        else:
            packer = Packer(self.tile_m)
            packer.load_q(mQ)
        commit()

        def warm_up():
            wait(2)
            q_view = retile(mQ)

        # Prefetch
        prefetch(n_block)
        warm_up()

        # Mainloop
        mask = Mask(seqlen)
        mask_fn = partial(mask.apply, causal=self.is_causal)

        # split-KV stops at n_block_min
        for n_tile in cutlass.range(n_block - n_block_min, unroll=1):
            step(n_block - n_tile, mask_fn=mask_fn)
        # Epilogue (split-KV writes partials)
        scale = softmax.finalize()
        out_tile = make_tensor(sQ)
        self.epilogue(acc, out_tile, mO, split_idx)
"""), " " * 8)

SPARSE = HEADER + textwrap.indent(textwrap.dedent("""\
    tidx = thread_index()
    block_info = BlockInfo(self.tile_m, self.tile_n)
    n_block_min, n_block_max = block_info.get_n_block_min_max(seqlen, m_block)
    n_block = n_block_max - 1
    step = partial(self.step, mQ=mQ)
    step_bs = partial(self.step_bs, mQ=mQ)

    # Prologue
    thr_q = copy_q.get_slice(tidx)
    self.load_q(thr_q, mQ)
    commit()

    def warm_up():
        wait(2)
        q_view = retile(mQ)

    # Prefetch
    if const_expr(self.use_block_sparsity):
        # block-sparse: every block loads its own K/V
        wait(0)
        if const_expr(self.q_in_regs):
            q_view = retile(mQ)
    else:
        prefetch(n_block)
        warm_up()

    # Mainloop
    mask = Mask(seqlen)
    mask_fn = partial(mask.apply, causal=self.is_causal)

    if const_expr(self.use_block_sparsity):
        run_sparse(sparse_tensors, step_bs, mask_fn)
    else:
        for n_tile in cutlass.range(n_block, unroll=1):
            step(n_block - n_tile, mask_fn=mask_fn)
    # Epilogue
    scale = softmax.finalize()
    out_tile = make_tensor(sQ)
    self.epilogue(acc, out_tile, mO)
"""), " " * 8)

# What sm80-block-sparse-flows builds from BASE / SPLIT / SPARSE (kernel tail).
MERGED_TAIL = textwrap.dedent("""\
    # Block-sparse flow: its own prologue, mainloop and epilogue, decided at compile time and
    # kept apart from the dense flow below (stacker resolution sm80-block-sparse-flows).
    # Locals the dense flow's runtime `if` binds too carry a bs_ prefix (the CuTe DSL needs
    # type-stable locals across that `if`): thr_q, packer, q_view, mask, mask_fn, scale,
    # out_tile.
    if const_expr(self.use_block_sparsity):
        # Prologue
        bs_thr_q = copy_q.get_slice(tidx)
        if const_expr(not self.pack_gqa):
            self.load_q(bs_thr_q, mQ)
        else:
            bs_packer = Packer(self.tile_m)
            bs_packer.load_q(mQ)
        commit()
        # block-sparse: every block loads its own K/V
        wait(0)
        if const_expr(self.q_in_regs):
            bs_q_view = retile(mQ)

        # Mainloop
        bs_mask = Mask(seqlen)
        bs_mask_fn = partial(bs_mask.apply, causal=self.is_causal)
        run_sparse(sparse_tensors, step_bs, bs_mask_fn)
        # Epilogue (split-KV writes partials)
        bs_scale = softmax.finalize()
        bs_out_tile = make_tensor(sQ)
        self.epilogue(acc, bs_out_tile, mO, split_idx)

    # Dense flow (split-KV and paged-KV aware).
    if const_expr(not self.use_block_sparsity):
        if n_block_max > n_block_min:
            # Prologue
            thr_q = copy_q.get_slice(tidx)
            if const_expr(not self.pack_gqa):
                self.load_q(thr_q, mQ)
            else:
                packer = Packer(self.tile_m)
                packer.load_q(mQ)
            commit()

            def warm_up():
                wait(2)
                q_view = retile(mQ)

            # Prefetch
            prefetch(n_block)
            warm_up()

            # Mainloop
            mask = Mask(seqlen)
            mask_fn = partial(mask.apply, causal=self.is_causal)

            # split-KV stops at n_block_min
            for n_tile in cutlass.range(n_block - n_block_min, unroll=1):
                step(n_block - n_tile, mask_fn=mask_fn)
            # Epilogue (split-KV writes partials)
            scale = softmax.finalize()
            out_tile = make_tensor(sQ)
            self.epilogue(acc, out_tile, mO, split_idx)
""")


def kernel_file(prefix: str, tail: str) -> str:
    """HEADER + an indented kernel body made of `prefix` and `tail` (both dedented)."""
    return HEADER + textwrap.indent(textwrap.dedent(prefix) + textwrap.dedent(tail), " " * 8,
                                    lambda line: bool(line.strip()))


MERGED_PREFIX = """\
tidx = thread_index()
block_info = BlockInfo(self.tile_m, self.tile_n)
n_block_min, n_block_max = block_info.get_n_block_min_max(seqlen, m_block, split_idx, num_splits)
n_block = n_block_max - 1
step = partial(self.step, mQ=mQ)
step_bs = partial(self.step_bs, mQ=mQ)
"""

MERGED = kernel_file(MERGED_PREFIX, "\n" + MERGED_TAIL)

BLOCK_INFO = textwrap.dedent("""\
    @dataclass(frozen=True)
    class BlockInfo:
        tile_m: int
        tile_n: int
        is_causal: bool = False
        num_splits: int = 1

        def get_n_block_min_max(self, seqlen, m_block, split_idx=0, num_splits=1):
            num_splits = self.num_splits
            return 0, 1
    """)

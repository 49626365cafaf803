"""D4: dropout seeds last before `stream` (signatures, interface argument lists)."""

from __future__ import annotations

from resolutions.dropout_seeds_last import DropoutSeedsLast
from tests.resolutions.harness import assert_leaves, assert_rewrites, claim, dedent

IFACE = "flash_attn/cute/interface.py"
FWD = "flash_attn/cute/flash_fwd.py"

LO = "int(dropout_seed & 0xFFFFFFFF) if dropout_seed is not None and dropout_p > 0.0 else None"
HI = "int((dropout_seed >> 32) & 0xFFFFFFFF) if dropout_seed is not None and dropout_p > 0.0 else None"

# The shape of the interface after a union merge: seeds right after the aux-data element.
UNION = dedent(f"""
    def _flash_attn_fwd(q, arch, head_dim, dropout_p=0.0, dropout_seed=None):
        use_dedicated_hd256_kernel = arch == 10 and head_dim == 256
        stream = make_stream()
        if key not in cache:
            args = [kern, q]
            args.extend([
                blocks,
                Aux(tensors),
                {LO},
                {HI},
            ])
            if arch == 10 and not use_dedicated_hd256_kernel:
                args.extend([sched_a, sched_b])
            elif arch in [8, 12]:
                args.append(total_m)
            args.append(stream)
            cache[key] = compile_(*args)
        call_args = [q]
        call_args.extend([
            blocks,
            Aux(tensors),
            {LO},
            {HI},
        ])
        if arch in [8, 12]:
            call_args.append(total_m)
        cache[key](*call_args)
""").replace("args = [", "compile_args = [").replace("args.", "compile_args.").replace("(*args)", "(*compile_args)") \
    .replace("call_compile_args", "call_args")

PLACED = dedent(f"""
    def _flash_attn_fwd(q, arch, head_dim, dropout_p=0.0, dropout_seed=None):
        use_dedicated_hd256_kernel = arch == 10 and head_dim == 256
        stream = make_stream()
        if key not in cache:
            compile_args = [kern, q]
            compile_args.extend([
                blocks,
                Aux(tensors),
            ])
            if arch == 10 and not use_dedicated_hd256_kernel:
                compile_args.extend([sched_a, sched_b])
            elif arch in [8, 12]:
                compile_args.append(total_m)
            if not use_dedicated_hd256_kernel:
                # Dropout seeds (#2439) go last, just before stream, in every kernel's __call__
                # that takes them (after the arch-specific scheduler arguments).
                compile_args.extend([
                    {LO},
                    {HI},
                ])
            compile_args.append(stream)
            cache[key] = compile_(*compile_args)
        call_args = [q]
        call_args.extend([
            blocks,
            Aux(tensors),
        ])
        if arch in [8, 12]:
            call_args.append(total_m)
        if not use_dedicated_hd256_kernel:
            call_args.extend([
                {LO},
                {HI},
            ])
        cache[key](*call_args)
""")

# Backward: ours' hd256 guard already sits right before the stream; the seeds join it.
BWD_OURS = dedent("""
    def _flash_attn_bwd(q, arch, head_dim, dropout_p=0.0, dropout_seed=None):
        use_dedicated_hd256_kernel = arch == 10 and head_dim == 256
        compile_args = [kern, q, aux]
        if not use_dedicated_hd256_kernel:
            compile_args.append(total_m_tensor)
        compile_args.append(current_stream)
        cache[key] = compile_(*compile_args)
""")
BWD_PLACED = dedent(f"""
    def _flash_attn_bwd(q, arch, head_dim, dropout_p=0.0, dropout_seed=None):
        use_dedicated_hd256_kernel = arch == 10 and head_dim == 256
        compile_args = [kern, q, aux]
        if not use_dedicated_hd256_kernel:
            compile_args.append(total_m_tensor)
            # Dropout seeds (#2439) last before stream; the hd256 kernel takes neither.
            compile_args.extend([
                {LO},
                {HI},
            ])
        compile_args.append(current_stream)
        cache[key] = compile_(*compile_args)
""")

KERNEL_UNION = dedent("""
    class KernelFwd:
        def __call__(
            self,
            mQ,
            aux,
            dropout_seed_lo: Optional[int] = None,
            dropout_seed_hi: Optional[int] = None,
            mTotalM: Optional[Tensor] = None,
            # keep stream last
            stream: Stream = None,
        ):
            pass
""")
KERNEL_PLACED = dedent("""
    class KernelFwd:
        def __call__(
            self,
            mQ,
            aux,
            mTotalM: Optional[Tensor] = None,
            dropout_seed_lo: Optional[int] = None,
            dropout_seed_hi: Optional[int] = None,
            # keep stream last
            stream: Stream = None,
        ):
            pass
""")


def test_union_lists_get_their_seeds_moved_before_the_stream_and_out_of_hd256():
    assert_rewrites(DropoutSeedsLast(), {IFACE: UNION}, {IFACE: PLACED})


OURS_ONLY = dedent("""
    def _flash_attn_fwd(q, arch, head_dim, dropout_p=0.0, dropout_seed=None):
        use_dedicated_hd256_kernel = arch == 10 and head_dim == 256
        stream = make_stream()
        if key not in cache:
            compile_args = [kern, q]
            compile_args.extend([
                blocks,
                Aux(tensors),
            ])
            if arch == 10 and not use_dedicated_hd256_kernel:
                compile_args.extend([sched_a, sched_b])
            elif arch in [8, 12]:
                compile_args.append(total_m)
            compile_args.append(stream)
            cache[key] = compile_(*compile_args)
        call_args = [q]
        call_args.extend([
            blocks,
            Aux(tensors),
        ])
        if arch in [8, 12]:
            call_args.append(total_m)
        cache[key](*call_args)
""")


def test_lists_without_seeds_get_them_from_scratch():
    # what the claims leave (ours' lists, no seeds anywhere) gets #2439's seed expressions
    assert_rewrites(DropoutSeedsLast(), {IFACE: OURS_ONLY}, {IFACE: PLACED})


def test_backward_seeds_join_the_existing_hd256_guard():
    assert_rewrites(DropoutSeedsLast(), {IFACE: BWD_OURS}, {IFACE: BWD_PLACED})


def test_kernel_signature_seeds_move_before_stream_keeping_the_comment():
    assert_rewrites(DropoutSeedsLast(), {FWD: KERNEL_UNION}, {FWD: KERNEL_PLACED})


def test_already_satisfied_everywhere():
    verdict = assert_leaves(DropoutSeedsLast(), {IFACE: PLACED + "\n\n" + BWD_PLACED, FWD: KERNEL_PLACED},
                            "satisfied")
    assert "KernelFwd.__call__" in verdict.reason and "_flash_attn_bwd:compile_args" in verdict.reason


def test_not_applicable_without_dropout():
    no_dropout = BWD_OURS.replace(", dropout_p=0.0, dropout_seed=None", "")
    kernel = KERNEL_PLACED.replace("dropout_seed_lo", "lo_param").replace("dropout_seed_hi", "hi_param")
    assert_leaves(DropoutSeedsLast(), {IFACE: no_dropout, FWD: kernel}, "absent")


def test_seeds_reaching_the_hd256_kernel_are_needed():
    unguarded = BWD_OURS.replace("    compile_args.append(current_stream)",
                                 f"    compile_args.extend([{LO}, {HI}])\n    compile_args.append(current_stream)")
    verdict = DropoutSeedsLast().inspect(_tree({IFACE: unguarded}))
    assert verdict.status == "needed" and "hd256" in verdict.reason


def _tree(files):
    from stacker.resolution import SourceTree
    return SourceTree(files=dict(files))


def test_claims_signature_hunk_ours_then_seeds():
    seeds = "        dropout_seed_lo: Optional[int] = None,\n        dropout_seed_hi: Optional[int] = None,\n"
    ours = "        mTotalM: Optional[Tensor] = None,\n"
    got = claim(DropoutSeedsLast(), FWD, "KernelFwd.__call__", "", ours, seeds, 2439, {2348})
    assert got == ours + seeds
    # theirs kept a base line that ours rewrote, and appended the seeds after it
    base = "        aux_tensors=None,\n"
    ours2 = "        aux: Aux = Aux(),\n        mTotalM=None,\n"
    assert claim(DropoutSeedsLast(), FWD, "KernelFwd.__call__", base, ours2, base + seeds, 2439, set()) == ours2 + seeds


def test_claim_declines_other_hunks():
    seeds = "        dropout_seed_lo: Optional[int] = None,\n        dropout_seed_hi: Optional[int] = None,\n"
    assert claim(DropoutSeedsLast(), FWD, "KernelFwd.kernel", "", "        a,\n", seeds, 2439, set()) is None
    assert claim(DropoutSeedsLast(), FWD, "KernelFwd.__call__", "", "        a,\n", "        b,\n", 2439, set()) is None


def test_claims_interface_list_hunk_as_ours():
    base = "                aux,\n"
    ours = "                Aux(aux, scalars),\n"
    theirs = base + f"                {LO},\n                {HI},\n"
    assert claim(DropoutSeedsLast(), IFACE, "_flash_attn_fwd", base, ours, theirs, 2439, set()) == ours
    # theirs also changed something else here: not this resolution's hunk
    assert claim(DropoutSeedsLast(), IFACE, "_flash_attn_fwd", base, ours, "                aux2,\n", 2439,
                 set()) is None

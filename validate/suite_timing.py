"""`timing`: forward throughput per kernel path, in TFLOP/s, at a few realistic shapes.

Paths: SM120 CpAsync (forced), SM120 TMA (#2349), and the device's native FA4 path (on an H100:
FA4's SM90 kernel; it shows what the hardware does with its own instructions, while the SM120
paths run SM80-style mma.sync on it). Method: bf16 inputs from N(0, 1); 3 warm-up calls (the
first compiles); then 15 repetitions, each a CUDA-event interval around 5 back-to-back calls (so
the GPU never waits for Python between them); the median repetition / 5 is the time. FLOPs:
4·b·h·sq·sk·d, halved for causal. Each result also names the kernel class that ran.
"""

from __future__ import annotations

import statistics
from contextlib import nullcontext

import torch

from stacker.validation_model import Case, CaseResult, Status

from .checks import dtype_of, generator, randn, result, unavailable
from .fa_adapter import Refused

NAME = "timing"
SHAPES = {
    "b4 s2048 h16 d128 full": {"batch": 4, "seqlen": 2048, "q_heads": 16, "kv_heads": 16, "head_dim": 128, "causal": False},
    "b4 s2048 h16 d128 causal": {"batch": 4, "seqlen": 2048, "q_heads": 16, "kv_heads": 16, "head_dim": 128, "causal": True},
    "b4 s4096 h16 d64 full": {"batch": 4, "seqlen": 4096, "q_heads": 16, "kv_heads": 16, "head_dim": 64, "causal": False},
    "b1 s8192 h32/8 d128 causal (Llama-3-8B)": {"batch": 1, "seqlen": 8192, "q_heads": 32, "kv_heads": 8,
                                                "head_dim": 128, "causal": True},
}
PATHS = ("SM120 CpAsync", "SM120 TMA", "native")
WARMUP, REPS, INNER = 3, 15, 5


def cases(context) -> list[Case]:
    return [Case(NAME, f"{shape} / {path}", {"shape": shape, "path": path, **SHAPES[shape]})
            for shape in SHAPES for path in PATHS]


def flops(p: dict) -> float:
    full = 4.0 * p["batch"] * p["q_heads"] * p["seqlen"] * p["seqlen"] * p["head_dim"]
    return full / 2 if p["causal"] else full


def run(case: Case, session) -> list[CaseResult]:
    p, fa = case.params, session.fa
    path = p["path"]
    column = path if path != "native" else f"native ({session.native_sm})"
    where = {"table": {"row": p["shape"], "column": column}}
    if path == "SM120 TMA" and fa.tma_class is None:
        res = unavailable(case, "no FlashAttentionForwardSm120Tma (PR #2349)")
        res.info.update(where)
        return [res]
    if path == "native" and session.native_is_kernel_path:
        return [result(case, Status.SKIP, detail="the device's native path is the SM120 path", info=where)]
    gen = generator(case, device=session.device)
    dtype = dtype_of("bfloat16")
    b, s, d = p["batch"], p["seqlen"], p["head_dim"]
    q = randn((b, s, p["q_heads"], d), dtype, gen)
    k, v = (randn((b, s, p["kv_heads"], d), dtype, gen) for _ in range(2))
    arch = session.native_arch if path == "native" else None
    forcing = fa.forced_cpasync() if path == "SM120 CpAsync" else nullcontext()
    try:
        with forcing:
            _, kernels = fa.forward(q, k, v, causal=p["causal"], arch=arch)  # compiles; names the kernel
            expected = {"SM120 CpAsync": "FlashAttentionForwardSm120", "SM120 TMA": "FlashAttentionForwardSm120Tma"}
            if path in expected and expected[path] not in kernels:
                return [result(case, Status.FAIL, detail=f"asked for {path}, ran {kernels}", info=where)]
            call = fa.timed_call(q, k, v, causal=p["causal"], arch=arch)
            for _ in range(WARMUP):
                call()
            torch.cuda.synchronize()
            times = []
            for _ in range(REPS):
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record()
                for _ in range(INNER):
                    call()
                end.record()
                end.synchronize()
                times.append(start.elapsed_time(end) / INNER)
    except Refused as refused:
        res = unavailable(case, f"the tree refuses: {refused}")
        res.info.update(where)
        return [res]
    ms = statistics.median(times)
    tflops = flops(p) / (ms * 1e-3) / 1e12
    spread = (max(times) - min(times)) / ms
    return [result(case, Status.PASS, metric="TFLOP/s", value=tflops,
                   detail=f"median {ms:.3f} ms (spread {spread:.0%} over {REPS}×{INNER}); kernel "
                          f"{', '.join(dict.fromkeys(kernels))}",
                   info={**where, "ms": ms, "times_ms": times, "kernels": kernels})]

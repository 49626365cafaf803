"""Small pieces every suite uses: fresh inputs per case, verdicts on outputs, skip reasons."""

from __future__ import annotations

import math
import zlib
from typing import Any

import torch

from stacker.validation_model import Case, CaseResult, Status, judge_at_most

from .tolerance import output_tolerance


def dtype_of(name: str) -> torch.dtype:
    return {"bfloat16": torch.bfloat16, "float16": torch.float16}[name]


def short_dtype(name: str) -> str:
    return {"bfloat16": "bf16", "float16": "fp16"}[name]


def generator(case: Case, salt: int = 0, device: str = "cuda") -> torch.Generator:
    """Fresh, reproducible random inputs for each case (seeded from its id)."""
    gen = torch.Generator(device=device)
    gen.manual_seed(zlib.crc32(case.id.encode()) + salt)
    return gen


def randn(shape: tuple[int, ...], dtype: torch.dtype, gen: torch.Generator) -> torch.Tensor:
    """N(0, 1) drawn in float32 on the generator's device, then rounded to `dtype`."""
    return torch.randn(shape, generator=gen, device=gen.device, dtype=torch.float32).to(dtype)


def result(case: Case, status: Status, *, name: str | None = None, metric: str | None = None,
           value: float | None = None, tolerance: float | None = None, detail: str = "",
           info: dict[str, Any] | None = None) -> CaseResult:
    return CaseResult(suite=case.suite, name=name or case.name, status=status, metric=metric, value=value,
                      tolerance=tolerance, detail=detail, info=info or {})


def unavailable(case: Case, why: str) -> CaseResult:
    return result(case, Status.UNAVAILABLE, detail=f"not available in this tree: {why}")


def error_stats(out: torch.Tensor, ref: torch.Tensor) -> tuple[float, float, bool]:
    """(max |out − ref|, ‖out − ref‖/‖ref‖, every element finite)."""
    finite = bool(torch.isfinite(out).all())
    diff = out.float() - ref.float()
    max_diff = float(diff.abs().max()) if finite else math.nan
    rel = float(diff.norm() / ref.float().norm().clamp(min=1e-30)) if finite else math.nan
    return max_diff, rel, finite


def judge_output(case: Case, out: torch.Tensor, ref: torch.Tensor, dtype: str, kernels: list[str],
                 *, name: str | None = None, extra: str = "", info: dict[str, Any] | None = None) -> CaseResult:
    """max_diff vs float32 against the dtype's tolerance; a NaN (unwritten or overflowed) fails."""
    tolerance = output_tolerance(dtype)
    max_diff, rel, finite = error_stats(out, ref)
    kernel = ", ".join(dict.fromkeys(kernels)) or "?"
    if not finite:
        bad = int((~torch.isfinite(out)).sum())
        detail = f"{bad} of {out.numel()} output elements are NaN/inf (unwritten or overflowed); kernel {kernel}"
        status = Status.FAIL
    else:
        detail = f"rel L2 {rel:.2e}; kernel {kernel}"
        status = judge_at_most(max_diff, tolerance)
    if extra:
        detail += f"; {extra}"
    return result(case, status, name=name, metric="max_diff", value=max_diff, tolerance=tolerance, detail=detail,
                  info={"rel_l2": rel, "kernels": kernels, **(info or {})})

"""The worker-side session: imports the tree's FA4 once and runs case after case in this process.

It refuses to start when the code it would validate is not the tree's (a `flash_attn` installed
elsewhere shadowing it), when the device is not the one the run was planned for, or when the
kernel path and compile target variables are missing — any of those would make the report lie.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import re
from pathlib import Path
from typing import Any

import torch

from stacker.validation_model import Case, CaseResult, Status

from .fa_adapter import FlashAttention
from .registry import SUITES

_ARCH = re.compile(r"^sm_?(\d+)(\d)[af]?$")


def _capability(arch: str) -> tuple[int, int]:
    match = _ARCH.match(arch)
    if not match:
        raise RuntimeError(f"cannot read an architecture from {arch!r}")
    return int(match.group(1)), int(match.group(2))


class FlashAttentionSession:
    device = "cuda"

    def __init__(self, context):
        self.context = context
        if not torch.cuda.is_available():
            raise RuntimeError("torch sees no CUDA device in the worker")
        for name in ("FLASH_ATTENTION_ARCH", "CUTE_DSL_ARCH"):
            if not os.environ.get(name):
                raise RuntimeError(f"{name} is not set in the worker (the GPU target sets it)")
        device_capability = torch.cuda.get_device_capability()
        if context.capability is not None and tuple(context.capability) != tuple(device_capability):
            raise RuntimeError(f"worker device is sm_{device_capability[0]}{device_capability[1]}, "
                               f"the run was planned for {context.capability}")
        # float32 references must be float32: no TF32 in the reference matmuls
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        torch.set_float32_matmul_precision("highest")
        import flash_attn.cute.interface as interface

        tree = Path(context.tree).resolve()
        where = Path(interface.__file__).resolve()
        if tree not in where.parents:
            raise RuntimeError(f"imported flash_attn.cute from {where}, not from the tree under test {tree}")
        self.interface = interface
        self.fa = FlashAttention(interface)
        self.device_capability = device_capability
        self.native_arch = device_capability[0] * 10 + device_capability[1]
        self.native_sm = f"sm_{device_capability[0]}{device_capability[1]}"
        self.kernel_capability = _capability(os.environ["FLASH_ATTENTION_ARCH"])
        self.native_is_kernel_path = self.kernel_capability[0] == device_capability[0]

    def require_sm120(self, verdict: CaseResult, kernels: list[str]) -> CaseResult:
        """A pass only counts if an SM120 kernel produced it (the label says "SM120 paths")."""
        if verdict.status is Status.PASS and not any("Sm120" in name for name in kernels):
            verdict.status = Status.FAIL
            verdict.detail = f"ran {kernels}, not an SM120 kernel; " + verdict.detail
        return verdict

    def run(self, case: Case) -> list[CaseResult]:
        try:
            return SUITES[case.suite].run(case, self)
        finally:
            torch.cuda.synchronize()

    def healthy(self) -> bool:
        """False once the CUDA context is poisoned (an illegal address is sticky)."""
        try:
            torch.cuda.synchronize()
            return float(torch.ones(1, device="cuda").add_(1).item()) == 2.0
        except Exception:  # noqa: BLE001 — any failure here means: start a fresh process
            return False

    def info(self) -> dict[str, Any]:
        def version(name: str) -> str:
            try:
                return importlib.metadata.version(name)
            except importlib.metadata.PackageNotFoundError:
                return "not installed"

        return {
            "device": torch.cuda.get_device_name(),
            "device_capability": f"sm_{self.device_capability[0]}{self.device_capability[1]}",
            "torch": torch.__version__,
            "cuda": torch.version.cuda,
            "nvidia-cutlass-dsl": version("nvidia-cutlass-dsl"),
            "quack-kernels": version("quack-kernels"),
            "python": platform.python_version(),
            "flash_attn.cute": str(Path(self.interface.__file__).parent),
            "FLASH_ATTENTION_ARCH": os.environ.get("FLASH_ATTENTION_ARCH"),
            "CUTE_DSL_ARCH": os.environ.get("CUTE_DSL_ARCH"),
            "FLASH_ATTENTION_NUM_SMS": os.environ.get("FLASH_ATTENTION_NUM_SMS"),
            "tma_kernel": self.fa.tma_class is not None,
            "dropout_parameter": self.fa.has("dropout_p"),
        }

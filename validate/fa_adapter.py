"""FlashAttention-4 as the suites see it: one forward call, which kernel ran, which features exist.

Runs only inside a validation worker, where the tree under test is first on PYTHONPATH. It calls
`flash_attn.cute.interface._flash_attn_fwd` — what `flash_attn_func` / `flash_attn_varlen_func`
call — because that entry takes a preallocated `out` (poisoned with NaN here, so an element the
kernel never writes cannot pass) and an explicit `_arch` (to time the device's native path in
the same process).

`KernelSpy` answers "which kernel class actually ran?" without touching FA's code: it stands in
for `_flash_attn_fwd.compile_cache` and for `interface.cute` (to see the kernel object handed to
`cute.compile`), so every call is attributed to the class that was compiled for its key. With
that, a suite can tell the TMA kernel from the CpAsync one, and forcing a path is checked, not
assumed.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch

FORCED_NAMESPACE = "stacker-forced-cpasync"
_REFUSAL = re.compile(r"not supported on SM ?12|SM ?12\S* .*not supported|not supported .*SM ?12", re.IGNORECASE)


@dataclass
class KernelRecord:
    cls: str
    kernel: Any  # the object given to cute.compile (tile sizes, dropout threshold, ...)


class _CompileSpy:
    def __init__(self, real: Any, spy: KernelSpy):
        self._real, self._spy = real, spy

    def __call__(self, kernel: Any, *args: Any, **kwargs: Any) -> Any:
        self._spy.compiling = kernel
        return self._real(kernel, *args, **kwargs)

    def __getitem__(self, item: Any) -> Any:
        return self._real[item]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


class _CuteSpy:
    """`interface.cute` with `compile` watched; every other attribute is the real module's."""

    def __init__(self, real: Any, spy: KernelSpy):
        self._real = real
        self.compile = _CompileSpy(real.compile, spy)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


class _CacheSpy:
    """`_flash_attn_fwd.compile_cache` that remembers which kernel each key compiled, and which ran."""

    def __init__(self, real: Any, spy: KernelSpy):
        self._real, self._spy = real, spy

    def _key(self, key: Any) -> Any:
        return (self._spy.namespace, key) if self._spy.namespace else key

    def __contains__(self, key: Any) -> bool:
        return self._key(key) in self._real

    def __getitem__(self, key: Any) -> Any:
        key = self._key(key)
        self._spy.ran.append(self._spy.kernels.get(key, KernelRecord("unknown (compiled before the spy)", None)))
        return self._real[key]

    def __setitem__(self, key: Any, value: Any) -> None:
        key = self._key(key)
        kernel = self._spy.compiling
        self._spy.kernels[key] = KernelRecord(type(kernel).__name__ if kernel is not None else "unknown", kernel)
        self._spy.compiling = None
        self._real[key] = value

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


class KernelSpy:
    def __init__(self, interface: Any):
        self.kernels: dict[Any, KernelRecord] = {}
        self.ran: list[KernelRecord] = []
        self.compiling: Any = None
        self.namespace: str | None = None
        forward = interface._flash_attn_fwd
        forward.compile_cache = _CacheSpy(forward.compile_cache, self)
        interface.cute = _CuteSpy(interface.cute, self)

    def take(self) -> list[KernelRecord]:
        ran, self.ran = self.ran, []
        return ran


class Refused(Exception):
    """The tree refuses the request on this kernel path (its own assertion says 'not supported')."""


def refusal(exc: BaseException) -> str | None:
    """The tree's own 'not supported on SM 12.0' message, if that is what `exc` is."""
    text = str(exc)
    if isinstance(exc, (AssertionError, NotImplementedError, ValueError)) and _REFUSAL.search(text):
        return text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return None


def _first(result: Any) -> torch.Tensor:
    return result[0] if isinstance(result, (tuple, list)) else result


class FlashAttention:
    """The tree's forward entry, its features, and the kernel path each call took."""

    def __init__(self, interface: Any):
        self.interface = interface
        self.spy = KernelSpy(interface)
        self.parameters = set(inspect.signature(interface._flash_attn_fwd).parameters)

    # -- what the tree has -------------------------------------------------------------------
    @property
    def tma_class(self) -> Any:
        return getattr(self.interface, "FlashAttentionForwardSm120Tma", None)

    def has(self, parameter: str) -> bool:
        return parameter in self.parameters

    # -- calls ---------------------------------------------------------------------------------
    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *, arch: int | None = None,
                **kwargs: Any) -> tuple[torch.Tensor, list[str]]:
        """Output (poisoned first, so unwritten elements stay NaN) and the kernel classes that ran."""
        out_shape = (*q.shape[:-1], v.shape[-1])
        out = torch.full(out_shape, float("nan"), dtype=q.dtype, device=q.device)
        if "out" in self.parameters:
            kwargs["out"] = out
        if arch is not None:
            kwargs["_arch"] = arch
        self.spy.take()
        try:
            result = _first(self.interface._flash_attn_fwd(q, k, v, **kwargs))
        except Exception as exc:
            reason = refusal(exc)
            if reason:
                raise Refused(reason) from exc
            raise
        if result.is_cuda:
            torch.cuda.synchronize()  # a kernel fault must surface in the case that caused it
        return result, [record.cls for record in self.spy.take()]

    def last_kernel(self) -> Any:
        """The kernel object of the most recently compiled key (for its attributes)."""
        return next(reversed(self.spy.kernels.values())).kernel if self.spy.kernels else None

    def kernel_for_last_call(self, classes: list[str]) -> Any:
        for record in reversed(list(self.spy.kernels.values())):
            if record.cls in classes:
                return record.kernel
        return None

    @contextmanager
    def forced_cpasync(self) -> Iterator[bool]:
        """Make the SM120 dispatch refuse the TMA kernel, in a compile cache of its own.

        Yields whether there was a TMA kernel to refuse. Callers check the classes that ran.
        """
        tma = self.tma_class
        if tma is None:
            yield False
            return
        original = tma.__dict__.get("can_implement")
        tma.can_implement = staticmethod(lambda *args, **kwargs: False)
        self.spy.namespace = FORCED_NAMESPACE
        try:
            yield True
        finally:
            self.spy.namespace = None
            if original is None:
                del tma.can_implement
            else:
                tma.can_implement = original

    def timed_call(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *, arch: int | None = None,
                   **kwargs: Any):
        """A no-argument call for timing: the same forward, without poisoning or synchronizing."""
        if arch is not None:
            kwargs["_arch"] = arch
        forward = self.interface._flash_attn_fwd
        return lambda: forward(q, k, v, **kwargs)

"""What a compiled CUDA kernel costs: registers, stack, spills and shared memory, read from its cubin.

A kernel that compiles can still be a regression: a merge that keeps one more value live pushes a
kernel to the 255-register ceiling and into local-memory spills. `cuobjdump` (shipped in PyPI's
`triton` wheel, `triton/backends/nvidia/bin/`, so no CUDA toolkit is needed) reads that from the
cubin alone, on a machine without a GPU:

- `cuobjdump -res-usage` gives registers, stack frame, shared, local and constant memory;
- `cuobjdump -sass` gives the SASS and its "code for sm_XX" target. ptxas's "bytes spill stores /
  loads" are not stored in the cubin; they are the summed widths of the kernel's local-memory
  stores and loads (STL / LDL) in that SASS, which this module counts. Checked on FA4's SM120
  forward (d=128, causal, sm_121a): 312 / 288 bytes both ways. A kernel with local arrays of its
  own would count those too; the comparison between two trees is what matters.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

from stacker.errors import StackerError

REGISTER_CEILING = 255  # per-thread register limit of every NVIDIA architecture since sm_35

_RES_FUNCTION = re.compile(r"^\s*Function\s+(?P<name>\S+?):\s*$")
_RES_FIELD = re.compile(r"(?P<key>[A-Z]+(?:\[\d+\])?):(?P<value>\d+)")
_SASS_TARGET = re.compile(r"^\s*code for (?P<arch>sm_\w+)\s*$")
_SASS_FUNCTION = re.compile(r"^\s*Function : (?P<name>\S+)\s*$")
# "/*0140*/   @!P0 STL.64 [R1], R18 ;" -> opcode with its modifiers, after an optional predicate
_SASS_INSTRUCTION = re.compile(r"^\s*/\*[0-9a-f]+\*/\s+(?:@!?U?P[T\d]+\s+)?(?P<op>[A-Z][A-Z0-9_]*)(?P<mods>(?:\.[A-Z0-9_]+)*)")
_WIDTHS = {"U8": 1, "S8": 1, "U16": 2, "S16": 2, "32": 4, "64": 8, "128": 16}


class ToolMissing(StackerError):
    """cuobjdump is needed to read a cubin and is not installed."""

    exit_code = 2


@dataclass(frozen=True)
class KernelResources:
    """One kernel (a `.entry` function) of a cubin, as ptxas laid it out."""

    name: str
    sass_arch: str | None
    registers: int
    stack: int
    shared: int
    local: int
    spill_store_bytes: int
    spill_load_bytes: int
    cubin: str = ""  # file name the kernel came from
    cubin_sha256: str = ""

    @property
    def at_register_ceiling(self) -> bool:
        return self.registers >= REGISTER_CEILING

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> KernelResources:
        return cls(**data)


def find_cuobjdump() -> Path:
    """$STACKER_CUOBJDUMP, then the one in the installed `triton` wheel, then PATH, then CUDA_HOME."""
    explicit = os.environ.get("STACKER_CUOBJDUMP")
    if explicit:
        if Path(explicit).is_file():
            return Path(explicit)
        raise ToolMissing(f"STACKER_CUOBJDUMP={explicit}: no such file")
    spec = importlib.util.find_spec("triton")
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            candidate = Path(location) / "backends" / "nvidia" / "bin" / "cuobjdump"
            if candidate.is_file():
                return candidate
    on_path = shutil.which("cuobjdump")
    if on_path:
        return Path(on_path)
    cuda_home = os.environ.get("CUDA_HOME") or os.environ.get("CUDA_PATH")
    if cuda_home and (Path(cuda_home) / "bin" / "cuobjdump").is_file():
        return Path(cuda_home) / "bin" / "cuobjdump"
    raise ToolMissing(
        "cuobjdump not found: install the gpu extra (`pip install -e .[gpu]`; PyPI's triton ships it) "
        "or set STACKER_CUOBJDUMP"
    )


def parse_res_usage(text: str) -> dict[str, dict[str, int]]:
    """`cuobjdump -res-usage` output → {function name: {"REG": .., "STACK": .., ...}}."""
    functions: dict[str, dict[str, int]] = {}
    current: str | None = None
    for line in text.splitlines():
        match = _RES_FUNCTION.match(line)
        if match:
            current = match.group("name")
            functions[current] = {}
            continue
        if current is not None and "REG:" in line:
            functions[current].update({m.group("key"): int(m.group("value")) for m in _RES_FIELD.finditer(line)})
            current = None
    return functions


@dataclass(frozen=True)
class SassSummary:
    """Per function of a SASS listing: the architecture it was built for and its spill traffic."""

    arch: str | None
    spill_store_bytes: int
    spill_load_bytes: int


def parse_sass(text: str) -> dict[str, SassSummary]:
    """`cuobjdump -sass` output → {function name: SassSummary}, counting STL/LDL bytes per function."""
    summaries: dict[str, list] = {}
    arch: str | None = None
    current: str | None = None
    for line in text.splitlines():
        target = _SASS_TARGET.match(line)
        if target:
            arch, current = target.group("arch"), None
            continue
        function = _SASS_FUNCTION.match(line)
        if function:
            current = function.group("name")
            summaries[current] = [arch, 0, 0]
            continue
        if current is None:
            continue
        instruction = _SASS_INSTRUCTION.match(line)
        if not instruction or instruction.group("op") not in ("STL", "LDL"):
            continue
        width = _access_width(instruction.group("mods"))
        summaries[current][1 if instruction.group("op") == "STL" else 2] += width
    return {name: SassSummary(*values) for name, values in summaries.items()}


def _access_width(modifiers: str) -> int:
    """Bytes moved by one STL/LDL: 4 unless a width modifier (.64, .128, .U8, ...) says otherwise."""
    for modifier in modifiers.split("."):
        if modifier in _WIDTHS:
            return _WIDTHS[modifier]
    return 4


def combine(res_usage: dict[str, dict[str, int]], sass: dict[str, SassSummary], *, cubin: str = "",
            cubin_sha256: str = "") -> list[KernelResources]:
    """One `KernelResources` per function that `-res-usage` lists, joined with its SASS summary."""
    kernels = []
    for name, fields in res_usage.items():
        summary = sass.get(name, SassSummary(None, 0, 0))
        kernels.append(KernelResources(
            name=name,
            sass_arch=summary.arch,
            registers=fields.get("REG", 0),
            stack=fields.get("STACK", 0),
            shared=fields.get("SHARED", 0),
            local=fields.get("LOCAL", 0),
            spill_store_bytes=summary.spill_store_bytes,
            spill_load_bytes=summary.spill_load_bytes,
            cubin=cubin,
            cubin_sha256=cubin_sha256,
        ))
    return kernels


def read_cubin(path: Path, cuobjdump: Path) -> list[KernelResources]:
    """Run cuobjdump twice on `path` and return its kernels' resources."""
    import hashlib

    res = _run(cuobjdump, "-res-usage", path)
    sass = _run(cuobjdump, "-sass", path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return combine(parse_res_usage(res), parse_sass(sass), cubin=path.name, cubin_sha256=digest)


def _run(cuobjdump: Path, flag: str, path: Path) -> str:
    result = subprocess.run([str(cuobjdump), flag, str(path)], capture_output=True, text=True)
    if result.returncode != 0:
        raise StackerError(f"{cuobjdump.name} {flag} {path.name} failed: {result.stderr.strip()[:300]}")
    return result.stdout

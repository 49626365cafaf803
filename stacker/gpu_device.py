"""Which GPU is here, and whether it is the one `--gpu NAME` asks for.

Validation must never report results for hardware it did not run on, so the requested target is
checked against the device before anything runs. The device is read with `nvidia-smi` (no CUDA
context, no torch import in stacker's own process) and, where that is missing, with a short
`python -c` probe through torch in a child process.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from stacker.errors import DeviceError

_ARCH = re.compile(r"^sm_?(\d+)(\d)[af]?$")


class TargetLike(Protocol):
    """What the engine needs of a stack's GPU target (see the stack's kernels package)."""

    name: str
    compile_arch: str
    label: str

    def environment(self) -> dict[str, str]: ...


@dataclass(frozen=True)
class Gpu:
    """One visible device: its index as CUDA_VISIBLE_DEVICES names it, model, compute capability."""

    index: str
    name: str
    capability: tuple[int, int]

    @property
    def sm(self) -> str:
        return f"sm_{self.capability[0]}{self.capability[1]}"


def arch_capability(arch: str) -> tuple[int, int]:
    """`sm_90a` → (9, 0), `sm_121a` → (12, 1): the compute capability a compile target runs on."""
    match = _ARCH.match(arch.strip())
    if not match:
        raise DeviceError(f"'{arch}' is not an NVIDIA architecture name like sm_90a or sm_121a")
    return int(match.group(1)), int(match.group(2))


def _parse_capability(text: str) -> tuple[int, int]:
    major, _, minor = text.strip().partition(".")
    return int(major), int(minor or 0)


def parse_nvidia_smi(output: str) -> list[Gpu]:
    """Rows of `nvidia-smi --query-gpu=index,name,compute_cap --format=csv,noheader`."""
    gpus = []
    for line in output.splitlines():
        if not line.strip():
            continue
        parts = [part.strip() for part in line.split(",")]
        index, name, cap = parts[0], ", ".join(parts[1:-1]), parts[-1]  # a model name may hold commas
        gpus.append(Gpu(index=index, name=name, capability=_parse_capability(cap)))
    return gpus


def _visible(gpus: list[Gpu], env: Mapping[str, str]) -> list[Gpu]:
    """Apply CUDA_VISIBLE_DEVICES (a list of indices) the way the CUDA runtime would."""
    visible = env.get("CUDA_VISIBLE_DEVICES")
    if visible is None:
        return gpus
    wanted = [item.strip() for item in visible.split(",") if item.strip()]
    by_index = {gpu.index: gpu for gpu in gpus}
    if not all(item in by_index for item in wanted):
        return []  # UUIDs or MIG names: let the torch probe answer instead
    return [by_index[item] for item in wanted]


_TORCH_PROBE = (
    "import json, torch\n"
    "n = torch.cuda.device_count() if torch.cuda.is_available() else 0\n"
    "print(json.dumps([[str(i), torch.cuda.get_device_name(i), list(torch.cuda.get_device_capability(i))]"
    " for i in range(n)]))\n"
)


def probe_gpus(env: Mapping[str, str] | None = None) -> list[Gpu]:
    """The GPUs this process may use (CUDA_VISIBLE_DEVICES applied); empty when there are none."""
    env = dict(os.environ if env is None else env)
    smi = shutil.which("nvidia-smi", path=env.get("PATH"))
    if smi:
        try:
            out = subprocess.run(
                [smi, "--query-gpu=index,name,compute_cap", "--format=csv,noheader"],
                capture_output=True, text=True, timeout=60, check=True,
            ).stdout
            gpus = _visible(parse_nvidia_smi(out), env)
            if gpus:
                return gpus
        except (subprocess.SubprocessError, OSError, ValueError, IndexError):
            pass
    try:
        out = subprocess.run(
            [sys.executable, "-c", _TORCH_PROBE], capture_output=True, text=True, timeout=300, env=env,
        )
        rows = json.loads(out.stdout.strip().splitlines()[-1]) if out.returncode == 0 and out.stdout.strip() else []
    except (subprocess.SubprocessError, OSError, ValueError):
        rows = []
    # The probe ran with CUDA_VISIBLE_DEVICES applied, so its indices are already the visible ones.
    visible = [item.strip() for item in env.get("CUDA_VISIBLE_DEVICES", "").split(",") if item.strip()]
    return [
        Gpu(index=visible[i] if i < len(visible) else index, name=name, capability=(cap[0], cap[1]))
        for i, (index, name, cap) in enumerate(rows)
    ]


def resolve_target(requested: str, targets: Mapping[str, TargetLike], gpus: Sequence[Gpu]) -> TargetLike:
    """The target to validate, checked against the device; a mismatch says what to run instead.

    `requested` is a target name or `auto`. Every visible GPU must be of the same compute
    capability, and that capability must be the one the target compiles for.
    """
    if not gpus:
        raise DeviceError(
            "no GPU visible (nvidia-smi and torch found none); validation runs kernels and needs one"
        )
    capabilities = {gpu.capability for gpu in gpus}
    if len(capabilities) > 1:
        listing = ", ".join(f"{gpu.index}: {gpu.sm} ({gpu.name})" for gpu in gpus)
        raise DeviceError(f"visible GPUs differ ({listing}); set CUDA_VISIBLE_DEVICES to one kind")
    gpu = gpus[0]
    matching = [t for t in targets.values() if arch_capability(t.compile_arch) == gpu.capability]
    if requested == "auto":
        if not matching:
            raise DeviceError(
                f"device is {gpu.sm} ({gpu.name}); no GPU target compiles for it "
                f"(known: {', '.join(sorted(targets))})"
            )
        return matching[0]
    if requested not in targets:
        raise DeviceError(f"unknown GPU target '{requested}' (known: {', '.join(sorted(targets))}, or auto)")
    chosen = targets[requested]
    if arch_capability(chosen.compile_arch) != gpu.capability:
        instead = (
            f"run --gpu {matching[0].name} ({matching[0].label})"
            if matching
            else f"no GPU target compiles for {gpu.sm}"
        )
        raise DeviceError(
            f"device is {gpu.sm} ({gpu.name}); --gpu {requested} compiles for {chosen.compile_arch}: {instead}"
        )
    return chosen

"""GPU targets: what `--gpu NAME` means for FA4's kernels (kernel path, compile target, SM count).

FA4 picks the kernel family from FLASH_ATTENTION_ARCH and the compile target from CUTE_DSL_ARCH,
independently. CUTE_DSL_ARCH must never be left unset: the DSL then silently builds sm_100a.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from stacker.errors import ConfigError

TARGETS_FILE = Path(__file__).with_name("targets.toml")


@dataclass(frozen=True)
class Target:
    name: str
    kernel_path: str
    compile_arch: str
    num_sms: int
    device: str
    label: str

    def environment(self) -> dict[str, str]:
        """The variables that make FA4 compile (and run) this target's kernels."""
        return {
            "FLASH_ATTENTION_ARCH": self.kernel_path,
            "CUTE_DSL_ARCH": self.compile_arch,
            "FLASH_ATTENTION_NUM_SMS": str(self.num_sms),
        }


def load_targets(path: Path = TARGETS_FILE) -> dict[str, Target]:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    targets = {}
    for name, fields in raw.items():
        try:
            targets[name] = Target(name=name, **fields)
        except TypeError as exc:
            raise ConfigError(f"{path}: target [{name}]: {exc}") from None
    return targets


def target(name: str, path: Path = TARGETS_FILE) -> Target:
    targets = load_targets(path)
    if name not in targets:
        raise ConfigError(f"unknown GPU target '{name}' (known: {', '.join(sorted(targets))}; see {path.name})")
    return targets[name]

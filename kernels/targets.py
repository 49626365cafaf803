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


def load_targets(path: Path = TARGETS_FILE, overrides: Path | None = None) -> dict[str, Target]:
    """The target table; `overrides` (same format) changes fields of known targets or adds new ones,
    e.g. `[sm120a]\nnum_sms = 84` for an RTX 5070 Ti."""
    raw = _read(path)
    if overrides is not None:
        for name, fields in _read(overrides).items():
            if not isinstance(fields, dict):
                raise ConfigError(f"{overrides}: [{name}] must be a table")
            raw[name] = {**raw.get(name, {}), **fields}
    targets = {}
    for name, fields in raw.items():
        try:
            targets[name] = Target(name=name, **fields)
        except TypeError as exc:
            where = overrides if overrides is not None and name in _read(overrides) else path
            raise ConfigError(f"{where}: target [{name}]: {exc}") from None
    return targets


def _read(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def target(name: str, path: Path = TARGETS_FILE, overrides: Path | None = None) -> Target:
    targets = load_targets(path, overrides)
    if name not in targets:
        raise ConfigError(f"unknown GPU target '{name}' (known: {', '.join(sorted(targets))}; see {path.name})")
    return targets[name]

"""The contract between the engine and a stack's validation suites (`stack.yaml: validate:`).

The engine knows nothing of what is validated; the stack's package supplies it:

    targets() -> {name: target}         GPU targets (name, compile_arch, label, environment())
    suites() -> [name, ...]             suite names, in the order they run by default
    cases(context) -> [Case, ...]       the cases of `context.suites` (parent side: no GPU, no
                                        import of the code under test)
    open_session(context) -> session    worker side, once per process; `session.run(case)`
                                        returns a list of `CaseResult`, `session.info()` a dict
    PASS_ENV = ("NAME", "PREFIX_*")     optional: extra variables the worker may inherit

The same module is imported in the parent (to plan) and in each worker (to run).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from stacker.errors import ConfigError
from stacker.plugins import load_stack_module

REQUIRED = ("targets", "suites", "cases", "open_session")


@dataclass(frozen=True)
class RunContext:
    """What suites are told about the run, in the parent and in every worker."""

    target: str  # the --gpu target's name
    label: str  # how reports name results on it (the stack says, e.g. which kernels on which chip)
    compile_arch: str
    tree: str  # root of the exported tree under test
    suites: tuple[str, ...]
    device: str = ""  # the device's model name, as probed
    capability: tuple[int, int] | None = None
    options: dict[str, str] = field(default_factory=dict)  # -o KEY=VALUE, for the suites

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunContext:
        data = dict(data)
        data["suites"] = tuple(data.get("suites", ()))
        if data.get("capability") is not None:
            data["capability"] = tuple(data["capability"])
        return cls(**data)


def load_validation_plugin(path: Path) -> ModuleType:
    """Import the stack's validation package and check it offers the contract above."""
    module = load_stack_module(path, namespace="stacker_validate")
    missing = [name for name in REQUIRED if not callable(getattr(module, name, None))]
    if missing:
        raise ConfigError(f"{path}: the validation package lacks {', '.join(missing)} (see stacker/validation_plugin.py)")
    return module

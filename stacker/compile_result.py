"""What compiling one kernel variant gave: ok / failed / skipped, seconds, and its kernels' resources.

A variant's resources are summed up over its kernels (a backward pass is three: preprocess, main,
postprocess) so that two trees whose kernels were renamed still compare: the most registers and
stack of any kernel, the spill bytes of all of them, how many sit at the register ceiling.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from stacker.cubin import REGISTER_CEILING, KernelResources

OK = "ok"
FAILED = "failed"
SKIPPED = "skipped"  # the tree lacks the feature the variant exercises (the worker said so)
STATUSES = (OK, FAILED, SKIPPED)


@dataclass(frozen=True)
class CompileResult:
    id: str
    title: str
    target: str
    status: str
    compile_seconds: float = 0.0  # inside the worker: the call that compiles
    wall_seconds: float = 0.0  # the whole process, imports included
    error: str | None = None  # one line; for "skipped" the reason
    kernels: tuple[KernelResources, ...] = ()
    cached: bool = False
    log: str | None = None  # full output of a failed job, on disk
    group: str = ""
    env: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == OK

    @property
    def registers(self) -> int | None:
        return max((k.registers for k in self.kernels), default=None)

    @property
    def stack(self) -> int | None:
        return max((k.stack for k in self.kernels), default=None)

    @property
    def shared(self) -> int | None:
        return max((k.shared for k in self.kernels), default=None)

    @property
    def spill_stores(self) -> int | None:
        return sum(k.spill_store_bytes for k in self.kernels) if self.kernels else None

    @property
    def spill_loads(self) -> int | None:
        return sum(k.spill_load_bytes for k in self.kernels) if self.kernels else None

    @property
    def at_ceiling(self) -> int:
        return sum(1 for k in self.kernels if k.registers >= REGISTER_CEILING)

    @property
    def cubin_digests(self) -> tuple[str, ...]:
        return tuple(sorted({k.cubin_sha256 for k in self.kernels if k.cubin_sha256}))

    def to_dict(self) -> dict:
        return {
            "id": self.id, "title": self.title, "target": self.target, "group": self.group,
            "status": self.status, "compile_seconds": round(self.compile_seconds, 3),
            "wall_seconds": round(self.wall_seconds, 3), "error": self.error, "cached": self.cached,
            "log": self.log, "env": dict(self.env),
            "registers": self.registers, "stack": self.stack, "shared": self.shared,
            "spill_stores": self.spill_stores, "spill_loads": self.spill_loads,
            "kernels_at_register_ceiling": self.at_ceiling,
            "kernels": [k.to_dict() for k in self.kernels],
        }

    @classmethod
    def from_dict(cls, data: dict) -> CompileResult:
        if data.get("status") not in STATUSES:
            raise ValueError(f"unknown status {data.get('status')!r}")
        return cls(
            id=data["id"], title=data.get("title", ""), target=data["target"], status=data["status"],
            compile_seconds=float(data.get("compile_seconds", 0.0)),
            wall_seconds=float(data.get("wall_seconds", 0.0)), error=data.get("error"),
            kernels=tuple(KernelResources.from_dict(k) for k in data.get("kernels", ())),
            cached=bool(data.get("cached", False)), log=data.get("log"), group=data.get("group", ""),
            env=dict(data.get("env", {})),
        )

    def as_cached(self) -> CompileResult:
        return replace(self, cached=True)

"""stack.lock: the exact inputs and output of the last published build.

`stacker build --locked` rebuilds from these SHAs; `stacker status` compares upstream with them.
JSON with sorted keys, so a rebuild that changes nothing rewrites the file byte for byte.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from stacker.errors import ConfigError


@dataclass(frozen=True)
class LockedPR:
    number: int
    head: str
    fork: str
    includes: dict[str, str]  # PR number (as a string, for JSON) -> head
    status: str
    commit: str | None


@dataclass(frozen=True)
class Lock:
    tool_version: str
    upstream: str
    base_name: str
    base: str
    target_name: str
    target: str
    branch: str
    head: str
    tree: str
    inputs_digest: str
    prs: list[LockedPR]
    patches: list[dict] = field(default_factory=list)
    # What `stacker push` last pushed: remote -> branch -> commit (the lease of the next push).
    pushed: dict[str, dict[str, str]] = field(default_factory=dict)

    def pr(self, number: int) -> LockedPR | None:
        return next((p for p in self.prs if p.number == number), None)


def write_lock(path: Path, lock: Lock) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(asdict(lock), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(path)


def read_lock(path: Path) -> Lock:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file; build once without --locked to create it") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from None
    try:
        prs = [LockedPR(**p) for p in raw.pop("prs")]
        return Lock(prs=prs, **raw)
    except (KeyError, TypeError) as exc:
        raise ConfigError(f"{path}: not a stack.lock written by stacker ({exc})") from None

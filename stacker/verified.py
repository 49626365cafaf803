"""Which `verify:` checks the published bundle passed, so a rebuild that changes nothing skips them.

The checks guard publishing. When a rebuild arrives at the commit the branch already holds there
is nothing to publish, and running a minutes-long compile gate again could not change what users
already have — unless the check itself is new or was edited, or was skipped (`--skip-verify`)
when the bundle was published: those run. The record lives in the work dir beside the branch it
describes, and only ever for the published head.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from stacker.config import VerifyCommand


def fingerprint(command: VerifyCommand) -> str:
    return hashlib.sha256(f"{command.name}\0{command.run}".encode()).hexdigest()


@dataclass(frozen=True)
class VerifiedRecord:
    """`head` passed the checks whose fingerprints are in `passed` (name -> fingerprint)."""

    head: str
    passed: dict[str, str]

    def covers(self, head: str, command: VerifyCommand) -> bool:
        return head == self.head and self.passed.get(command.name) == fingerprint(command)


def read_record(path: Path) -> VerifiedRecord | None:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return VerifiedRecord(head=raw["head"], passed=dict(raw["passed"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None  # no record (or a damaged one): every check runs


def write_record(path: Path, head: str, commands: list[VerifyCommand]) -> None:
    record = {"head": head, "passed": {c.name: fingerprint(c) for c in commands}}
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(path)

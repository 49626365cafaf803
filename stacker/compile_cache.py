"""Compile results kept in the work directory, so an unchanged bundle recompiles nothing.

A result is keyed by everything that decides what the compiler sees: the git tree id of each
exported path (the package), the files stacker adds to the tree, the job (its id, target,
environment and spec), the toolchain versions the plugin names (the DSL's above all) and the worker
script's own bytes. Change any of them and the key changes. Only results that would come out the
same again are kept: "ok" and "skipped". A failure is compiled afresh every time, so a crash, a
timeout or a killed process never sticks.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from stacker.compile_plan import CompileJob
from stacker.compile_result import FAILED, CompileResult

KEY_VERSION = 1  # bump when the key's recipe or the stored format changes


def cache_key(*, trees: Mapping[str, str], shim_files: Mapping[str, str], job: CompileJob,
              toolchain: Mapping[str, str], worker_digest: str) -> str:
    material = {
        "version": KEY_VERSION,
        "trees": dict(sorted(trees.items())),
        "shims": dict(sorted(shim_files.items())),
        "job": {"id": job.id, "target": job.target, "env": dict(sorted(job.env.items())), "spec": job.spec},
        "toolchain": dict(sorted(toolchain.items())),
        "worker": worker_digest,
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode()).hexdigest()


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class CompileCache:
    """One JSON file per key under `root` (`<workdir>/kernels/cache`); `read=False` only stores
    (`--no-cache`: compile everything afresh, keep what compiled for the next run)."""

    root: Path
    read: bool = True

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> CompileResult | None:
        if not self.read:
            return None
        path = self._path(key)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return CompileResult.from_dict(data).as_cached()
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError):
            path.unlink(missing_ok=True)  # a torn or foreign file: compile again
            return None

    def put(self, key: str, result: CompileResult) -> None:
        if result.status == FAILED:
            return
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = result.to_dict() | {"cached": False, "log": None}
        # write-then-rename: parallel jobs and concurrent runs never read half a file
        with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp", encoding="utf-8") as tmp:
            json.dump(data, tmp)
        os.replace(tmp.name, path)

from __future__ import annotations

import json
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.gitrepos import Upstream, write_stack

HERE = Path(__file__).parent
FIXTURES = HERE / "fixtures"


@pytest.fixture
def fake_cuobjdump(tmp_path: Path, monkeypatch) -> Path:
    """STACKER_CUOBJDUMP pointing at a script that renders the fake worker's cubins."""
    script = tmp_path / "bin" / "cuobjdump"
    script.parent.mkdir()
    script.write_text(f"#!{sys.executable}\nimport runpy, sys\n"
                      f"runpy.run_path({str(HERE / 'fake_kernels' / 'fake_cuobjdump.py')!r}, run_name='__main__')\n")
    script.chmod(0o755)
    monkeypatch.setenv("STACKER_CUOBJDUMP", str(script))
    return script


@dataclass
class FakeStack:
    root: Path
    stack: Path
    kernels: Path
    repo: Upstream
    record: Path

    def commit(self, behaviour: dict, message: str = "change", ref: str = "refs/heads/main") -> str:
        return self.repo.commit({"pkg/behaviour.json": json.dumps(behaviour), "pkg/mod.py": message + "\n",
                                 "README": "outside the exported paths\n"}, message, ref=ref)

    def records(self) -> list[dict]:
        if not self.record.exists():
            return []
        return [json.loads(line) for line in self.record.read_text().splitlines()]

    def args(self, *more: str) -> list[str]:
        return ["kernels", "--stack", str(self.stack), "--repo", str(self.repo.path), *more]


@pytest.fixture
def fake_stack(tmp_path: Path, fake_cuobjdump, monkeypatch) -> FakeStack:
    """stack.yaml + the fake kernels plugin + a synthetic upstream whose tree drives the fake worker."""
    root = tmp_path / "stack"
    root.mkdir()
    shutil.copytree(HERE / "fake_kernels", root / "kernels")
    stack = write_stack(root, tmp_path / "upstream.git", [{"number": 1}], kernels="kernels", branch="main")
    record = tmp_path / "worker-record.jsonl"
    monkeypatch.setenv("FAKE_RECORD", str(record))
    return FakeStack(root=root, stack=stack, kernels=root / "kernels", repo=Upstream(tmp_path / "upstream.git"),
                     record=record)

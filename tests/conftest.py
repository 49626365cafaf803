from __future__ import annotations

import os
from pathlib import Path

import pytest

from stacker.cli import main
from tests.gitrepos import Upstream


@pytest.fixture
def upstream(tmp_path: Path) -> Upstream:
    return Upstream(tmp_path / "upstream.git")


@pytest.fixture
def run_cli(capsys):
    """Run the real CLI in-process; returns (exit code, stdout, stderr)."""

    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def real_upstream() -> Path:
    """The real flash-attention upstream made by fa-upstream; tests using it are opt-in."""
    value = os.environ.get("STACKER_TEST_UPSTREAM")
    if not value:
        pytest.skip("STACKER_TEST_UPSTREAM is not set (a path made by shared/tools/fa-upstream)")
    path = Path(value)
    if not (path / "HEAD").exists():
        pytest.skip(f"STACKER_TEST_UPSTREAM={value} is not a git repository")
    return path

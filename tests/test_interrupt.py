"""A build killed at any moment leaves the bundle branch where it was, and the next build works."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.gitrepos import Upstream, branch_head, write_stack


def _stack(tmp_path: Path, upstream: Upstream, n: int = 6) -> Path:
    base = upstream.commit({f"m{i}.py": f"x{i} = {i}\n" for i in range(n)}, "initial")
    for i in range(n):
        upstream.pr(i + 1, {f"m{i}.py": f"x{i} = {i} + 1\n", f"new{i}.py": "y = 0\n"}, f"pr {i + 1}", base)
    return write_stack(tmp_path / "s", upstream.path, [{"number": i + 1} for i in range(n)])


def _build(stack: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "stacker", "build", "--stack", str(stack)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def test_kill_at_random_points_never_corrupts(tmp_path: Path, upstream: Upstream) -> None:
    stack = _stack(tmp_path, upstream)
    reference = write_stack(tmp_path / "ref", upstream.path, [{"number": i + 1} for i in range(6)])
    done = subprocess.run([sys.executable, "-m", "stacker", "build", "--stack", str(reference)], capture_output=True)
    assert done.returncode == 0, done.stderr
    expected = branch_head(tmp_path / "ref" / ".stacker")
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "stacker", "build", "--stack", str(stack), "--offline"],
                   capture_output=True)  # fails (nothing fetched): only to time the interpreter start
    full = max(0.5, time.monotonic() - started) * 3
    work = tmp_path / "s" / ".stacker"
    rng = random.Random(1234)
    for _ in range(8):
        process = _build(stack)
        time.sleep(rng.uniform(0.05, full))
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        assert branch_head(work) in (None, expected)  # never a half-built bundle
    final = subprocess.run([sys.executable, "-m", "stacker", "build", "--stack", str(stack)], capture_output=True,
                           text=True)
    assert final.returncode == 0, final.stdout + final.stderr
    assert branch_head(work) == expected

"""`upstream`: flash-attention's own tests (tests/cute of the tree) on the SM120 path, as a peer check.

One case per test function; each runs a sample of that function's parametrizations through
pytest inside the worker (the kernels compiled by the other suites stay warm) and reports every
test: passed, failed (with pytest's message) or skipped (with the test's own reason).

The tests decide what to expect from `torch.cuda.get_device_capability()` at import time
(IS_SM90, IS_SM120 ...). On a device that is not SM120 but runs the SM120 kernel path, the
suite answers that call with the kernel path's capability while pytest collects, so the tests
expect what the SM120 path does; at run time torch sees the real device.

Options (`-o KEY=VALUE`): upstream_files (comma-separated, default tests/cute/test_flash_attn.py),
upstream_per_function (default 1; `all` runs every parametrization), upstream_functions (only
these, comma-separated).
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

from stacker.validation_model import Case, CaseResult, Status

from .checks import result, unavailable

NAME = "upstream"
DEFAULT_FILES = ("tests/cute/test_flash_attn.py",)


def _functions(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [node.name for node in tree.body if isinstance(node, ast.FunctionDef) and node.name.startswith("test")]


def cases(context) -> list[Case]:
    files = [f.strip() for f in context.options.get("upstream_files", ",".join(DEFAULT_FILES)).split(",") if f.strip()]
    only = {f.strip() for f in context.options.get("upstream_functions", "").split(",") if f.strip()}
    per_function = context.options.get("upstream_per_function", "1")
    out = []
    for file in files:
        path = Path(context.tree) / file
        if not path.is_file():
            out.append(Case(NAME, file, {"file": file, "missing": True}))
            continue
        for function in _functions(path):
            if only and function not in only:
                continue
            out.append(Case(NAME, f"{path.stem}::{function}",
                            {"file": file, "function": function, "per_function": per_function}))
    return out


def sample(items: list, count: str) -> list:
    """Evenly spaced, deterministic: the first, the last and what lies between."""
    if count == "all" or len(items) <= int(count):
        return list(items)
    n = int(count)
    if n <= 0:
        return []
    if n == 1:
        return [items[len(items) // 2]]
    return [items[round(i * (len(items) - 1) / (n - 1))] for i in range(n)]


class _Recorder:
    """A pytest plugin: picks the sample at collection, records each test's outcome."""

    def __init__(self, per_function: str, capability: tuple[int, int] | None):
        self.per_function = per_function
        self.capability = capability
        self.collected = 0
        self.outcomes: dict[str, tuple[str, str, float]] = {}
        self._restore = None

    def pytest_sessionstart(self, session):
        if self.capability is None:
            return
        import torch

        real = torch.cuda.get_device_capability
        torch.cuda.get_device_capability = lambda device=None: self.capability
        self._restore = lambda: setattr(torch.cuda, "get_device_capability", real)

    def pytest_collection_modifyitems(self, session, config, items):
        self.collected = len(items)
        items[:] = sample(list(items), self.per_function)

    def pytest_collection_finish(self, session):
        if self._restore is not None:
            self._restore()
            self._restore = None

    def pytest_runtest_logreport(self, report):
        name = report.nodeid.split("::", 1)[-1]
        previous = self.outcomes.get(name)
        if report.skipped:
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
            if hasattr(report, "wasxfail"):
                reason = f"xfail: {report.wasxfail}"
            self.outcomes[name] = ("skip", reason.removeprefix("Skipped: "), report.duration)
        elif report.failed:
            text = report.longreprtext.strip().splitlines()
            message = next((line for line in reversed(text) if line.startswith("E ")), text[-1] if text else "")
            kind = "fail" if report.when == "call" else "error"
            self.outcomes[name] = (kind, f"{report.when}: {message.strip()}", report.duration)
        elif report.when == "call" and (previous is None or previous[0] == "pass"):
            self.outcomes[name] = ("pass", "", report.duration)


def run(case: Case, session) -> list[CaseResult]:
    p = case.params
    if p.get("missing"):
        return [unavailable(case, f"{p['file']} is not in the tree")]
    try:
        import pytest
    except ImportError:
        return [result(case, Status.ERROR, detail="pytest is not installed where the worker runs")]
    tree = Path(session.context.tree)
    recorder = _Recorder(p["per_function"], session.kernel_capability if not session.native_is_kernel_path else None)
    cwd = os.getcwd()
    os.chdir(tree)
    try:
        code = pytest.main([f"{p['file']}::{p['function']}", "-q", "-p", "no:cacheprovider", "--rootdir", str(tree),
                            "-o", "addopts=", "--no-header", "-rN"], plugins=[recorder])
    finally:
        os.chdir(cwd)
    statuses = {"pass": Status.PASS, "fail": Status.FAIL, "error": Status.ERROR, "skip": Status.SKIP}
    outcomes = [result(case, statuses[kind], name=f"{p['function']}[{name.partition('[')[2].rstrip(']')}]"
                       if "[" in name else p["function"], detail=detail[:500], info={"seconds": seconds})
                for name, (kind, detail, seconds) in recorder.outcomes.items()]
    for outcome in outcomes:
        outcome.seconds = outcome.info["seconds"]
        outcome.detail = (outcome.detail + f" (sampled from {recorder.collected} parametrizations)").strip()
    if not outcomes:
        why = f"pytest exit code {int(code)}; {recorder.collected} tests collected"
        status = Status.ERROR if int(code) not in (0, 5) else Status.SKIP
        return [result(case, status, detail=f"nothing ran: {why}")]
    return outcomes

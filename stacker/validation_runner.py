"""Runs validation cases in worker processes and survives the ones that kill their process.

Plan: the cases of this shard (`--shard i/n`, contiguous blocks so that cases sharing compiled
kernels stay together) are split again, contiguously, over the visible GPUs; each GPU gets one
worker process at a time (`stacker.validation_worker`) that runs its cases in order and reuses
what it compiled. When a worker dies inside a case, that case is recorded as crashed with the
exit signal and the tail of the worker's log, and a fresh worker takes the remaining cases.
A case that runs longer than the case timeout is treated the same way (its process is killed).
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stacker.errors import ConfigError
from stacker.validation_model import Case, CaseResult, Status
from stacker.validation_plugin import RunContext

LOG_TAIL_LINES = 12


@dataclass(frozen=True)
class Shard:
    """`i/n`: this run takes the i-th (0-based) of n contiguous blocks of the case list."""

    index: int = 0
    count: int = 1

    @classmethod
    def parse(cls, text: str) -> Shard:
        try:
            index_text, count_text = text.split("/")
            shard = cls(int(index_text), int(count_text))
        except ValueError:
            raise ConfigError(f"--shard '{text}': expected i/n with 0 <= i < n, e.g. 0/4") from None
        if shard.count < 1 or not 0 <= shard.index < shard.count:
            raise ConfigError(f"--shard '{text}': expected i/n with 0 <= i < n, e.g. 0/4")
        return shard

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def split_contiguous(items: Sequence[Any], parts: int) -> list[list[Any]]:
    """`parts` contiguous blocks whose sizes differ by at most one (earlier blocks are larger)."""
    size, extra = divmod(len(items), parts)
    blocks, start = [], 0
    for part in range(parts):
        end = start + size + (1 if part < extra else 0)
        blocks.append(list(items[start:end]))
        start = end
    return blocks


def select_shard(cases: Sequence[Case], shard: Shard) -> list[Case]:
    return split_contiguous(cases, shard.count)[shard.index]


@dataclass(frozen=True)
class WorkerSpec:
    """How to start a worker: the plugin, the shared context, its environment and limits."""

    plugin: Path
    context: RunContext
    env: dict[str, str]
    cwd: Path
    log_dir: Path
    case_timeout: float = 900.0
    setup_timeout: float = 900.0
    python: str = sys.executable
    module: str = "stacker.validation_worker"
    on_results: Callable[[list[CaseResult]], None] | None = None  # progress, called from threads
    live: set[subprocess.Popen] = field(default_factory=set)  # running workers, killed if the parent is stopped
    stop: threading.Event = field(default_factory=threading.Event)  # set when the run is interrupted

    def announce(self, results: list[CaseResult]) -> None:
        if self.on_results is not None:
            self.on_results(results)


@dataclass
class WorkerOutcome:
    """What one worker process did before it ended."""

    results: dict[str, list[CaseResult]] = field(default_factory=dict)
    ready_info: dict[str, Any] | None = None
    setup_error: str | None = None
    crashed_case: str | None = None
    crash_detail: str = ""
    retired: bool = False
    finished: bool = False
    interrupted: str | None = None  # the case in flight when the run was stopped ("" if none)
    log: Path | None = None


def _log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    tail = [line for line in text.splitlines() if line.strip()][-lines:]
    return "\n".join(tail)


def _exit_description(code: int | None) -> str:
    if code is None:
        return "killed after the timeout"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with status {code}"


class _EventReader:
    """JSON lines from the worker's events pipe, with a deadline per wait."""

    def __init__(self, fd: int):
        self.fd = fd
        self.buffer = b""
        self.closed = False

    def next(self, timeout: float) -> dict[str, Any] | None:
        """The next event, None at end of stream; raises TimeoutError when the deadline passes."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            if self.closed:
                return None
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            ready, _, _ = select.select([self.fd], [], [], min(left, 1.0))
            if ready:
                chunk = os.read(self.fd, 65536)
                if not chunk:
                    self.closed = True
                self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        try:
            return json.loads(line)
        except json.JSONDecodeError:
            return {"event": "garbage", "line": line.decode(errors="replace")}


def run_worker_once(cases: Sequence[Case], spec: WorkerSpec, gpu: str | None, attempt: int) -> WorkerOutcome:
    """Start one worker on `cases`, follow its events until it ends, and say what happened."""
    tag = f"gpu{gpu if gpu is not None else '-'}-{attempt}"
    spec.log_dir.mkdir(parents=True, exist_ok=True)
    cases_file = spec.log_dir / f"cases-{tag}.json"
    context_file = spec.log_dir / f"context-{tag}.json"
    cases_file.write_text(json.dumps([case.to_json() for case in cases]))
    context_file.write_text(json.dumps(spec.context.to_json()))
    log_path = spec.log_dir / f"worker-{tag}.log"
    env = dict(spec.env)
    if gpu is not None:
        env["CUDA_VISIBLE_DEVICES"] = gpu
    read_fd, write_fd = os.pipe()
    outcome = WorkerOutcome(log=log_path)
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [spec.python, "-m", spec.module, "--plugin", str(spec.plugin), "--context", str(context_file),
             "--cases", str(cases_file), "--events-fd", str(write_fd)],
            env=env, cwd=spec.cwd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            pass_fds=(write_fd,), start_new_session=True,
        )
    spec.live.add(process)
    os.close(write_fd)
    reader = _EventReader(read_fd)
    current: str | None = None
    timed_out = False
    try:
        while True:
            timeout = spec.case_timeout if current else spec.setup_timeout
            try:
                event = reader.next(timeout)
            except TimeoutError:
                timed_out = True
                break
            if event is None:
                break
            kind = event.get("event")
            if kind == "ready":
                outcome.ready_info = event.get("info", {})
            elif kind == "setup_failed":
                outcome.setup_error = event.get("error", "setup failed")
            elif kind == "start":
                current = event["case"]
            elif kind == "result":
                outcome.results[event["case"]] = [CaseResult.from_json(r) for r in event["results"]]
                spec.announce(outcome.results[event["case"]])
                current = None
            elif kind == "retire":
                outcome.retired = True
            elif kind == "done":
                outcome.finished = True
    finally:
        os.close(read_fd)
        if timed_out:
            _kill_group(process)
        try:
            code = process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            code = process.wait()
        spec.live.discard(process)
    if spec.stop.is_set():
        outcome.interrupted = current or ""
    elif current is not None:
        outcome.crashed_case = current
        how = f"timed out after {spec.case_timeout:.0f} s and was killed" if timed_out else _exit_description(code)
        outcome.crash_detail = f"worker {how} while running this case"
    elif timed_out:
        outcome.setup_error = f"worker did not get ready within {spec.setup_timeout:.0f} s"
    elif not outcome.finished and not outcome.retired and outcome.setup_error is None:
        if outcome.ready_info is None:
            outcome.setup_error = f"worker {_exit_description(code)} before it was ready"
    tail = _log_tail(log_path)
    if tail and outcome.crashed_case:
        outcome.crash_detail += f"; log tail: {tail}"
    if tail and outcome.setup_error and "log tail" not in outcome.setup_error:
        outcome.setup_error += f"; log tail: {tail}"
    return outcome


def _kill_group(process: subprocess.Popen) -> None:
    """Kill the worker and whatever it started: it runs in a process group of its own."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


@dataclass
class SlotReport:
    """All that the worker processes of one GPU did, in order."""

    gpu: str | None
    results: dict[str, list[CaseResult]] = field(default_factory=dict)
    workers: list[WorkerOutcome] = field(default_factory=list)


def run_on_slot(
    cases: Sequence[Case], spec: WorkerSpec, gpu: str | None,
    runner: Callable[[Sequence[Case], WorkerSpec, str | None, int], WorkerOutcome] = run_worker_once,
) -> SlotReport:
    """Run `cases` on one GPU, starting a fresh worker after each crash until all have a verdict."""
    report = SlotReport(gpu=gpu)
    remaining = list(cases)
    attempt = 0
    while remaining:
        attempt += 1
        outcome = runner(remaining, spec, gpu, attempt)
        report.workers.append(outcome)
        report.results.update(outcome.results)
        if outcome.interrupted is not None or spec.stop.is_set():
            for case in remaining:
                if case.id not in report.results:
                    why = "interrupted while running" if case.id == outcome.interrupted else "not run: interrupted"
                    report.results[case.id] = [CaseResult(suite=case.suite, name=case.name, status=Status.ERROR,
                                                          detail=why)]
            break
        if outcome.crashed_case:
            crashed = next(c for c in remaining if c.id == outcome.crashed_case)
            report.results[crashed.id] = [CaseResult(
                suite=crashed.suite, name=crashed.name, status=Status.CRASH, detail=outcome.crash_detail,
                info={"worker_log": str(outcome.log)},
            )]
            spec.announce(report.results[crashed.id])
        left = [c for c in remaining if c.id not in report.results]
        if outcome.setup_error or (not outcome.crashed_case and not outcome.retired and len(left) == len(remaining)):
            # Nothing more will run in a process like this one: say why for every case left.
            why = outcome.setup_error or "worker ended without running its cases"
            for case in left:
                report.results[case.id] = [CaseResult(
                    suite=case.suite, name=case.name, status=Status.ERROR, detail=f"not run: {why}",
                )]
                spec.announce(report.results[case.id])
            left = []
        remaining = left
    return report


@dataclass
class RunResults:
    results: list[CaseResult]  # in case order
    slots: list[SlotReport]  # what each GPU's workers did
    interrupted: bool = False  # stopped early (Ctrl-C, SIGTERM): the cases not run say so


def run_cases(cases: Sequence[Case], spec: WorkerSpec, gpus: Sequence[str | None]) -> RunResults:
    """Every case's results and what each GPU's workers did.

    One thread per GPU follows that GPU's workers; the threads only wait on pipes and processes.
    When the parent is interrupted, the workers are killed and the results so far are returned.
    """
    slots = [block for block in split_contiguous(cases, max(1, len(gpus)))]
    reports: list[SlotReport | None] = [None] * len(slots)

    finished = [threading.Event() for _ in slots]

    def work(i: int) -> None:
        try:
            reports[i] = run_on_slot(slots[i], spec, gpus[i] if gpus else None)
        finally:
            finished[i].set()

    # Waiting on events, not Thread.join: a join interrupted by Ctrl-C marks a still-running
    # thread as stopped (CPython's bpo-45274 handling), and its results would be lost.
    for i, block in enumerate(slots):
        if block:
            threading.Thread(target=work, args=(i,), daemon=True).start()
        else:
            finished[i].set()
    interrupted = False
    try:
        for event in finished:
            while not event.wait(0.5):
                pass
    except KeyboardInterrupt:
        # Stopped (Ctrl-C, SIGTERM): workers run in sessions of their own and would outlive us.
        interrupted = True
        spec.stop.set()
        for process in list(spec.live):
            _kill_group(process)
        for event in finished:
            event.wait(120)
    done = [r for r in reports if r is not None]
    merged: dict[str, list[CaseResult]] = {}
    for report in done:
        merged.update(report.results)
    ordered = [result for case in cases for result in merged.get(case.id, [
        CaseResult(suite=case.suite, name=case.name, status=Status.ERROR, detail="not run: interrupted")])]
    return RunResults(ordered, done, interrupted)

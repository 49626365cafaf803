"""The long-lived process that runs validation cases, one after another, like a user's program.

Compiled kernels stay in this process from one case to the next, as they would in an application.
Before each case the worker writes `start` to the events pipe and flushes, so when the process
dies (a segfault, a CUDA illegal address) the parent knows exactly which case killed it. The
events pipe is a file descriptor of its own: the code under test may print anything it likes on
stdout and stderr, which the parent only keeps as a log. A session that reports itself unhealthy
after a case (a sticky CUDA error) retires the process; the parent starts a fresh one.

    python -m stacker.validation_worker --plugin DIR --context FILE --cases FILE --events-fd N
"""

from __future__ import annotations

import argparse
import json
import os
import time
import traceback
from pathlib import Path
from typing import Any, TextIO

from stacker.validation_model import Case, CaseResult, Status
from stacker.validation_plugin import RunContext, load_validation_plugin


class EventWriter:
    """JSON lines on the events pipe, flushed one by one (the parent may be the only witness)."""

    def __init__(self, stream: TextIO):
        self.stream = stream

    def emit(self, event: str, **fields: Any) -> None:
        self.stream.write(json.dumps({"event": event, **fields}) + "\n")
        self.stream.flush()


def _error_result(case: Case, exc: BaseException, seconds: float) -> CaseResult:
    first = (str(exc).strip().splitlines() or [""])[0]
    return CaseResult(
        suite=case.suite, name=case.name, status=Status.ERROR,
        detail=f"{type(exc).__name__}: {first}"[:1000], seconds=seconds,
        info={"traceback": traceback.format_exc()[-4000:]},
    )


def run_worker(plugin_dir: Path, context: RunContext, cases: list[Case], events: EventWriter) -> None:
    try:
        plugin = load_validation_plugin(plugin_dir)
        session = plugin.open_session(context)
    except BaseException as exc:  # noqa: BLE001 — whatever happens, the parent must hear of it
        events.emit("setup_failed", error=" ".join(traceback.format_exception_only(type(exc), exc)).strip(),
                    traceback=traceback.format_exc()[-4000:])
        return
    info = session.info() if hasattr(session, "info") else {}
    events.emit("ready", info=info, pid=os.getpid())
    for case in cases:
        events.emit("start", case=case.id)
        began = time.perf_counter()
        try:
            results = list(session.run(case))
        except Exception as exc:  # noqa: BLE001 — a case's exception is that case's verdict
            results = [_error_result(case, exc, time.perf_counter() - began)]
        elapsed = time.perf_counter() - began
        for result in results:
            if not result.seconds:
                result.seconds = elapsed / max(1, len(results))
        events.emit("result", case=case.id, results=[r.to_json() for r in results])
        # A CUDA fault poisons the whole context: every later case would fail with it. The
        # session says so, and the parent goes on with a fresh process.
        if hasattr(session, "healthy") and not session.healthy():
            events.emit("retire", reason=f"process unusable after {case.id}")
            return
    if hasattr(session, "close"):
        session.close()
    events.emit("done")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="stacker.validation_worker")
    parser.add_argument("--plugin", required=True, type=Path)
    parser.add_argument("--context", required=True, type=Path)
    parser.add_argument("--cases", required=True, type=Path)
    parser.add_argument("--events-fd", required=True, type=int)
    args = parser.parse_args(argv)
    context = RunContext.from_json(json.loads(args.context.read_text()))
    cases = [Case.from_json(item) for item in json.loads(args.cases.read_text())]
    with os.fdopen(args.events_fd, "w", buffering=1) as stream:
        run_worker(args.plugin, context, cases, EventWriter(stream))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""A validation run as a record (JSON) and as tables a person reads (rich).

The report always names what ran where: the target and its label (which kernels on which chip),
the device as probed, the tree's commit. Tables are views over `CaseResult`s: each case's number
sits next to its tolerance. Suites that report a grid (timings: shape × kernel path) mark each
result with `info["table"] = {"row": ..., "column": ...}` and get a pivot table as well.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from stacker.validation_model import CaseResult, Status

_STYLE = {
    Status.PASS: "green", Status.FAIL: "bold red", Status.ERROR: "bold red", Status.CRASH: "bold magenta",
    Status.SKIP: "yellow", Status.UNAVAILABLE: "yellow",
}


@dataclass
class ValidationReport:
    """Everything a reader needs to trust (or distrust) the numbers."""

    target: str
    label: str
    compile_arch: str
    device: str
    capability: tuple[int, int] | None
    tree: dict[str, Any]
    results: list[CaseResult]
    started: str
    finished: str
    shard: str = "0/1"
    strict: bool = False
    interrupted: bool = False
    environment: dict[str, Any] = field(default_factory=dict)
    workers: list[dict[str, Any]] = field(default_factory=list)

    def counted_as_failure(self, result: CaseResult) -> bool:
        """Failures, errors and crashes; in strict mode also a feature the tree lacks."""
        return result.status.failed or (self.strict and result.status is Status.UNAVAILABLE)

    @property
    def failures(self) -> list[CaseResult]:
        return [r for r in self.results if self.counted_as_failure(r)]

    def counts(self) -> dict[str, int]:
        counter = Counter(r.status.value for r in self.results)
        return {status.value: counter.get(status.value, 0) for status in Status}

    def suites(self) -> list[str]:
        seen: list[str] = []
        for result in self.results:
            if result.suite not in seen:
                seen.append(result.suite)
        return seen

    def to_json(self) -> dict[str, Any]:
        return {
            "target": {"name": self.target, "label": self.label, "compile_arch": self.compile_arch},
            "device": {"name": self.device, "capability": list(self.capability) if self.capability else None},
            "tree": self.tree,
            "started": self.started,
            "finished": self.finished,
            "shard": self.shard,
            "strict": self.strict,
            "interrupted": self.interrupted,
            "environment": self.environment,
            "workers": self.workers,
            "summary": {**self.counts(), "total": len(self.results), "failed": len(self.failures)},
            "results": [r.to_json() for r in self.results],
        }

    def write_json(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=2) + "\n", encoding="utf-8")

    def summary(self) -> str:
        """e.g. "119 results: 84 pass, 7 error, 28 unavailable" (", interrupted" when stopped early)."""
        counts = self.counts()
        parts = [f"{counts[s.value]} {s.value}" for s in Status if counts[s.value]]
        stopped = ", interrupted" if self.interrupted else ""
        return f"{len(self.results)} results: {', '.join(parts) or 'none'}{stopped}"

    def headline(self) -> str:
        tree = self.tree.get("commit", "")[:8] or self.tree.get("path", "")
        return f"{self.label} — device {self.device or '?'} — tree {tree} — {self.summary()}"


def format_number(value: float | None) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    if value == 0:
        return "0"
    magnitude = abs(value)
    if magnitude >= 1000 or magnitude < 1e-3:
        return f"{value:.3g}"
    return f"{value:.4g}"


def suite_table(report: ValidationReport, suite: str) -> Table:
    table = Table(title=f"{suite} — {report.label}", title_justify="left", show_lines=False)
    for column, justify in (("case", "left"), ("status", "left"), ("metric", "left"), ("value", "right"),
                            ("tolerance", "right"), ("seconds", "right"), ("detail", "left")):
        table.add_column(column, justify=justify, overflow="fold")
    for result in report.results:
        if result.suite != suite:
            continue
        shown = "FAIL (strict)" if report.strict and result.status is Status.UNAVAILABLE else result.status.value
        table.add_row(
            result.name, f"[{_STYLE[result.status]}]{shown}[/]", result.metric or "",
            format_number(result.value),
            ("≤ " + format_number(result.tolerance)) if result.tolerance is not None else "",
            f"{result.seconds:.1f}", result.detail,
        )
    return table


def pivot_table(report: ValidationReport, suite: str) -> Table | None:
    """Rows × columns of a suite whose results say where they sit (`info["table"]`)."""
    cells = [(r, r.info["table"]) for r in report.results if r.suite == suite and isinstance(r.info.get("table"), dict)]
    if not cells:
        return None
    rows: list[str] = []
    columns: list[str] = []
    grid: dict[tuple[str, str], str] = {}
    for result, where in cells:
        row, column = str(where.get("row")), str(where.get("column"))
        rows += [row] if row not in rows else []
        columns += [column] if column not in columns else []
        grid[(row, column)] = (format_number(result.value) if result.status is Status.PASS and result.value is not None
                               else result.status.value)
    metric = next((r.metric for r, _ in cells if r.metric), "")
    table = Table(title=f"{suite} ({metric}) — {report.label}", title_justify="left")
    table.add_column("")
    for column in columns:
        table.add_column(column, justify="right")
    for row in rows:
        table.add_row(row, *(grid.get((row, column), "") for column in columns))
    return table


def render(report: ValidationReport, console: Console) -> None:
    for suite in report.suites():
        console.print(suite_table(report, suite))
        pivot = pivot_table(report, suite)
        if pivot is not None:
            console.print(pivot)
    style = "bold red" if report.failures else "bold green"
    console.print(f"[{style}]{report.headline()}[/]")


def report_from_json(data: dict[str, Any]) -> ValidationReport:
    """A report written by `write_json`, read back (to render it again, e.g. as Markdown)."""
    capability = data.get("device", {}).get("capability")
    return ValidationReport(
        target=data["target"]["name"], label=data["target"]["label"], compile_arch=data["target"]["compile_arch"],
        device=data.get("device", {}).get("name", ""), capability=tuple(capability) if capability else None,
        tree=dict(data.get("tree", {})), results=[CaseResult.from_json(r) for r in data.get("results", [])],
        started=data.get("started", ""), finished=data.get("finished", ""), shard=data.get("shard", "0/1"),
        strict=bool(data.get("strict", False)), interrupted=bool(data.get("interrupted", False)),
        environment=dict(data.get("environment", {})), workers=list(data.get("workers", [])),
    )

"""A validation report as Markdown, for committing results next to the code they judge.

Same content as the terminal tables: where it ran (label, device, tree, date, versions), then per
suite every result with its number next to its tolerance, and the pivot of suites that report a
grid (timings).
"""

from __future__ import annotations

from pathlib import Path

from stacker.validation_model import Status
from stacker.validation_report import ValidationReport, format_number


def _cell(text: str, limit: int = 240) -> str:
    text = " ".join(text.split())
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return text.replace("|", "\\|")


def suite_markdown(report: ValidationReport, suite: str) -> str:
    results = [r for r in report.results if r.suite == suite]
    counts = {s.value: sum(1 for r in results if r.status is s) for s in Status}
    summary = ", ".join(f"{n} {status}" for status, n in counts.items() if n)
    lines = [f"### {suite} ({summary})", "", "| case | status | metric | value | tolerance | detail |",
             "|---|---|---|---:|---:|---|"]
    for r in results:
        tolerance = f"≤ {format_number(r.tolerance)}" if r.tolerance is not None else ""
        lines.append(f"| {_cell(r.name)} | {r.status.value} | {r.metric or ''} | {format_number(r.value)} | "
                     f"{tolerance} | {_cell(r.detail)} |")
    grid = [(r, r.info["table"]) for r in results if isinstance(r.info.get("table"), dict)]
    if grid:
        rows = list(dict.fromkeys(str(w["row"]) for _, w in grid))
        columns = list(dict.fromkeys(str(w["column"]) for _, w in grid))
        cells = {(str(w["row"]), str(w["column"])): (format_number(r.value) if r.status is Status.PASS
                                                     else r.status.value) for r, w in grid}
        metric = next((r.metric for r, _ in grid if r.metric), "")
        lines += ["", f"{metric}:", "", "| shape | " + " | ".join(columns) + " |",
                  "|---|" + "---:|" * len(columns)]
        lines += [f"| {row} | " + " | ".join(cells.get((row, c), "") for c in columns) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def report_markdown(report: ValidationReport) -> str:
    tree = report.tree.get("commit") or report.tree.get("path", "")
    head = [
        f"## {report.label}: {report.device or 'unknown device'}",
        "",
        f"- tree: `{tree}`" + (f" ({report.tree['ref']})" if report.tree.get("ref") else ""),
        f"- run: {report.started} – {report.finished}, shard {report.shard}"
        + (", strict" if report.strict else "") + (", INTERRUPTED" if report.interrupted else ""),
        f"- {report.summary()}",
    ]
    if report.environment:
        versions = ", ".join(f"{k} {v}" for k, v in report.environment.items())
        head.append(f"- environment: {versions}")
    return "\n".join(head) + "\n\n" + "\n".join(suite_markdown(report, s) for s in report.suites())


def write_markdown(report: ValidationReport, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(report_markdown(report), encoding="utf-8")

"""A compile run written down: JSON for tools, JUnit XML for CI, one line for a failed gate.

Views over the result objects only; nothing here decides what failed.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from stacker.compile_compare import FAILING_FLAGS, RESOURCE_FLAGS, Comparison
from stacker.compile_plan import CompilePlan
from stacker.compile_result import FAILED, SKIPPED, CompileResult


@dataclass(frozen=True)
class CompileRun:
    """One `stacker kernels` run: what was compiled, from where, and what came out."""

    plan: CompilePlan
    source: str  # "bundle/x (1234abcd)" or a directory
    commit: str | None
    results: tuple[CompileResult, ...]
    wall_seconds: float
    comparison: Comparison | None = None
    fail_on_resource_regression: bool = False

    @property
    def failed(self) -> list[CompileResult]:
        return [r for r in self.results if r.status == FAILED]

    @property
    def regressions(self) -> list:
        """Compare flags that fail the run: always broke/lost, resources only when asked."""
        if self.comparison is None:
            return []
        flags = FAILING_FLAGS + (RESOURCE_FLAGS if self.fail_on_resource_regression else ())
        return self.comparison.flagged(flags)

    @property
    def passed(self) -> bool:
        return not self.failed and not self.regressions

    def targets(self) -> list[str]:
        return sorted({r.target for r in self.results})


def identical_cubins(results: Sequence[CompileResult]) -> dict[str, str]:
    """{variant: the earlier variant whose cubins are byte-identical}.

    Two variants meant to differ (block-sparse vs dense, a kernel path vs a fallback) that give the
    same cubins show that the tree ignored what made them different.
    """
    first: dict[tuple[str, ...], str] = {}
    same: dict[str, str] = {}
    for result in results:
        digests = result.cubin_digests
        if not (result.ok and digests):
            continue
        if digests in first:
            same[result.id] = first[digests]
        else:
            first[digests] = result.id
    return same


def to_json(run: CompileRun) -> dict:
    same = identical_cubins(run.results)
    return {
        "tool": "stacker kernels",
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "gpu": run.plan.gpu,
        "label": run.plan.label,
        "ran_on_gpu": False,
        "note": f"compiled for {', '.join(run.targets())}, not run",
        "source": run.source,
        "commit": run.commit,
        "toolchain": dict(run.plan.toolchain),
        "wall_seconds": round(run.wall_seconds, 3),
        "passed": run.passed,
        "results": [r.to_dict() | {"same_cubins_as": same.get(r.id)} for r in run.results],
        "comparison": run.comparison.to_dict() if run.comparison else None,
    }


def to_markdown(run: CompileRun) -> str:
    """The results table for a document: one row per variant, comparison columns when there is one."""
    same = identical_cubins(run.results)
    changes = {c.id: c for c in run.comparison.changes} if run.comparison else {}
    header = ["variant", "target", "result", "compile s", "registers", "stack B", "spill st/ld B", "smem B"]
    if run.comparison:
        header.append(f"vs {run.comparison.reference}")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in run.results:
        if r.ok:
            result = "ok" + (f" (same cubin as {same[r.id]})" if r.id in same else "")
            cells = [f"{r.compile_seconds:.1f}", str(r.registers), str(r.stack), f"{r.spill_stores}/{r.spill_loads}",
                     str(r.shared)]
        else:
            result = f"{r.status}: {r.error}".replace("|", "\\|")
            cells = ["-"] * 5
        row = [f"`{r.id}`", r.target, result, *cells]
        if run.comparison:
            change = changes.get(r.id)
            notes = [] if change is None else [*(f"**{f}**" for f in change.flags), *change.notes]
            deltas = [] if change is None else [
                f"{label} {change.delta(name):+d}" for name, label in
                (("registers", "regs"), ("stack", "stack"), ("spill_stores", "spill st"), ("spill_loads", "spill ld"))
                if change.delta(name)]
            if change is not None and change.before is not None and not change.before.ok and not notes:
                notes.append(f"ref {change.before.status}")
            row.append(", ".join(notes + deltas) or "same")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def write_markdown(run: CompileRun, path: Path) -> None:
    path.write_text(to_markdown(run), encoding="utf-8")


def write_json(run: CompileRun, path: Path) -> None:
    path.write_text(json.dumps(to_json(run), indent=2) + "\n", encoding="utf-8")


def to_junit(run: CompileRun) -> ET.ElementTree:
    changes = {c.id: c for c in run.comparison.changes} if run.comparison else {}
    failing = {c.id for c in run.regressions}
    suite = ET.Element("testsuite", {
        "name": "stacker.kernels",
        "tests": str(len(run.results)),
        "failures": str(sum(1 for r in run.results if r.status == FAILED or r.id in failing)),
        "skipped": str(sum(1 for r in run.results if r.status == SKIPPED)),
        "time": f"{run.wall_seconds:.3f}",
    })
    for result in run.results:
        case = ET.SubElement(suite, "testcase", {
            "classname": f"kernels.{result.target}", "name": result.id, "time": f"{result.compile_seconds:.3f}",
        })
        change = changes.get(result.id)
        if result.status == FAILED:
            ET.SubElement(case, "failure", {"message": result.error or "compile failed"}).text = _log_text(result)
        elif result.id in failing and change is not None:
            ET.SubElement(case, "failure", {"message": f"regression vs {run.comparison.reference}: "
                                                       f"{', '.join(change.flags)}"})
        elif result.status == SKIPPED:
            ET.SubElement(case, "skipped", {"message": result.error or "skipped"})
        out = [f"compiled for {result.target}, not run"]
        if result.ok:
            out.append(f"registers {result.registers}, stack {result.stack}, spill stores {result.spill_stores} B, "
                       f"spill loads {result.spill_loads} B, shared {result.shared} B")
        if change is not None and (change.flags or change.notes):
            out.append(f"vs {run.comparison.reference}: {', '.join(change.flags + change.notes)}")
        ET.SubElement(case, "system-out").text = "\n".join(out)
    tree = ET.ElementTree(ET.Element("testsuites"))
    tree.getroot().append(suite)
    return tree


def write_junit(run: CompileRun, path: Path) -> None:
    tree = to_junit(run)
    ET.indent(tree)
    tree.write(path, encoding="utf-8", xml_declaration=True)


def _log_text(result: CompileResult) -> str:
    if result.log and Path(result.log).is_file():
        return Path(result.log).read_text(encoding="utf-8", errors="replace")[-20000:]
    return result.error or ""


FAILURE_LINE = re.compile(r"kernel variant (?P<id>\S+) (failed to compile for (?P<target>\S+):|regressed vs )")


def failed_variant(line: str) -> str | None:
    """The variant id in a `failure_line` (e.g. the last line a failed verify command printed), so a
    caller can bisect just that variant with `stacker.compile_matrix.compile_variant_at`."""
    match = FAILURE_LINE.search(line)
    return match.group("id") if match else None


def failure_line(run: CompileRun) -> str | None:
    """The one line a stopped gate prints: the first failing variant, its target and the DSL's error."""
    parts: Sequence = run.failed
    if parts:
        first = parts[0]
        more = f" (+{len(parts) - 1} more failed)" if len(parts) > 1 else ""
        return f"kernel variant {first.id} failed to compile for {first.target}: {first.error}{more}"
    if run.regressions:
        first = run.regressions[0]
        more = f" (+{len(run.regressions) - 1} more)" if len(run.regressions) > 1 else ""
        return f"kernel variant {first.id} regressed vs {run.comparison.reference}: {', '.join(first.flags)}{more}"
    return None

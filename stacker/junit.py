"""JUnit XML for CI systems: one <testsuite> per validation suite, one <testcase> per result.

Mapping: fail → <failure>, error and crash → <error> (type says which), skip and unavailable →
<skipped> with the reason; in strict mode an unavailable feature is a <failure>. The run's target
label, device and tree commit are properties of every suite, so a CI page says where it ran.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from stacker.validation_model import CaseResult, Status
from stacker.validation_report import ValidationReport, format_number


def _message(result: CaseResult) -> str:
    judged = ""
    if result.value is not None:
        judged = f"{result.metric or 'value'} = {format_number(result.value)}"
        if result.tolerance is not None:
            judged += f" (tolerance {format_number(result.tolerance)})"
    return "; ".join(part for part in (judged, result.detail) if part)


def junit_tree(report: ValidationReport) -> ET.ElementTree:
    root = ET.Element("testsuites", name="stacker validate")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    total_time = 0.0
    for suite in report.suites():
        results = [r for r in report.results if r.suite == suite]
        element = ET.SubElement(root, "testsuite", name=suite)
        properties = ET.SubElement(element, "properties")
        for name, value in (("target", report.target), ("label", report.label), ("device", report.device),
                            ("tree", str(report.tree.get("commit") or report.tree.get("path", ""))),
                            ("shard", report.shard)):
            ET.SubElement(properties, "property", name=name, value=value)
        counts = {"tests": len(results), "failures": 0, "errors": 0, "skipped": 0}
        suite_time = 0.0
        for result in results:
            case = ET.SubElement(element, "testcase", classname=suite, name=result.name,
                                 time=f"{result.seconds:.3f}")
            suite_time += result.seconds
            message = _message(result)
            if result.status is Status.FAIL or (report.strict and result.status is Status.UNAVAILABLE):
                counts["failures"] += 1
                ET.SubElement(case, "failure", message=message, type=result.status.value).text = message
            elif result.status in (Status.ERROR, Status.CRASH):
                counts["errors"] += 1
                node = ET.SubElement(case, "error", message=message, type=result.status.value)
                node.text = str(result.info.get("traceback", message))
            elif result.status in (Status.SKIP, Status.UNAVAILABLE):
                counts["skipped"] += 1
                ET.SubElement(case, "skipped", message=message, type=result.status.value)
        for key, value in counts.items():
            element.set(key, str(value))
            totals[key] += value
        element.set("time", f"{suite_time:.3f}")
        total_time += suite_time
    for key, value in totals.items():
        root.set(key, str(value))
    root.set("time", f"{total_time:.3f}")
    return ET.ElementTree(root)


def write_junit(report: ValidationReport, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tree = junit_tree(report)
    ET.indent(tree)
    tree.write(path, encoding="utf-8", xml_declaration=True)

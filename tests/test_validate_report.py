"""Reports: JSON round trip, JUnit for CI, and tables that put each number next to its tolerance."""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET

from rich.console import Console

from stacker.junit import junit_tree, write_junit
from stacker.validation_model import CaseResult, Status, judge_at_most
from stacker.validation_report import ValidationReport, render


def make_report(strict: bool = False) -> ValidationReport:
    results = [
        CaseResult("plain", "bf16-causal", Status.PASS, "max_diff", 0.0078, 0.015625, "kernel Sm120", 1.5),
        CaseResult("plain", "fp16-causal", Status.FAIL, "max_diff", 0.01, 0.001953125, "too far", 1.0),
        CaseResult("paged", "ps16", Status.UNAVAILABLE, detail="not available in this tree: refused"),
        CaseResult("paged", "ps32", Status.CRASH, detail="worker killed by SIGSEGV"),
        CaseResult("upstream", "t[x]", Status.SKIP, detail="SM100 only"),
        CaseResult("timing", "s1 / A", Status.PASS, "TFLOP/s", 123.4, info={"table": {"row": "s1", "column": "A"}}),
        CaseResult("timing", "s1 / B", Status.UNAVAILABLE, info={"table": {"row": "s1", "column": "B"}}),
    ]
    return ValidationReport(target="sm90a", label="SM120 paths on sm_90a", compile_arch="sm_90a",
                            device="NVIDIA H100 80GB HBM3", capability=(9, 0),
                            tree={"commit": "727eed3c5b117f2b2a51d425bc914ea85383b437", "ref": "main"},
                            results=results, started="2026-11-24T00:00:00Z", finished="2026-11-24T00:01:00Z",
                            strict=strict)


def test_nan_never_passes():
    assert judge_at_most(math.nan, 1.0) is Status.FAIL
    assert judge_at_most(1.0, 1.0) is Status.PASS
    assert judge_at_most(1.0000001, 1.0) is Status.FAIL


def test_failures_and_strict_mode():
    assert [r.name for r in make_report().failures] == ["fp16-causal", "ps32"]
    assert [r.name for r in make_report(strict=True).failures] == ["fp16-causal", "ps16", "ps32", "s1 / B"]


def test_json_round_trip(tmp_path):
    report = make_report()
    report.write_json(tmp_path / "r.json")
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["target"]["label"] == "SM120 paths on sm_90a"
    assert data["summary"]["pass"] == 2 and data["summary"]["failed"] == 2 and data["summary"]["total"] == 7
    back = [CaseResult.from_json(r) for r in data["results"]]
    assert back == report.results


def test_json_keeps_nan_readable():
    data = CaseResult("s", "c", Status.FAIL, "max_diff", math.nan, 0.1).to_json()
    assert data["value"] == "nan"
    assert math.isnan(CaseResult.from_json(data).value)


def test_junit_counts_and_elements(tmp_path):
    root = junit_tree(make_report()).getroot()
    assert (root.get("tests"), root.get("failures"), root.get("errors"), root.get("skipped")) == ("7", "1", "1", "3")
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert list(suites) == ["plain", "paged", "upstream", "timing"]
    failure = suites["plain"].find("testcase[@name='fp16-causal']/failure")
    assert "max_diff = 0.01 (tolerance 0.001953)" in failure.get("message")
    assert suites["paged"].find("testcase[@name='ps32']/error").get("type") == "crash"
    assert suites["paged"].find("testcase[@name='ps16']/skipped") is not None
    props = {p.get("name"): p.get("value") for p in suites["plain"].find("properties")}
    assert props["label"] == "SM120 paths on sm_90a" and props["tree"].startswith("727eed3c")
    write_junit(make_report(), tmp_path / "j.xml")
    assert ET.parse(tmp_path / "j.xml").getroot().tag == "testsuites"


def test_junit_strict_turns_unavailable_into_failure():
    root = junit_tree(make_report(strict=True)).getroot()
    assert root.find("testsuite[@name='paged']/testcase[@name='ps16']/failure") is not None


def test_table_shows_value_next_to_tolerance_and_the_label():
    console = Console(record=True, width=200)
    render(make_report(), console)
    text = console.export_text()
    line = next(line for line in text.splitlines() if "bf16-causal" in line)
    assert "0.0078" in line and "≤ 0.01562" in line
    assert "SM120 paths on sm_90a" in text
    assert "timing (TFLOP/s)" in text  # the pivot table
    assert "123.4" in text
    assert "2 pass, 1 fail, 1 crash, 1 skip, 2 unavailable" in text


def test_markdown_has_where_and_every_number_with_its_tolerance(tmp_path):
    from stacker.validation_markdown import report_markdown, write_markdown
    from stacker.validation_report import report_from_json

    report = make_report()
    text = report_markdown(report)
    assert text.startswith("## SM120 paths on sm_90a: NVIDIA H100 80GB HBM3")
    assert "`727eed3c5b117f2b2a51d425bc914ea85383b437` (main)" in text
    assert "| bf16-causal | pass | max_diff | 0.0078 | ≤ 0.01562 | kernel Sm120 |" in text
    assert "| s1 | 123.4 | unavailable |" in text  # the timing grid
    report.write_json(tmp_path / "r.json")
    again = report_from_json(json.loads((tmp_path / "r.json").read_text()))
    assert again.results == report.results and again.capability == (9, 0)
    write_markdown(again, tmp_path / "r.md")
    assert (tmp_path / "r.md").read_text() == text

"""`stacker validate` end to end with a fake validation package: exit codes, files, one-line errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from stacker.gpu_device import Gpu

FAKE = Path(__file__).parent / "fixtures" / "crashy_validate"
H100 = Gpu("0", "NVIDIA H100 80GB HBM3", (9, 0))


@pytest.fixture
def stack(tmp_path, monkeypatch) -> Path:
    shutil.copytree(FAKE, tmp_path / "checks")
    (tmp_path / "tree").mkdir()
    path = tmp_path / "stack.yaml"
    path.write_text("name: fake\nupstream: /nowhere\nprs: [1]\nvalidate: checks\n")
    monkeypatch.setattr("stacker.validation.probe_gpus", lambda: [H100])
    return path


def args(stack: Path, *extra: str) -> list[str]:
    return ["validate", "--stack", str(stack), "--tree", str(stack.parent / "tree"), "--tree-commit", "abc123", *extra]


def test_failures_exit_1_and_write_reports(stack, run_cli, tmp_path):
    code, out, err = run_cli(*args(stack, "--gpu", "sm90a", "-o", "actions=pass,segv,fail",
                                   "--json", str(tmp_path / "r.json"), "--junit", str(tmp_path / "j.xml")))
    assert code == 1
    assert "2 of 4 validation results failed (fake paths on sm_90a)" in err
    assert "crashy::c1-segv" in out and "SIGSEGV" in out
    data = json.loads((tmp_path / "r.json").read_text())
    assert [r["status"] for r in data["results"]] == ["pass", "crash", "fail", "pass"]  # other::only too
    assert data["tree"]["commit"] == "abc123" and data["device"]["name"] == "NVIDIA H100 80GB HBM3"
    assert data["environment"]["fake"] is True
    assert "<testsuites" in (tmp_path / "j.xml").read_text()


def test_all_pass_exits_0(stack, run_cli):
    code, out, _ = run_cli(*args(stack, "--gpu", "auto", "--suite", "crashy", "-o", "actions=pass,pass"))
    assert code == 0
    assert "2 results: 2 pass" in out


def test_device_mismatch_is_one_line(stack, run_cli):
    code, out, err = run_cli(*args(stack, "--gpu", "sm121a"))
    assert code == 2
    assert err.strip().count("\n") == 0
    assert "device is sm_90 (NVIDIA H100 80GB HBM3)" in err and "run --gpu sm90a (fake paths on sm_90a)" in err


def test_unknown_suite_and_bad_option(stack, run_cli):
    code, _, err = run_cli(*args(stack, "--gpu", "sm90a", "--suite", "nope"))
    assert code == 2 and "unknown suite 'nope' (known: crashy, other)" in err
    code, _, err = run_cli(*args(stack, "--gpu", "sm90a", "-o", "novalue"))
    assert code == 2 and "expected KEY=VALUE" in err


def test_list_needs_no_gpu_for_a_named_target(stack, run_cli, monkeypatch):
    monkeypatch.setattr("stacker.validation.probe_gpus", lambda: [])
    code, out, _ = run_cli(*args(stack, "--gpu", "sm121a", "--list", "-o", "actions=pass,fail,pass", "--shard", "1/2"))
    assert code == 0
    assert "2 cases for fake paths on sm_121a (shard 1/2)" in out
    assert "crashy::c2-pass" in out and "other::only" in out and "crashy::c1-fail" not in out


def test_strict_counts_unavailable(stack, run_cli):
    code, out, _ = run_cli(*args(stack, "--gpu", "sm90a", "--suite", "crashy", "-o", "actions=pass,unavailable"))
    assert code == 0 and "not available in this tree: planned" in out
    code, out, err = run_cli(*args(stack, "--gpu", "sm90a", "--suite", "crashy", "-o", "actions=pass,unavailable",
                                   "--strict"))
    assert code == 1 and "FAIL (strict)" in out


def test_missing_tree_and_missing_work_repo(stack, run_cli):
    code, _, err = run_cli("validate", "--stack", str(stack), "--gpu", "sm90a", "--tree", str(stack.parent / "nope"))
    assert code == 2 and "no such directory" in err
    code, _, err = run_cli("validate", "--stack", str(stack), "--gpu", "sm90a")
    assert code == 2 and "no work repository" in err


def test_a_package_without_the_contract_is_a_config_error(stack, run_cli):
    (stack.parent / "checks" / "__init__.py").write_text("def suites():\n    return []\n")
    code, _, err = run_cli(*args(stack, "--gpu", "sm90a"))
    assert code == 2 and "lacks targets, cases, open_session" in err


def test_case_patterns_select_cases(stack, run_cli):
    code, out, _ = run_cli(*args(stack, "--gpu", "sm90a", "--list", "-o", "actions=pass,fail,segv", "--case", "*-fail",
                                 "--case", "other::*"))
    assert code == 0 and "2 cases" in out and "crashy::c1-fail" in out and "other::only" in out
    code, _, err = run_cli(*args(stack, "--gpu", "sm90a", "--list", "--case", "nothing*"))
    assert code == 2 and "matches no case" in err


def test_render_a_saved_report(stack, run_cli, tmp_path):
    run_cli(*args(stack, "--gpu", "sm90a", "-o", "actions=pass,fail", "--json", str(tmp_path / "r.json")))
    code, out, _ = run_cli("validate", "--render", str(tmp_path / "r.json"), "--markdown", str(tmp_path / "r.md"))
    assert code == 0 and "crashy — fake paths on sm_90a" in out
    assert "| c1-fail | fail | max_diff | 0.5 | ≤ 0.01 |" in (tmp_path / "r.md").read_text()
    code, _, err = run_cli("validate", "--render", str(tmp_path / "nope.json"))
    assert code == 2 and "no such file" in err


def test_default_tree_is_the_bundle_branch_of_the_work_repository(stack, run_cli, tmp_path):
    import subprocess

    work = tmp_path / "src"
    work.mkdir()
    (work / "marker.txt").write_text("bundle\n")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(work)]
    subprocess.run([*git[:5], "init", "-q", "-b", "bundle/fake", str(work)], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "bundle"], check=True)
    commit = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(tmp_path / ".stacker" / "repo.git")], check=True)
    stack.write_text(stack.read_text() + "branch: bundle/fake\n")
    code, out, err = run_cli("validate", "--stack", str(stack), "--gpu", "sm90a", "--suite", "crashy", "-o", "actions=tree",
                             "--json", str(tmp_path / "r.json"))
    assert code == 0, err
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["tree"]["commit"] == commit and data["tree"]["ref"] == "bundle/fake"
    assert "files=['marker.txt'] first_on_path=True" in data["results"][0]["detail"]
    code, _, err = run_cli("validate", "--stack", str(stack), "--gpu", "sm90a", "--ref", "nope")
    assert code == 2 and "no commit named 'nope'" in err

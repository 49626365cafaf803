"""The keep-alive workflow: GitHub's schema, zizmor's audits (offline), and the rules it must keep."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

WORKFLOW = Path(__file__).resolve().parent.parent / ".github" / "workflows" / "bundle.yml"
_PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")


def _tool(name: str) -> str:
    """The linter from the test extra, next to this Python or on PATH; skip cleanly without it."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed (it is in pyproject's test extra: pip install -e '.[test]')")
    return found


def _workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def _triggers(workflow: dict) -> dict:
    return workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` key as True


def test_workflow_matches_githubs_schema() -> None:
    done = subprocess.run([_tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_zizmor_finds_nothing_offline() -> None:
    done = subprocess.run([_tool("zizmor"), "--offline", "--no-progress", str(WORKFLOW)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_triggers_and_one_run_at_a_time() -> None:
    workflow = _workflow()
    assert set(_triggers(workflow)) == {"schedule", "workflow_dispatch", "repository_dispatch"}
    assert "pull_request_target" not in WORKFLOW.read_text()
    assert workflow["concurrency"]["group"] and workflow["concurrency"]["cancel-in-progress"] is False


def test_least_privilege_permissions() -> None:
    workflow = _workflow()
    assert workflow["permissions"] == {}
    jobs = workflow["jobs"]
    assert jobs["bundle"]["permissions"] == {"contents": "write"}
    assert jobs["validate"]["permissions"] == {"contents": "read"}


def test_every_action_is_pinned_to_a_full_commit_sha() -> None:
    uses = [step["uses"] for job in _workflow()["jobs"].values() for step in job["steps"] if "uses" in step]
    assert uses and all(_PINNED.match(u) for u in uses), uses


def test_no_expression_is_expanded_inside_a_script() -> None:
    """Inputs reach shell scripts through env, never as `${{ }}` pasted into the script (template injection)."""
    for job in _workflow()["jobs"].values():
        for step in job["steps"]:
            assert "${{" not in step.get("run", ""), step.get("name")


def test_validation_job_runs_on_sm120_hardware_without_secrets() -> None:
    job = _workflow()["jobs"]["validate"]
    assert "self-hosted" in job["runs-on"] and "sm120" in job["runs-on"]
    text = yaml.safe_dump(job)
    assert "secrets." not in text and "github.token" not in text
    assert all(step.get("with", {}).get("persist-credentials") is False
               for step in job["steps"] if step.get("uses", "").startswith("actions/checkout@"))
    assert any("stacker\" validate --gpu sm121a" in step.get("run", "") and "--junit" in step["run"]
               for step in job["steps"])


def test_publishing_goes_through_the_verified_build_and_the_leased_push() -> None:
    steps = _workflow()["jobs"]["bundle"]["steps"]
    runs = [step.get("run", "") for step in steps]
    build = next(i for i, r in enumerate(runs) if "stacker build --advance" in r)
    push = next(i for i, r in enumerate(runs) if "stacker push" in r)
    assert build < push
    assert not any("--skip-verify" in r or "--force " in r or "push --force" in r for r in runs)
    assert steps[push]["if"] == "steps.build.outputs.published == 'true'"

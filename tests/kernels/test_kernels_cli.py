"""`stacker kernels` end to end on a fake plugin: the real runner, cache, comparison and reports,
with a worker that only pretends to compile (no CuTe DSL, no torch)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from stacker.compile_matrix import compile_variant, compile_variant_at
from stacker.compile_result import FAILED, OK
from stacker.errors import ConfigError
from tests.gitrepos import git


def test_all_ok_exits_0_and_says_not_run(fake_stack, run_cli, tmp_path: Path):
    fake_stack.commit({"fwd-a": {"regs": 255, "stack": 208, "spill_st": 312, "spill_ld": 288}})
    code, out, err = run_cli(*fake_stack.args("--ref", "main", "-j", "2", "--workdir", str(tmp_path / "wd")))
    assert code == 0, err
    assert "compiled for sm_121a, not run" in out
    assert "3 ok, 0 failed, 0 skipped" in out
    assert "312/288" in out and "255" in out
    assert "[3/3]" in err  # progress lines when stderr is not a terminal


def test_failure_exits_1_with_one_line_naming_variant_and_error(fake_stack, run_cli, tmp_path: Path):
    fake_stack.commit({"fwd-b": {"outcome": "fail", "error": "DSLUserCodeError: name 'x' is not defined (f.py:3)"}})
    code, out, err = run_cli(*fake_stack.args("--ref", "main", "--workdir", str(tmp_path / "wd")))
    assert code == 1
    assert err.strip().splitlines()[-1] == (
        "stacker: kernel variant fwd-b failed to compile for sm_121a: DSLUserCodeError: name 'x' is not defined (f.py:3)")
    log = tmp_path / "wd" / "kernels" / "logs" / "fwd-b.log"
    assert "Traceback" in log.read_text()
    assert str(log) in out


def test_absent_feature_is_skipped_not_failed(fake_stack, run_cli, tmp_path: Path):
    fake_stack.commit({"bwd-a": {"outcome": "absent"}})
    code, out, _ = run_cli(*fake_stack.args("--ref", "main", "--workdir", str(tmp_path / "wd")))
    assert code == 0
    assert "2 ok, 0 failed, 1 skipped" in out and "feature absent: no such kernel" in out


@pytest.mark.parametrize("behaviour, message", [
    ({"outcome": "crash"}, "worker died (exit 139): Segmentation fault (core dumped)"),
    ({"arch": "sm_100a"}, "holds code for sm_100a, asked for sm_121a"),
    ({"outcome": "no-cubin"}, "reported success but left no cubin"),
])
def test_broken_workers_fail(fake_stack, run_cli, tmp_path: Path, behaviour, message):
    fake_stack.commit({"fwd-a": behaviour})
    code, _, err = run_cli(*fake_stack.args("--ref", "main", "--only", "fwd-a", "--workdir", str(tmp_path / "wd")))
    assert code == 1 and message in err


def test_timeout_kills_the_worker(fake_stack, run_cli, tmp_path: Path):
    fake_stack.commit({"fwd-a": {"outcome": "hang"}})
    code, _, err = run_cli(*fake_stack.args("--ref", "main", "--only", "fwd-a", "--timeout", "1",
                                            "--workdir", str(tmp_path / "wd")))
    assert code == 1 and "timed out after 1 s" in err


def test_worker_environment_is_scrubbed_and_tree_has_shims(fake_stack, run_cli, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", "secret")
    monkeypatch.setenv("CUTE_DSL_ARCH", "sm_100a")
    fake_stack.commit({})
    code, _, err = run_cli(*fake_stack.args("--ref", "main", "--only", "fwd-a", "--workdir", str(tmp_path / "wd")))
    assert code == 0, err
    [record] = fake_stack.records()
    assert "GITHUB_TOKEN" not in record["env"] and "CUTE_DSL_ARCH" not in record["env"]
    assert {"FAKE_ARCH", "FAKE_DUMP", "PYTHONPATH", "PYTHONPYCACHEPREFIX"} <= set(record["env"])
    assert record["shim"]


def test_second_run_compiles_nothing(fake_stack, run_cli, tmp_path: Path):
    fake_stack.commit({"fwd-a": {"outcome": "absent"}, "fwd-b": {"outcome": "fail"}})
    wd = str(tmp_path / "wd")
    run_cli(*fake_stack.args("--ref", "main", "--workdir", wd))
    assert len(fake_stack.records()) == 3
    code, out, _ = run_cli(*fake_stack.args("--ref", "main", "--workdir", wd))
    assert code == 1
    assert [r["id"] for r in fake_stack.records()[3:]] == ["fwd-b"]  # only the failure is compiled again
    assert "2 from cache" in out
    run_cli(*fake_stack.args("--ref", "main", "--workdir", wd, "--no-cache"))
    assert len(fake_stack.records()) == 3 + 1 + 3


def test_a_change_outside_the_exported_paths_keeps_the_cache(fake_stack, run_cli, tmp_path: Path):
    fake_stack.commit({})
    wd = str(tmp_path / "wd")
    run_cli(*fake_stack.args("--ref", "main", "--workdir", wd))
    fake_stack.repo.commit({"README": "docs only\n"}, "docs")
    _, out, _ = run_cli(*fake_stack.args("--ref", "main", "--workdir", wd))
    assert "3 from cache" in out and len(fake_stack.records()) == 3
    fake_stack.repo.commit({"pkg/mod.py": "changed\n"}, "code")
    _, out, _ = run_cli(*fake_stack.args("--ref", "main", "--workdir", wd))
    assert "from cache" not in out and len(fake_stack.records()) == 6


def test_exported_tree_directory_shares_the_cache_with_its_ref(fake_stack, run_cli, tmp_path: Path):
    fake_stack.commit({"fwd-a": {"regs": 99}})
    wd = str(tmp_path / "wd")
    run_cli(*fake_stack.args("--ref", "main", "--workdir", wd))
    tree = tmp_path / "exported"
    tree.mkdir()
    git(tmp_path, "--git-dir", str(fake_stack.repo.path), "--work-tree", str(tree), "checkout", "main", "--", ".")
    (tree / "pkg" / "__pycache__").mkdir()  # byte-code does not change the tree's identity
    code, out, err = run_cli("kernels", "--stack", str(fake_stack.stack), "--tree", str(tree), "--workdir", wd)
    assert code == 0, err
    assert "3 from cache" in out and len(fake_stack.records()) == 3


def test_compare_flags_and_fail_on_spill_increase(fake_stack, run_cli, tmp_path: Path):
    base = fake_stack.commit({"fwd-a": {"regs": 200}, "fwd-b": {"regs": 255, "spill_st": 8, "spill_ld": 8},
                              "bwd-a": {"outcome": "absent"}}, "base")
    fake_stack.commit({"fwd-a": {"regs": 255, "spill_st": 4, "spill_ld": 4},
                       "fwd-b": {"regs": 255, "spill_st": 8, "spill_ld": 8}, "bwd-a": {}}, "bundle",
                      ref="refs/heads/bundle")
    wd = str(tmp_path / "wd")
    json_path, junit_path = tmp_path / "r.json", tmp_path / "r.xml"
    code, out, err = run_cli(*fake_stack.args("--ref", "bundle", "--compare", base, "--workdir", wd,
                                              "--json", str(json_path), "--junit", str(junit_path)))
    assert code == 0, err
    assert "spills-new" in out and "reg-ceiling" in out and "new" in out
    data = json.loads(json_path.read_text())
    flags = {v["id"]: v["flags"] for v in data["comparison"]["variants"]}
    assert flags == {"fwd-a": ["spills-new", "reg-ceiling"], "fwd-b": [], "bwd-a": []}
    assert {v["id"]: v["notes"] for v in data["comparison"]["variants"]}["bwd-a"] == ["new"]
    assert data["passed"] and data["note"] == "compiled for sm_121a, not run"
    suite = ET.parse(junit_path).getroot().find("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("3", "0", "0")

    markdown = tmp_path / "r.md"
    code, _, err = run_cli(*fake_stack.args("--ref", "bundle", "--compare", base, "--workdir", wd,
                                            "--fail-on-spill-increase", "--junit", str(junit_path),
                                            "--markdown", str(markdown)))
    assert code == 1
    assert err.strip().splitlines()[-1].startswith("stacker: kernel variant fwd-a regressed vs ")
    assert "spills-new, reg-ceiling" in err
    suite = ET.parse(junit_path).getroot().find("testsuite")
    assert suite.get("failures") == "1"
    rows = markdown.read_text().splitlines()
    assert rows[0].endswith(f"| vs {base[:8]} |")
    assert rows[2] == ("| `fwd-a` | sm_121a | ok | 0.2 | 255 | 0 | 4/4 | 1024 | **spills-new**, **reg-ceiling**, "
                       "regs +55, spill st +4, spill ld +4 |")
    assert rows[4].startswith("| `bwd-a` | sm_121a | ok |") and rows[4].endswith("| new |")


def test_compiled_before_fails_now_is_flagged_and_fails(fake_stack, run_cli, tmp_path: Path):
    base = fake_stack.commit({}, "base")
    fake_stack.commit({"fwd-a": {"outcome": "fail"}, "fwd-b": {"outcome": "absent"}}, "bundle", ref="refs/heads/b")
    code, out, err = run_cli(*fake_stack.args("--ref", "b", "--compare", base, "--workdir", str(tmp_path / "wd")))
    assert code == 1
    assert "broke" in out and "lost" in out


def test_junit_and_json_of_a_failure(fake_stack, run_cli, tmp_path: Path):
    fake_stack.commit({"fwd-a": {"outcome": "fail", "error": "E: bad"}, "bwd-a": {"outcome": "absent"}})
    json_path, junit_path = tmp_path / "r.json", tmp_path / "r.xml"
    code, _, _ = run_cli(*fake_stack.args("--ref", "main", "--workdir", str(tmp_path / "wd"),
                                          "--json", str(json_path), "--junit", str(junit_path)))
    assert code == 1
    suite = ET.parse(junit_path).getroot().find("testsuite")
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert cases["fwd-a"].find("failure").get("message") == "E: bad"
    assert cases["bwd-a"].find("skipped") is not None
    assert cases["fwd-b"].find("failure") is None and cases["fwd-b"].get("classname") == "kernels.sm_121a"
    data = json.loads(json_path.read_text())
    assert not data["passed"]
    assert [r["status"] for r in data["results"]] == ["failed", "ok", "skipped"]
    assert data["results"][1]["registers"] == 100 and data["results"][1]["kernels"][0]["sass_arch"] == "sm_121a"


@pytest.mark.parametrize("args, message", [
    (("--gpu", "sm999"), "unknown GPU target 'sm999'"),
    (("--only", "nope"), "--only nope: no kernel variant matches"),
    (("--ref", "no-such-ref"), "no commit named 'no-such-ref'"),
    (("--ref", "main", "--compare", "nope"), "no commit named 'nope'"),
    (("-j", "0"), "-j 0: must be at least 1"),
])
def test_bad_input_exits_2_with_one_line(fake_stack, run_cli, tmp_path: Path, args, message):
    fake_stack.commit({})
    code, _, err = run_cli(*fake_stack.args(*args, "--workdir", str(tmp_path / "wd")))
    assert code == 2
    assert message in err and "Traceback" not in err


def test_missing_work_repository_says_what_to_do(fake_stack, run_cli, tmp_path: Path):
    code, _, err = run_cli("kernels", "--stack", str(fake_stack.stack), "--workdir", str(tmp_path / "wd"))
    assert code == 2 and "no work repository" in err and "--repo" in err


def test_list_prints_the_matrix_without_compiling(fake_stack, run_cli):
    code, out, _ = run_cli("kernels", "--stack", str(fake_stack.stack), "--list", "--gpu", "sm120a")
    assert code == 0 and "fwd-a" in out and "sm_120a" in out and "3 variants" in out
    assert fake_stack.records() == []


def test_compile_one_variant_for_bisecting(fake_stack, tmp_path: Path):
    good = fake_stack.commit({}, "good")
    bad = fake_stack.commit({"fwd-b": {"outcome": "fail", "error": "TypeError: too many positional arguments"}}, "bad")
    assert compile_variant_at(fake_stack.repo.path, good, "fwd-b", kernels=fake_stack.kernels).status == OK
    result = compile_variant_at(fake_stack.repo.path, bad, "fwd-b", kernels=fake_stack.kernels,
                                workdir=tmp_path / "wd")
    assert (result.status, result.error) == (FAILED, "TypeError: too many positional arguments")
    tree = tmp_path / "t"
    tree.mkdir()
    git(tmp_path, "--git-dir", str(fake_stack.repo.path), "--work-tree", str(tree), "checkout", good, "--", ".")
    assert compile_variant(tree, "fwd-b", kernels=fake_stack.kernels, gpu="sm120a").target == "sm_120a"
    with pytest.raises(ConfigError, match="no kernel variant 'nope'"):
        compile_variant(tree, "nope", kernels=fake_stack.kernels)


def test_byte_identical_cubins_are_pointed_out(fake_stack, run_cli, tmp_path: Path):
    # e.g. a block-sparse variant whose tree ignores the sparsity compiles the dense kernel
    fake_stack.commit({"fwd-a": {"name": "kernel_same_object_at_x_0"}, "fwd-b": {"name": "kernel_same_object_at_x_0"}})
    json_path = tmp_path / "r.json"
    code, out, _ = run_cli(*fake_stack.args("--ref", "main", "--workdir", str(tmp_path / "wd"), "--json", str(json_path)))
    assert code == 0 and "fwd-b: byte-identical to fwd-a" in out
    assert [r["same_cubins_as"] for r in json.loads(json_path.read_text())["results"]] == [None, "fwd-a", None]


def test_compare_finds_the_base_where_stacker_build_fetched_it(fake_stack, run_cli, tmp_path: Path):
    base = fake_stack.commit({}, "base")
    git(fake_stack.repo.path, "update-ref", "refs/stacker/upstream/heads/upstream-main", base)
    fake_stack.commit({"fwd-a": {"spill_st": 4}}, "bundle")
    code, out, err = run_cli(*fake_stack.args("--ref", "main", "--compare", "upstream-main",
                                              "--workdir", str(tmp_path / "wd")))
    assert code == 0, err
    assert "spills-new" in out and f"upstream-main ({base[:8]})" in out


def test_the_failure_line_names_a_variant_a_caller_can_bisect(fake_stack, run_cli, tmp_path: Path):
    from stacker.compile_report import failed_variant

    fake_stack.commit({"bwd-a": {"outcome": "fail", "error": "E: x"}})
    _, _, err = run_cli(*fake_stack.args("--ref", "main", "--workdir", str(tmp_path / "wd")))
    assert failed_variant(err.strip().splitlines()[-1]) == "bwd-a"
    assert failed_variant("stacker: kernel variant fwd-a regressed vs main (1234abcd): spills-new") == "fwd-a"
    assert failed_variant("all good") is None

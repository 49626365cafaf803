"""The worker/runner pair: many cases per process, crashes isolated, hangs killed, shards split."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from stacker.child_env import scrubbed_environment
from stacker.errors import ConfigError
from stacker.validation_model import Case, Status
from stacker.validation_plugin import RunContext
from stacker.validation_runner import Shard, WorkerSpec, run_cases, select_shard, split_contiguous

FAKE = Path(__file__).parent / "fixtures" / "crashy_validate"
REPO = Path(__file__).resolve().parent.parent


def spec_for(tmp_path: Path, actions: str, *, setup: str = "", timeout: float = 60.0,
             parent_env: dict[str, str] | None = None) -> tuple[WorkerSpec, list[Case]]:
    options = {"actions": actions, **({"setup": setup} if setup else {})}
    context = RunContext(target="sm90a", label="fake paths on sm_90a", compile_arch="sm_90a", tree=str(tmp_path),
                         suites=("crashy",), options=options)
    from stacker.validation_plugin import load_validation_plugin

    plugin = load_validation_plugin(FAKE)
    env = scrubbed_environment(parent_env if parent_env is not None else dict(os.environ),
                               allow=plugin.PASS_ENV, python_path=[str(REPO)], set_vars={"FAKE_TARGET": "sm90a"})
    # `timeout` is the cases'; the worker's start stays generous, as a loaded machine needs
    spec = WorkerSpec(plugin=FAKE, context=context, env=env, cwd=tmp_path, log_dir=tmp_path / "logs",
                      case_timeout=timeout, setup_timeout=60.0, python=sys.executable)
    return spec, plugin.cases(context)


def run_all(cases, spec, gpus):
    run = run_cases(cases, spec, gpus)
    assert not run.interrupted
    return run.results, run.slots


def statuses(results) -> list[tuple[str, str]]:
    return [(r.name, r.status.value) for r in results]


def test_cases_share_one_process(tmp_path):
    spec, cases = spec_for(tmp_path, "pass,fail,pass")
    results, slots = run_all(cases, spec, [None])
    assert statuses(results) == [("c0-pass", "pass"), ("c1-fail", "fail"), ("c2-pass", "pass")]
    assert len(slots[0].workers) == 1
    assert len({r.info["pid"] for r in results}) == 1  # compiled state would be shared: one process
    assert results[1].value == 0.5 and results[1].tolerance == 0.01


def test_a_segfault_is_that_case_and_the_rest_still_run(tmp_path):
    spec, cases = spec_for(tmp_path, "pass,segv,pass,pass")
    results, slots = run_all(cases, spec, [None])
    assert statuses(results) == [("c0-pass", "pass"), ("c1-segv", "crash"), ("c2-pass", "pass"), ("c3-pass", "pass")]
    assert "SIGSEGV" in results[1].detail
    assert len(slots[0].workers) == 2  # a fresh worker took the remaining cases
    assert results[0].info["pid"] != results[2].info["pid"]
    assert results[2].info["pid"] == results[3].info["pid"]


def test_exit_and_exception_are_reported(tmp_path):
    spec, cases = spec_for(tmp_path, "exit,raise,pass")
    results, _ = run_all(cases, spec, [None])
    assert statuses(results) == [("c0-exit", "crash"), ("c1-raise", "error"), ("c2-pass", "pass")]
    assert "status 3" in results[0].detail
    assert "planned failure" in results[1].detail


def test_a_hang_is_killed_after_the_case_timeout(tmp_path):
    spec, cases = spec_for(tmp_path, "hang,pass", timeout=3.0)
    results, _ = run_all(cases, spec, [None])
    assert statuses(results) == [("c0-hang", "crash"), ("c1-pass", "pass")]
    assert "timed out after 3 s" in results[0].detail


def test_an_unhealthy_process_is_retired(tmp_path):
    spec, cases = spec_for(tmp_path, "poison,pass")
    results, slots = run_all(cases, spec, [None])
    assert statuses(results) == [("c0-poison", "pass"), ("c1-pass", "pass")]
    assert slots[0].workers[0].retired and len(slots[0].workers) == 2


def test_setup_failure_marks_every_case_without_retrying(tmp_path):
    spec, cases = spec_for(tmp_path, "pass,pass", setup="fail")
    results, slots = run_all(cases, spec, [None])
    assert [r.status for r in results] == [Status.ERROR, Status.ERROR]
    assert all("cannot import the code under test" in r.detail for r in results)
    assert len(slots[0].workers) == 1


def test_output_of_the_code_under_test_cannot_forge_events(tmp_path):
    spec, cases = spec_for(tmp_path, "noise,pass")
    results, slots = run_all(cases, spec, [None])
    assert statuses(results) == [("c0-noise", "pass"), ("c1-pass", "pass")]
    assert "noise on stderr" in slots[0].workers[0].log.read_text()


def test_one_worker_per_gpu_with_its_own_device(tmp_path):
    spec, cases = spec_for(tmp_path, "env,env,env,env")
    results, slots = run_all(cases, spec, ["0", "1"])
    assert [r.info["CUDA_VISIBLE_DEVICES"] for r in results] == ["0", "0", "1", "1"]
    assert len(slots) == 2 and all(len(s.workers) == 1 for s in slots)


def test_the_worker_environment_is_scrubbed(tmp_path):
    parent = {**os.environ, "GITHUB_TOKEN": "secret", "FAKE_ALLOWED_X": "yes", "FAKE_ALLOWED_TOKEN": "secret"}
    spec, cases = spec_for(tmp_path, "env", parent_env=parent)
    results, _ = run_all(cases, spec, [None])
    info = results[0].info
    assert info["GITHUB_TOKEN"] is None and info["FAKE_ALLOWED_TOKEN"] is None
    assert info["FAKE_ALLOWED_X"] == "yes" and info["FAKE_TARGET"] == "sm90a"


def test_split_contiguous_sizes_and_order():
    items = list(range(10))
    blocks = split_contiguous(items, 3)
    assert blocks == [[0, 1, 2, 3], [4, 5, 6], [7, 8, 9]]
    assert split_contiguous([1], 3) == [[1], [], []]


@pytest.mark.parametrize("count", [1, 2, 3, 7])
def test_shards_partition_the_cases(count):
    cases = [Case("s", f"c{i}") for i in range(20)]
    shards = [select_shard(cases, Shard(i, count)) for i in range(count)]
    assert [c for shard in shards for c in shard] == cases


@pytest.mark.parametrize("text", ["2/2", "x/2", "1", "-1/3", "0/0"])
def test_bad_shard_is_a_one_line_error(text):
    with pytest.raises(ConfigError, match="--shard"):
        Shard.parse(text)


def test_stopping_the_parent_kills_its_workers_and_keeps_the_results(tmp_path):
    import signal
    import threading
    import time

    spec, cases = spec_for(tmp_path, "hang,pass")
    seen = []

    def interrupt():
        deadline = time.monotonic() + 30
        while not (tmp_path / "hanging-c0-hang").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        seen.extend(spec.live)
        os.kill(os.getpid(), signal.SIGINT)

    # A shell without job control starts background jobs with SIGINT ignored (POSIX), and Python
    # keeps it so: the test's own Ctrl-C would then never arrive.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        threading.Thread(target=interrupt, daemon=True).start()
        run = run_cases(cases, spec, [None])
    finally:
        signal.signal(signal.SIGINT, previous)
    assert seen
    assert seen[0].wait(timeout=10) == -signal.SIGKILL
    assert run.interrupted
    assert [(r.status, r.detail) for r in run.results] == [
        (Status.ERROR, "interrupted while running"), (Status.ERROR, "not run: interrupted")]

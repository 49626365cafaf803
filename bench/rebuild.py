"""Wall time of a full build, an incremental rebuild (the last PR changed) and a no-op, on a real upstream.

    python bench/rebuild.py --upstream /work/up/fa.git [--base main] [--repeat 3] [--no-verify] [--json out.json]

What it measures, exactly:
- The upstream is cloned (`git clone --mirror`, hard links) into a temp dir, so the bench can push
  to its PR refs without touching the original.
- The stack is this repository's stack.yaml (its PRs, includes, patches, resolutions and verify:
  commands) with the upstream and branch replaced. PRs on which the build stops are dropped one at a time
  (greedily: build, drop the PR whose step stopped, build again) until the rest builds; the kept
  and dropped PRs are printed. So the numbers are for the stack that builds on that base today.
- Each timed build runs in-process (`stacker.build.build`) with `offline=True` right after a
  separate, timed `stacker.upstream.fetch` into the same work dir: "after fetch" is stacker's own
  work, "fetch" the network part (here a local clone, so it is small).
  * full: every step applied again (`reuse=False`), verify: commands run;
  * incremental: a new commit is pushed on top of the last PR of the stack that the build applies
    (not one it finds superseded; it adds a one-line file), fetched, and the bundle rebuilt with
    reuse: every earlier step is reused, that PR's step and those after it run again, verify:
    commands run on the new head;
  * no-op: nothing moved; the build reuses every step and publishes nothing.
  The incremental bundle's head is checked against a full rebuild of the same inputs.
- One end-to-end `python -m stacker build` no-op (interpreter start, imports, fetch included).
Load average is printed: on a shared machine the numbers move with it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from stacker.build import BuildOptions, BuildResult, build, upstream_url  # noqa: E402
from stacker.config import load_stack  # noqa: E402
from stacker.reuse import outcome  # noqa: E402
from stacker.upstream import fetch, wants_for  # noqa: E402
from stacker.workspace import workspace_for  # noqa: E402


def git(repo: Path, *args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True,
                          env={**os.environ, **(env or {})})
    return done.stdout.strip()


def write_stack(path: Path, source: dict, upstream: Path, base: str, prs: list[dict], verify: bool) -> Path:
    stack = {"name": "bench", "upstream": str(upstream), "base": base, "branch": "bundle/bench", "prs": prs}
    if source.get("resolutions"):
        stack["resolutions"] = str((ROOT / source["resolutions"]).resolve())
    if verify and source.get("verify"):
        stack["verify"] = source["verify"]
    kept = {p["number"] for p in prs}
    patches = [{**entry, "file": str((ROOT / entry["file"]).resolve())} for entry in source.get("patches") or []
               if entry.get("after") in (None, *kept)]  # a patch after a dropped PR goes with it
    if patches:
        stack["patches"] = patches
    path.write_text(yaml.safe_dump(stack, sort_keys=False))
    return path


def timed_build(stack_path: Path, workdir: Path, reverify: bool = False, **options) -> tuple[float, float, BuildResult]:
    """(fetch seconds, build-after-fetch seconds, result); `reverify`: forget which checks the head passed."""
    stack = load_stack(stack_path)
    ws = workspace_for(stack.path, workdir)
    if reverify:
        ws.verified_record.unlink(missing_ok=True)
    started = time.perf_counter()
    with ws.locked() as repo:
        fetch(repo, upstream_url(stack, None), wants_for(stack, None))
    fetched = time.perf_counter()
    result = build(stack, BuildOptions(workdir=workdir, offline=True, **options))
    return fetched - started, time.perf_counter() - fetched, result


def push_on_top(upstream: Path, number: int, serial: int) -> str:
    """A new commit on PR `number` adding one small file: 'the author pushed again'."""
    ref = f"refs/pull/{number}/head"
    head = git(upstream, "rev-parse", ref)
    with tempfile.TemporaryDirectory() as tmp:
        env = {"GIT_INDEX_FILE": str(Path(tmp) / "index"), "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "b@x",
               "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "b@x",
               "GIT_AUTHOR_DATE": f"{1_900_000_000 + serial} +0000", "GIT_COMMITTER_DATE": f"{1_900_000_000 + serial} +0000"}
        git(upstream, "read-tree", head, env=env)
        blob = subprocess.run(["git", "hash-object", "-w", "--stdin"], cwd=upstream, input=f"bench {serial}\n",
                              capture_output=True, text=True, check=True).stdout.strip()
        git(upstream, "update-index", "--add", "--cacheinfo", f"100644,{blob},STACKER_BENCH_MARKER", env=env)
        tree = git(upstream, "write-tree", env=env)
        commit = git(upstream, "commit-tree", tree, "-p", head, "-m", f"bench: follow-up {serial}", env=env)
    git(upstream, "update-ref", ref, commit)
    return commit


def choose_prs(source: dict, stack_path: Path, upstream: Path, base: str, verify: bool,
               workdir: Path) -> tuple[list[dict], list[tuple[int, str]]]:
    prs = [p if isinstance(p, dict) else {"number": p} for p in source["prs"]]
    dropped: list[tuple[int, str]] = []
    while prs:
        write_stack(stack_path, source, upstream, base, prs, verify)
        _, _, result = timed_build(stack_path, workdir, reuse=False)
        if result.status == "ok":
            return prs, dropped
        stopped = result.steps[-1].step.number if result.steps else prs[0]["number"]
        detail = result.status
        if result.steps and result.steps[-1].unresolved:
            paths = sorted({u.path for u in result.steps[-1].unresolved})
            detail += " in " + ", ".join(paths)
        dropped.append((stopped, detail))
        prs = [p for p in prs if p["number"] != stopped]
    return prs, dropped


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", required=True, type=Path)
    parser.add_argument("--base", default="main")
    parser.add_argument("--stack", type=Path, default=ROOT / "stack.yaml")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-verify", action="store_true", help="leave the stack's verify: commands out")
    parser.add_argument("--json", type=Path)
    options = parser.parse_args()
    source = yaml.safe_load(options.stack.read_text())

    with tempfile.TemporaryDirectory(prefix="stacker-bench-rebuild-") as tmp_name:
        tmp = Path(tmp_name)
        upstream = tmp / "upstream.git"
        git(tmp, "clone", "-q", "--mirror", str(options.upstream.resolve()), str(upstream))
        base_sha = git(upstream, "rev-parse", f"{options.base}^{{commit}}")
        named = subprocess.run(["git", "show-ref", "-q", f"refs/heads/{options.base}", f"refs/tags/{options.base}"],
                               cwd=upstream).returncode == 0
        base = options.base if named else base_sha  # a commit is fetched by its full id
        stack_path = tmp / "stack.yaml"
        workdir = tmp / "work"

        started = time.perf_counter()
        prs, dropped = choose_prs(source, stack_path, upstream, base, not options.no_verify, workdir)
        choosing = time.perf_counter() - started
        if not prs:
            print(f"nothing builds on {options.base} {base_sha[:12]}: " +
                  "; ".join(f"#{n} {why}" for n, why in dropped))
            return 1
        last = None  # the last PR the build applies (a superseded one at the end changes nothing when pushed to)
        print(f"upstream {options.upstream} base {options.base} {base_sha[:12]}")
        print(f"stack that builds: {', '.join('#' + str(p['number']) for p in prs)}"
              + (f"; dropped: {'; '.join(f'#{n} ({why})' for n, why in dropped)}" if dropped else ""))
        print(f"verify: commands: {[v['name'] for v in source.get('verify') or []] if not options.no_verify else 'left out'}")

        rows: dict[str, list[tuple[float, float]]] = {"full": [], "incremental": [], "no-op": []}
        checks: list[str] = []
        for i in range(options.repeat):
            load = os.getloadavg()[0]
            # a full build lands on the published head (same inputs): make it run the checks as a first build would
            fetch_s, build_s, full = timed_build(stack_path, workdir, reverify=True, reuse=False)
            assert full.status == "ok", full.status
            rows["full"].append((fetch_s, build_s))
            if last is None:
                last = [s.step.number for s in full.steps if outcome(s) == "applied"][-1]

            push_on_top(upstream, last, i)
            fetch_s, build_s, incremental = timed_build(stack_path, workdir)
            assert incremental.status == "ok", incremental.status
            rows["incremental"].append((fetch_s, build_s))
            reused = [s.step.number for s in incremental.reused]
            _, _, again = timed_build(stack_path, workdir, reuse=False)
            checks.append(f"run {i + 1} (load {load:.1f}): incremental reused {reused}, applied #{last}; "
                          f"full rebuild of the same inputs gives the same head: {again.head == incremental.head}")

            fetch_s, build_s, noop = timed_build(stack_path, workdir)
            assert noop.unchanged, "the no-op build was not a no-op"
            rows["no-op"].append((fetch_s, build_s))

        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "stacker", "build", "--stack", str(stack_path),
                               "--workdir", str(workdir)], capture_output=True, text=True, env=env)
        cli_noop = time.perf_counter() - started
        assert done.returncode == 0 and "unchanged" in done.stdout, done.stdout + done.stderr

    for line in checks:
        print(line)
    full_median = statistics.median(b for _, b in rows["full"])
    print(f"\n{'build':<12} {'after fetch (median s)':>22} {'min':>7} {'fetch (median s)':>17} {'vs full':>8}")
    summary = {}
    for name, samples in rows.items():
        builds = [b for _, b in samples]
        median = statistics.median(builds)
        summary[name] = {"after_fetch_median_s": round(median, 3), "after_fetch_min_s": round(min(builds), 3),
                         "fetch_median_s": round(statistics.median(f for f, _ in samples), 3),
                         "ratio_to_full": round(median / full_median, 4)}
        print(f"{name:<12} {median:>22.3f} {min(builds):>7.3f} {summary[name]['fetch_median_s']:>17.3f} "
              f"{median / full_median:>8.3f}")
    print(f"\nend to end `python -m stacker build` no-op (start-up, imports, fetch, build): {cli_noop:.2f} s")
    print(f"choosing the stack that builds took {choosing:.1f} s")
    if options.json:
        options.json.write_text(json.dumps({
            "upstream": str(options.upstream), "base": options.base, "base_sha": base_sha,
            "prs": [p["number"] for p in prs], "dropped": dropped, "repeat": options.repeat,
            "verify": not options.no_verify, "results": summary, "cli_noop_s": round(cli_noop, 3), "checks": checks,
        }, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

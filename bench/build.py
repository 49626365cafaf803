"""How much does stacker add on top of git itself? `stacker build` vs the bare plumbing.

    python bench/build.py [--stack stack.yaml] [--upstream /path/to/fa.git] [--repeat 5]

Both sides start from objects already fetched (stacker's work repository; the fetch is network
time, not stacker's) and both do the same merges:

- stacker: `stacker build --offline --full` in a subprocess (plan, every step through the
  resolution layers and checks, the commit, the reports; the `verify:` commands are skipped — they
  are the compile gate, timed by bench/kernels.py);
- plumbing: for every step stacker applied, the git commands a shell script needs for the same
  3-way merge with the PR's fork as merge base on git 2.39 (three `commit-tree` for the re-parented
  sides, one `merge-tree --write-tree`, one `commit-tree` of the step's result), plus a
  `rev-parse` of the inputs — nothing that resolves a conflict.

It prints the median of each and their ratio (target: stacker within 1.5x of the plumbing).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run(*args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, env={**os.environ, **(env or {})})


def stacker_build(stack: Path, workdir: Path, skip: list[str]) -> tuple[float, dict]:
    args = [sys.executable, "-m", "stacker", "build", "--stack", str(stack), "--workdir", str(workdir),
            "--offline", "--full", "--json"]
    for name in skip:
        args += ["--skip-verify", name]
    start = time.perf_counter()
    done = run(*args)
    elapsed = time.perf_counter() - start
    if done.returncode not in (0, 1):
        sys.exit(f"stacker build failed: {done.stderr.strip()}")
    return elapsed, json.loads(done.stdout)


def plumbing(repo: Path, report: dict) -> float:
    """The same merges as bare git commands, chained through stacker's own step results."""
    env = {"GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@b", "GIT_AUTHOR_DATE": "1000000000 +0000",
           "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@b", "GIT_COMMITTER_DATE": "1000000000 +0000"}
    git = ["git", "-C", str(repo)]
    start = time.perf_counter()
    tip = report["base"]["sha"]
    for step in report["steps"]:
        if step["status"] not in ("applied", "conflict"):
            continue
        trees = run(*git, "rev-parse", f"{step['fork']}^{{tree}}", f"{tip}^{{tree}}", f"{step['head']}^{{tree}}")
        fork_tree, tip_tree, head_tree = trees.stdout.split()
        base = run(*git, "commit-tree", fork_tree, "-m", "b", env=env).stdout.strip()
        ours = run(*git, "commit-tree", tip_tree, "-p", base, "-m", "o", env=env).stdout.strip()
        theirs = run(*git, "commit-tree", head_tree, "-p", base, "-m", "t", env=env).stdout.strip()
        merged = run(*git, "merge-tree", "--write-tree", ours, theirs, env=env).stdout.split()[0]
        if step["status"] == "conflict":
            break
        run(*git, "commit-tree", merged, "-p", tip, "-m", "step", env=env)
        tip = step["commit"]
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", type=Path, default=Path("stack.yaml"))
    parser.add_argument("--upstream", help="upstream URL or path (default: stack.yaml's)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--skip-verify", action="append", default=[], help="verify: entries to skip")
    args = parser.parse_args()
    stack_text = args.stack.read_text()
    with tempfile.TemporaryDirectory(prefix="stacker-bench-") as tmp:
        stack = Path(tmp, "stack.yaml")
        stack.write_text(stack_text)
        for name in ("resolutions", "kernels", "validate", "patches"):
            if (args.stack.parent / name).exists():
                os.symlink((args.stack.parent / name).resolve(), Path(tmp, name))
        work = Path(tmp, "work")
        fetch = [sys.executable, "-m", "stacker", "plan", "--stack", str(stack), "--workdir", str(work), "--json"]
        if args.upstream:
            fetch += ["--upstream", args.upstream]
        done = run(*fetch)
        if done.returncode != 0:
            sys.exit(f"fetching failed: {done.stderr.strip()}")
        skip = args.skip_verify or [line.split(":", 1)[1].strip() for line in stack_text.splitlines()
                                    if line.strip().startswith("- name:")]
        stacker_times, plumbing_times, report = [], [], {}
        for _ in range(args.repeat):
            elapsed, report = stacker_build(stack, work, skip)
            stacker_times.append(elapsed)
            plumbing_times.append(plumbing(work / "repo.git", report))
        shutil.rmtree(work, ignore_errors=True)
    applied = [s for s in report["steps"] if s["status"] == "applied"]
    hunks = sum(s.get("initial_conflicts", 0) for s in report["steps"])
    s_med, p_med = statistics.median(stacker_times), statistics.median(plumbing_times)
    print(f"status {report['status']}: {len(applied)} of {len(report['steps'])} steps applied, "
          f"{hunks} conflict hunks from git")
    print(f"stacker build (offline, full) median {s_med:.2f} s  [{', '.join(f'{t:.2f}' for t in stacker_times)}]")
    print(f"git plumbing, same merges   median {p_med:.2f} s  [{', '.join(f'{t:.2f}' for t in plumbing_times)}]")
    print(f"ratio {s_med / p_med:.2f}x (target <= 1.5x)")


if __name__ == "__main__":
    main()

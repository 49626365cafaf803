"""Wall time of `stacker kernels`: the matrix with -j 1, with -j <all cores>, and the cached re-run.

Targets (issue 8): the parallel run at least 0.8 × cores faster than -j 1; the cached re-run under 5 s.

    python bench/kernels.py --repo /work/up/fa.git --ref main [--gpu sm121a] [--only GLOB ...] [--json out.json]

All runs share one work directory. A first, untimed run of one variant compiles the tree's byte-code
(kept under the work dir, outside the tree) so that neither timed run pays for it; the two cold runs
use --no-cache (they compile everything; what they compile is still stored), the last run reads the
cache. Each row records the load average before it: on a shared machine the numbers move with it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def stacker(args: list[str]) -> tuple[float, int, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "stacker", "kernels", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    return time.perf_counter() - started, done.returncode, done.stdout + done.stderr


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", required=True)
    parser.add_argument("--ref", default="main")
    parser.add_argument("--gpu", default="sm121a")
    parser.add_argument("--only", action="append", default=[])
    parser.add_argument("--json", type=Path, help="write the summary here")
    parser.add_argument("--results", type=Path, help="keep each run's `stacker kernels --json` in this directory")
    options = parser.parse_args()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1

    with tempfile.TemporaryDirectory(prefix="stacker-bench-") as workdir:
        base = ["--stack", str(ROOT / "stack.yaml"), "--repo", options.repo, "--ref", options.ref,
                "--gpu", options.gpu, "--workdir", workdir]
        common = [*base, *(f"--only={p}" for p in options.only)]
        listing = subprocess.run([sys.executable, "-m", "stacker", "kernels", *common, "--list"], cwd=ROOT,
                                 env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True)
        count = next((line.split()[0] for line in listing.stdout.splitlines() if line.endswith(" variants")), "?")
        first = next(line.split("│")[1].strip() for line in listing.stdout.splitlines()
                     if line.startswith("│") and "variant" not in line)
        stacker([*base, f"--only={first}", "--no-cache", "-j", "1"])  # compiles the tree's byte-code once

        rows = []
        runs = (("j1", "-j 1", ["-j", "1", "--no-cache"]), ("jN", f"-j {cores}", ["-j", str(cores), "--no-cache"]),
                ("cached", f"-j {cores}, cached", ["-j", str(cores)]))
        if options.results:
            options.results.mkdir(parents=True, exist_ok=True)
        for key, name, extra in runs:
            if options.results:
                extra = [*extra, "--json", str(options.results / f"{key}.json")]
            load = os.getloadavg()[0]
            seconds, code, output = stacker([*common, *extra])
            summary = next((line for line in output.splitlines() if " ok, " in line and " failed" in line), "")
            rows.append({"run": name, "seconds": round(seconds, 1), "exit": code, "load_before": round(load, 2),
                         "summary": summary.strip()})
            print(f"{name:>16}: {seconds:7.1f} s  exit {code}  load {load:.2f}  {summary.strip()}", flush=True)

    serial, parallel, cached = (row["seconds"] for row in rows)
    speedup = serial / parallel if parallel else float("nan")
    result = {"variants": count, "cores": cores, "runs": rows, "speedup": round(speedup, 2),
              "speedup_target": round(0.8 * cores, 2), "speedup_ok": speedup >= 0.8 * cores,
              "cached_seconds": cached, "cached_ok": cached < 5.0}
    print(f"speed-up {speedup:.2f}× on {cores} cores (target ≥ {0.8 * cores:.1f}×): "
          f"{'met' if result['speedup_ok'] else 'NOT met'}; cached re-run {cached:.1f} s (target < 5 s): "
          f"{'met' if result['cached_ok'] else 'NOT met'}")
    if options.json:
        options.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

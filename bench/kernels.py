"""Wall time of `stacker kernels`: the matrix with -j 1, with -j <all cores>, and the cached re-run.

Targets (issue 8): the parallel run at least 0.8 × cores faster than -j 1; the cached re-run under 5 s.

    python bench/kernels.py --repo /work/up/fa.git --ref main [--gpu sm121a] [--only GLOB ...] [--json out.json]

    python bench/kernels.py ... --rounds 3     # alternate -j 1 / -j N three times, report medians

All runs share one work directory. A first, untimed run of one variant compiles the tree's byte-code
(kept under the work dir, outside the tree) so that neither timed run pays for it; the two cold runs
use --no-cache (they compile everything; what they compile is still stored), the last run reads the
cache. Each row records the load average before it and the CPU seconds of its whole process tree:
on a shared machine wall times move with the load, while CPU(-j N) / CPU(-j 1) ≈ 1 still shows
that running in parallel adds no work (so on an idle machine the speed-up approaches the core count).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def stacker(args: list[str]) -> tuple[float, float, int, str]:
    """(wall seconds, CPU seconds of the whole process tree, exit code, output) of one CLI run."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "stacker", "kernels", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.returncode, done.stdout + done.stderr


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", required=True)
    parser.add_argument("--ref", default="main")
    parser.add_argument("--gpu", default="sm121a")
    parser.add_argument("--only", action="append", default=[])
    parser.add_argument("--json", type=Path, help="write the summary here")
    parser.add_argument("--results", type=Path, help="keep each run's `stacker kernels --json` in this directory")
    parser.add_argument("--rounds", type=int, default=1,
                        help="alternate -j 1 and -j N this many times (medians; evens out a shared machine's load)")
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
        if options.results:
            options.results.mkdir(parents=True, exist_ok=True)
        plan = [run for n in range(options.rounds) for run in
                ((f"j1-{n}", "-j 1", ["-j", "1", "--no-cache"]),
                 (f"jN-{n}", f"-j {cores}", ["-j", str(cores), "--no-cache"]))]
        plan.append(("cached", f"-j {cores}, cached", ["-j", str(cores)]))
        for key, name, extra in plan:
            if options.results:
                extra = [*extra, "--json", str(options.results / f"{key}.json")]
            load = os.getloadavg()[0]
            wall, cpu, code, output = stacker([*common, *extra])
            summary = next((line for line in output.splitlines() if " ok, " in line and " failed" in line), "")
            rows.append({"run": name, "seconds": round(wall, 1), "cpu_seconds": round(cpu, 1), "exit": code,
                         "load_before": round(load, 2), "summary": summary.strip()})
            print(f"{name:>16}: {wall:7.1f} s wall {cpu:7.1f} s CPU  exit {code}  load {load:.2f}  {summary.strip()}",
                  flush=True)

    serial = statistics.median(r["seconds"] for r in rows if r["run"] == "-j 1")
    parallel = statistics.median(r["seconds"] for r in rows if r["run"] == f"-j {cores}")
    cpu_serial = statistics.median(r["cpu_seconds"] for r in rows if r["run"] == "-j 1")
    cpu_parallel = statistics.median(r["cpu_seconds"] for r in rows if r["run"] == f"-j {cores}")
    cached = rows[-1]["seconds"]
    speedup = serial / parallel if parallel else float("nan")
    result = {"variants": count, "cores": cores, "rounds": options.rounds, "runs": rows,
              "speedup": round(speedup, 2), "speedup_target": round(0.8 * cores, 2),
              "speedup_ok": speedup >= 0.8 * cores, "cpu_ratio": round(cpu_parallel / cpu_serial, 3),
              "cached_seconds": cached, "cached_ok": cached < 5.0}
    print(f"speed-up {speedup:.2f}× on {cores} cores (target ≥ {0.8 * cores:.1f}×): "
          f"{'met' if result['speedup_ok'] else 'NOT met'}; CPU -j {cores} / -j 1 = {result['cpu_ratio']:.2f}; "
          f"cached re-run {cached:.1f} s (target < 5 s): {'met' if result['cached_ok'] else 'NOT met'}")
    if options.json:
        options.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""How fast and light are the catalog commands compared with importing TensorFlow?

Runs, in one process on the same machine, each of ``zoo list``, ``zoo info cnn``,
``zoo --help`` and ``python -c "import tensorflow"`` several times as fresh subprocesses and
prints the first (cold) and median wall time, the median CPU time (user + system, less
sensitive to a busy machine) and the peak RSS of each, then the ratio
``zoo list`` / TensorFlow import and whether the goals are met:

    zoo list <= 0.25 s, <= 0.08 x the TensorFlow import, peak RSS <= 80 MB.

Peak RSS is the child's own ``ru_maxrss`` from ``os.wait4``. The first run is only as cold as
the OS page cache allows (it is not dropped). Exit code 1 when a goal is missed.

    python benchmarks/list_latency.py [--runs 5] [--tf-runs 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

GOAL_SECONDS = 0.25
GOAL_RATIO = 0.08
GOAL_RSS_MB = 80.0


def zoo_script() -> str:
    return str(Path(sys.executable).with_name("zoo"))


def measure(cmd: list[str], env: dict[str, str]) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds and peak RSS (MB) of one run of ``cmd``; fails if it fails."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.stderr:
        proc.stderr.close()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024  # Linux: KB


def bench(cmd: list[str], runs: int, env: dict[str, str]) -> dict[str, float]:
    samples = [measure(cmd, env) for _ in range(runs)]
    walls = [w for w, _, _ in samples]
    return {
        "cold": walls[0],
        "median": statistics.median(walls),
        "cpu": statistics.median(c for _, c, _ in samples),
        "rss": max(r for _, _, r in samples),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs of each zoo command")
    parser.add_argument("--tf-runs", type=int, default=3, help="runs of the TensorFlow import")
    args = parser.parse_args()

    env = {k: v for k, v in os.environ.items() if not k.startswith("ZOO_")}
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    zoo = zoo_script()
    cases = {
        "zoo list": ([zoo, "list"], args.runs),
        "zoo info cnn": ([zoo, "info", "cnn"], args.runs),
        "zoo --help": ([zoo, "--help"], args.runs),
        "import tensorflow": ([sys.executable, "-c", "import tensorflow"], args.tf_runs),
    }
    results = {}
    for label, (cmd, runs) in cases.items():
        results[label] = bench(cmd, runs, env)

    print(f"{'command':<20} {'cold s':>7} {'median s':>9} {'cpu s':>7} {'peak RSS MB':>12}  runs")
    for label, r in results.items():
        print(
            f"{label:<20} {r['cold']:>7.3f} {r['median']:>9.3f} {r['cpu']:>7.3f} "
            f"{r['rss']:>12.1f}  {cases[label][1]}"
        )
    print(f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")

    listing, tf = results["zoo list"], results["import tensorflow"]
    ratio = listing["median"] / tf["median"]
    print(f"\nzoo list / import tensorflow (median): {ratio:.3f}x")
    goals = [
        (f"zoo list median <= {GOAL_SECONDS} s", listing["median"] <= GOAL_SECONDS),
        (f"zoo list <= {GOAL_RATIO}x TensorFlow import", ratio <= GOAL_RATIO),
        (
            f"peak RSS of zoo commands <= {GOAL_RSS_MB:.0f} MB",
            max(results[k]["rss"] for k in results if k.startswith("zoo")) <= GOAL_RSS_MB,
        ),
    ]
    for text, ok in goals:
        print(f"  {'met   ' if ok else 'MISSED'}  {text}")
    return 0 if all(ok for _, ok in goals) else 1


if __name__ == "__main__":
    raise SystemExit(main())

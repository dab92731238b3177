"""Peak memory of `zoo train recommender` on a 10M-row ratings file (issue 18).

Generates (or reuses) a MovieLens-layout ``ratings.csv`` of ``--rows`` ratings over
``--users`` x ``--items`` with popularity-skewed items (``scale.write_ratings``), then trains
the recommender on it in a child process with the registry defaults (64 sampled negatives a
rating, batch 2048) for ``--steps`` training steps, and prints the process's peak RSS
(``VmHWM``) after each phase next to the goal (2 GB): data read, split, pipelines built,
training steps. An epoch of 10M ratings is ~520M pairs, hours on 2 CPUs, so the run stops
after ``--steps`` steps: memory no longer changes by then (the pairs are sampled as they are
read, see zoo.tasks.ranking.SampledPairs).

    python benchmarks/recommender_memory.py [--rows 10000000] [--steps 1000] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOAL_MB = 2048

CHILD = r"""
import json, sys, time
import keras
import zoo.training.runner as runner

def peak(tag):
    status = dict(line.split(":", 1) for line in open("/proc/self/status"))
    mb = int(status["VmHWM"].split()[0]) / 1024
    print(f"PHASE {tag}|{mb:.0f}|{time.perf_counter() - START:.1f}", flush=True)

START = time.perf_counter()
steps = int(sys.argv[2])
original = runner._splits

def splits(*args, **kwargs):
    peak("data read and split")
    out = original(*args, **kwargs)
    peak("pipelines built")
    return out

runner._splits = splits

class Stop(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        if batch + 1 in (1, 100, steps):
            peak(f"after {batch + 1} training steps")
        if batch + 1 >= steps:
            raise SystemExit(0)

runner.train("recommender", sys.argv[1], output=sys.argv[3], verbose=False, epochs=1,
             callbacks=[Stop()], **json.loads(sys.argv[4]))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=50_000)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="e.g. num_negatives=4"
    )
    args = parser.parse_args()
    overrides = {}
    for item in args.set:
        key, _, value = item.partition("=")
        overrides[key] = json.loads(value) if value[:1].isdigit() or value[:1] == "[" else value
    sys.path.insert(0, str(Path(__file__).parent))
    from _common import machine
    from scale import write_ratings

    work = args.workdir or Path(tempfile.mkdtemp(prefix="zoo-recommender-memory-"))
    work.mkdir(parents=True, exist_ok=True)
    ratings = work / f"ratings-{args.rows}.csv"
    if not ratings.is_file():
        started = time.perf_counter()
        write_ratings(ratings, args.rows, args.users, args.items)
        print(f"generated {ratings} in {time.perf_counter() - started:.0f} s")
    run = work / f"run-{time.strftime('%H%M%S')}"
    print(f"# {time.strftime('%Y-%m-%d %H:%M')}  {machine()}")
    options = " ".join(f"--set {item}" for item in args.set) or "defaults"
    print(f"zoo train recommender --data {ratings.name} ({args.rows:,} ratings), {options}")
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            CHILD,
            str(ratings),
            str(args.steps),
            str(run),
            json.dumps(overrides),
        ],
        capture_output=True,
        text=True,
    )
    rows = [line[6:].split("|") for line in proc.stdout.splitlines() if line.startswith("PHASE")]
    if not rows:
        print(proc.stderr[-2000:])
        return 1
    print("| phase | peak RSS MB | s since start | goal |")
    print("|---|---|---|---|")
    for tag, mb, seconds in rows:
        ok = "met" if float(mb) <= GOAL_MB else "MISSED"
        print(f"| {tag} | {mb} | {seconds} | <= {GOAL_MB} MB: {ok} |")
    print(f"load now {machine()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

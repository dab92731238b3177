"""Training throughput of one process vs two local multi-worker processes (and mirrored
over two logical CPU devices), at the same global batch size and seed.

    python benchmarks/distributed_throughput.py [--model cnn-small] [--epochs 5]
                                                [--batch-size 64] [--examples 0]

Every setup trains through the `zoo` command (`zoo train`, `zoo worker`), on the model's
built-in dataset. "steady" throughput leaves out epoch 1 (tracing and graph building); the
per-epoch times are those the progress output prints. On a machine with fewer cores than
workers x threads, the workers compete for the same cores: the figures then show that the
distributed path is correct (same losses) and what it costs, not a speed-up.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ZOO = [
    sys.executable,
    "-c",
    "from zoo.cli.main import main, COMMANDS; "
    "COMMANDS.setdefault('worker', 'zoo.cli.worker_cmd:worker_cmd'); main()",
]
EPOCH_LINE = re.compile(r"^(?:\[worker 0\] )?epoch (\d+)/\d+ - ([\d.]+)s ")

MIRRORED = """
import sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from zoo.cli.main import main
main(sys.argv[1:])
"""


def run(label: str, command: list[str], run_dir: Path, n_train_key: str = "train") -> dict:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1"}
    started = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, env=env, timeout=1800)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
        raise SystemExit(f"{label} failed with exit code {proc.returncode}")
    epochs = [
        (int(m[1]), float(m[2])) for m in map(EPOCH_LINE.match, proc.stdout.splitlines()) if m
    ]
    metrics: dict[str, Any] = json.loads((run_dir / "metrics.json").read_text())
    n_train = metrics["split"][n_train_key]
    steady = [seconds for epoch, seconds in epochs if epoch > 1]
    lines = (run_dir / "history.csv").read_text().strip().splitlines()
    column = lines[0].split(",").index("loss")
    return {
        "label": label,
        "replicas": metrics["distribution"]["replicas"],
        "per_replica": metrics["distribution"]["per_replica_batch_size"],
        "samples_per_s": metrics["samples_per_s"],
        "steady_samples_per_s": n_train * len(steady) / sum(steady) if steady else None,
        "wall_s": wall,
        "losses": [float(line.split(",")[column]) for line in lines[1:]],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="cnn-small")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--examples", type=int, default=0, help="max_examples (0 = all)")
    parser.add_argument("--no-mirrored", action="store_true", help="skip the mirrored run")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="zoo-dist-bench-"))
    train = [
        args.model,
        "--epochs",
        str(args.epochs),
        "--batch-size",
        str(args.batch_size),
        "--set",
        f"max_examples={args.examples}",
        "--set",
        "early_stopping=false",
        "--seed",
        "0",
    ]
    rows = [
        run(
            "1 process (default)",
            [*ZOO, "train", *train, "--output", str(root / "one")],
            root / "one",
        ),
        run(
            "2 local workers (multi-worker)",
            [*ZOO, "worker", "-n", "2", *train, "--output", str(root / "two")],
            root / "two",
        ),
    ]
    if not args.no_mirrored:
        rows.append(
            run(
                "1 process, 2 logical CPUs (mirrored)",
                [sys.executable, "-c", MIRRORED, "train", *train, "--strategy", "mirrored"]
                + ["--output", str(root / "mirrored")],
                root / "mirrored",
            )
        )

    cores = os.cpu_count()
    print(
        f"zoo distributed throughput — {args.model}, global batch {args.batch_size}, "
        f"{args.epochs} epochs, seed 0"
    )
    print(f"python {platform.python_version()}, {platform.machine()}, {cores} CPU cores")
    header = f"{'setup':<38} {'replicas':>8} {'per-replica':>11} {'samples/s':>10} "
    header += f"{'steady/s':>9} {'wall s':>7} {'max |Δloss|':>12}"
    print(header)
    base = rows[0]["losses"]
    for row in rows:
        diff = max((abs(a - b) for a, b in zip(row["losses"], base, strict=True)), default=0.0)
        steady = row["steady_samples_per_s"]
        print(
            f"{row['label']:<38} {row['replicas']:>8} {row['per_replica']:>11} "
            f"{row['samples_per_s'] or 0:>10.0f} {steady or 0:>9.0f} {row['wall_s']:>7.1f} "
            f"{diff:>12.2e}"
        )
    print(
        "\nsamples/s = training examples x epochs / training time (epoch 1 includes tracing);"
        "\nsteady/s leaves epoch 1 out; max |Δloss| compares the per-epoch training loss "
        "with the 1-process run (history.csv)."
    )
    if cores is not None and cores <= 2:
        print(
            f"\nNOTE: this machine has {cores} CPU cores. The two workers (and the two mirrored "
            "replicas) share them,\nso these figures show that distributed training is correct "
            "(same losses) and what its\ncommunication costs, not a speed-up. A speed-up needs "
            "one host (or GPU) per worker."
        )
    print(f"\nruns kept in {root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Overhead of the zoo over hand-written Keras: per-epoch wall time of `zoo train cnn`
against benchmarks/plain_keras_cnn.py (same model, data, split, batch size and epochs).

    python benchmarks/overhead.py [--epochs 6] [--repeats 3]

The zoo's epoch includes everything it does per epoch (validation, checkpoint of weights
and optimizer, history CSV, TensorBoard scalars). The first epoch (tracing/compilation) is
left out of both medians. Goal: ratio <= 1.02.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

from _common import machine, run_child, zoo_command

HERE = Path(__file__).resolve().parent


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    zoo_epochs: list[float] = []
    plain_epochs: list[float] = []
    for repeat in range(args.repeats):
        out = Path(tempfile.mkdtemp(prefix="zoo-overhead-")) / "run"
        _, _, text = run_child(
            [
                *zoo_command(),
                "train",
                "cnn",
                "--epochs",
                str(args.epochs),
                "--batch-size",
                str(args.batch_size),
                "--set",
                "early_stopping=false",
                "--set",
                "learning_rate=0.001",
                "--output",
                str(out),
                "--json",
            ]
        )
        zoo_epochs += json.loads(text)["epoch_times_s"][1:]
        _, _, text = run_child(
            [
                sys.executable,
                str(HERE / "plain_keras_cnn.py"),
                "--epochs",
                str(args.epochs),
                "--batch-size",
                str(args.batch_size),
            ]
        )
        plain_epochs += json.loads(text.strip().splitlines()[-1])["epoch_times_s"][1:]
        print(f"repeat {repeat + 1}/{args.repeats} done", file=sys.stderr)
    zoo_median = statistics.median(zoo_epochs)
    plain_median = statistics.median(plain_epochs)
    print(f"machine: {machine()}")
    print(
        f"cnn, batch {args.batch_size}, {args.epochs} epochs x {args.repeats} runs, "
        "first epoch excluded"
    )
    print("| trainer | median epoch s | epochs measured |")
    print("|---|---|---|")
    print(f"| plain Keras model.fit (numpy) | {plain_median:.3f} | {len(plain_epochs)} |")
    print(f"| zoo train cnn | {zoo_median:.3f} | {len(zoo_epochs)} |")
    ratio = zoo_median / plain_median
    print(f"ratio zoo / plain Keras: {ratio:.3f}x (goal <= 1.02x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

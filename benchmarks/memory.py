"""Peak resident memory of `zoo train NAME` with its defaults, for every built-in model,
and the start-up cost of `zoo train` (time until training could begin: `--epochs 0`).

    python benchmarks/memory.py [MODEL ...]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from _common import machine, run_child, zoo_command

MODELS = ("cnn", "mlp", "rnn", "transformer", "recommender")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("models", nargs="*", default=list(MODELS))
    parser.add_argument("--epochs", type=int, default=None, help="override default epochs")
    args = parser.parse_args()
    rows = []
    for name in args.models:
        out = Path(tempfile.mkdtemp(prefix="zoo-mem-")) / "run"
        extra = ["--epochs", str(args.epochs)] if args.epochs is not None else []
        seconds, peak, text = run_child(
            [*zoo_command(), "train", name, "--output", str(out), "--json", *extra]
        )
        metrics = json.loads(text)
        startup, startup_peak, _ = run_child(
            [
                *zoo_command(),
                "train",
                name,
                "--epochs",
                "0",
                "--json",
                "--output",
                str(out.parent / "startup"),
            ]
        )
        rows.append((name, peak, seconds, metrics["epochs_run"], startup, startup_peak))
        print(f"{name}: peak {peak:.0f} MB", file=sys.stderr, flush=True)
    print(f"machine: {machine()}")
    print(
        "| model | peak RSS MB (train) | wall s | epochs | `--epochs 0` start-up s | its peak MB |"
    )
    print("|---|---|---|---|---|---|")
    for name, peak, seconds, epochs, startup, startup_peak in rows:
        print(
            f"| {name} | {peak:.0f} | {seconds:.1f} | {epochs} | {startup:.1f} | "
            f"{startup_peak:.0f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

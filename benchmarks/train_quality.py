"""Train every built-in model with its defaults and print its test metric beside its
baseline, against the quality bars of the training issue.

    python benchmarks/train_quality.py [MODEL ...] [--output runs/quality]

Each model trains through `zoo.train` (the same code path as `zoo train NAME`) on its
built-in dataset with the registry's default options and seed 0.
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from pathlib import Path

# model -> (metric, baseline key, bar description, check)
BARS = {
    "cnn": ("accuracy", "majority_accuracy", ">= 0.97", lambda m, b: m >= 0.97),
    "mlp": ("accuracy", "majority_accuracy", ">= 0.90", lambda m, b: m >= 0.90),
    "rnn": ("accuracy", "majority_accuracy", ">= 0.90", lambda m, b: m >= 0.90),
    "transformer": (
        "accuracy",
        "bag_of_words_accuracy",
        ">= 0.90 and >= bag-of-words + 0.15",
        lambda m, b: m >= 0.90 and m >= b + 0.15,
    ),
    "recommender": (
        "recall_at_10",
        "popularity_recall_at_10",
        ">= 2x popularity",
        lambda m, b: m >= 2 * b,
    ),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", default=list(BARS))
    parser.add_argument("--output", type=Path, default=None, help="where the runs go")
    args = parser.parse_args()

    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from zoo._quiet import import_tensorflow_quietly

    import_tensorflow_quietly()
    import zoo

    root = args.output or Path(tempfile.mkdtemp(prefix="zoo-quality-"))
    rows = []
    for name in args.models:
        metric, base_key, bar, check = BARS[name]
        started = time.perf_counter()
        run = zoo.train(name, output=root / name, verbose=False)
        seconds = time.perf_counter() - started
        value = run.metrics["test"][metric]
        base = run.metrics["baselines"].get(base_key, float("nan"))
        extra = {k: v for k, v in run.metrics["baselines"].items() if k != base_key}
        rows.append(
            (
                name,
                metric,
                value,
                base_key,
                base,
                bar,
                check(value, base),
                seconds,
                run.metrics["epochs_run"],
                extra,
            )
        )
        print(f"{name}: {metric}={value:.4f} {base_key}={base:.4f} ({seconds:.0f}s)", flush=True)

    print()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    print(f"runs in {root}")
    header = (
        "model",
        "metric",
        "value",
        "baseline",
        "baseline value",
        "bar",
        "pass",
        "epochs",
        "wall s",
    )
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    ok = True
    for name, metric, value, base_key, base, bar, passed, seconds, epochs, _ in rows:
        ok &= passed
        print(
            f"| {name} | {metric} | {value:.4f} | {base_key} | {base:.4f} | {bar} | "
            f"{'yes' if passed else 'NO'} | {epochs} | {seconds:.0f} |"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

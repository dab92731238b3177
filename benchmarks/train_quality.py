"""Train every built-in model with its defaults and print its test metric beside its
trivial baseline and its best classical baseline (benchmarks/classical.py), fitted on the
same training split and scored on the same test split, in the same run.

    python benchmarks/train_quality.py [MODEL ...] [--seed N] [--output runs/quality]

Each model trains through `zoo.train` (the same code path as `zoo train NAME`) on its
built-in dataset with the registry's default options and the seed (default 0), which also
seeds the split. A row passes when the model clears its bar and beats the best classical
baseline.
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
    parser.add_argument("--seed", type=int, default=0, help="training and split seed")
    parser.add_argument("--output", type=Path, default=None, help="where the runs go")
    args = parser.parse_args()

    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from zoo._quiet import import_tensorflow_quietly

    import_tensorflow_quietly()
    import zoo

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import classical

    root = args.output or Path(tempfile.mkdtemp(prefix="zoo-quality-"))
    rows = []
    for name in args.models:
        metric, base_key, bar, check = BARS[name]
        started = time.perf_counter()
        run = zoo.train(name, output=root / name, seed=args.seed, verbose=False)
        seconds = time.perf_counter() - started
        value = run.metrics["test"][metric]
        base = run.metrics["baselines"].get(base_key, float("nan"))
        found = classical.for_model(name, args.seed)  # the runner's split for this seed
        best_key, best = classical.best(name, found)
        passed = check(value, base) and value > best
        rows.append(
            (name, metric, value, base_key, base, best_key, best, bar, passed, seconds, run)
        )
        shown = ", ".join(f"{k}={v:.4f}" for k, v in found.items() if k.endswith(metric))
        print(
            f"{name}: {metric}={value:.4f} {base_key}={base:.4f} classical: {shown} "
            f"({seconds:.0f}s)",
            flush=True,
        )

    print()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    print(f"runs in {root}")
    print(f"seed {args.seed}; test split sizes in the runs' metrics.json")
    header = (
        "model",
        "metric",
        "zoo",
        "trivial baseline",
        "value",
        "best classical",
        "value",
        "zoo - classical",
        "bar",
        "pass",
        "epochs",
        "wall s",
    )
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    ok = True
    for name, metric, value, base_key, base, best_key, best, bar, passed, seconds, run in rows:
        ok &= passed
        print(
            f"| {name} | {metric} | {value:.4f} | {base_key} | {base:.4f} | {best_key} | "
            f"{best:.4f} | {value - best:+.4f} | {bar} and > classical | "
            f"{'yes' if passed else 'NO'} | {run.metrics['epochs_run']} | {seconds:.0f} |"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

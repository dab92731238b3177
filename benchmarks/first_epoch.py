"""What the first epoch of ``zoo.train`` costs, and what two runner choices save there.

    python benchmarks/first_epoch.py [MODEL ...] [--repeats 5] [--epochs 2]

The first epoch of a run pays one-off costs: tracing and first call of the train step, and
at its end the trace of the validation step. The runner cuts both:

- ``static``: every training batch has the same size (``zoo.pipeline``), so the train step
  traces a graph with a known batch dimension;
- ``pretrace``: the validation step is traced on a helper thread while the first epoch
  trains (``zoo.pretrace``).

Each variant runs ``zoo.train(MODEL)`` with the registry defaults (early stopping off) in a
fresh process: ``current`` is the zoo as shipped; ``no-pretrace`` and ``neither`` switch the
choices off by patching the runner's modules inside the benchmark process only. Variants
alternate, so a change in machine load hits all of them; medians.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import machine, quiet_tensorflow, run_child

VARIANTS = ("current", "no-pretrace", "neither")


def dynamic_training_stream(
    x: Any, y: Any, *, batch_size: int, seed: int, initial_epoch: int, epochs: int
) -> Any:
    """The runner's stream as it was before batches had a static size: short last batch."""
    import tensorflow as tf

    from zoo import pipeline

    n = int(len(next(iter(x.values())) if isinstance(x, dict) else x))
    xs, ys = pipeline._to_tensors(x), pipeline._to_tensors(y)

    def one_epoch(epoch: Any) -> Any:
        key = tf.stack([tf.constant(seed, tf.int64), epoch])
        order = tf.random.experimental.stateless_shuffle(tf.range(n), seed=key)
        return tf.data.Dataset.from_tensor_slices(order).batch(batch_size)

    stream = tf.data.Dataset.range(initial_epoch, max(epochs, initial_epoch + 1))
    stream = stream.flat_map(one_epoch).map(
        lambda idx: (pipeline._gather(xs, idx), pipeline._gather(ys, idx)),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    return stream.prefetch(tf.data.AUTOTUNE)


def child(model_name: str, variant: str, epochs: int) -> dict[str, Any]:
    quiet_tensorflow()
    import keras

    import zoo
    from zoo import pipeline, pretrace

    if variant in ("no-pretrace", "neither"):
        pretrace.ValidationPretrace.on_train_batch_begin = lambda self, batch, logs=None: None
    if variant == "neither":
        pipeline.training_stream = dynamic_training_stream

    class Clock(keras.callbacks.Callback):  # epoch and validation hooks only: no batch sync
        def __init__(self) -> None:
            super().__init__()
            self.epochs: list[float] = []
            self.validation: list[float] = []

        def on_epoch_begin(self, epoch, logs=None):  # type: ignore[no-untyped-def]
            self.epoch_started = time.perf_counter()

        def on_test_begin(self, logs=None):  # type: ignore[no-untyped-def]
            self.test_started = time.perf_counter()

        def on_test_end(self, logs=None):  # type: ignore[no-untyped-def]
            self.validation.append(time.perf_counter() - self.test_started)

        def on_epoch_end(self, epoch, logs=None):  # type: ignore[no-untyped-def]
            self.epochs.append(time.perf_counter() - self.epoch_started)

    clock = Clock()
    zoo.train(
        model_name,
        epochs=epochs,
        early_stopping=False,
        output=Path(tempfile.mkdtemp(prefix="zoo-first-epoch-")) / "run",
        verbose=False,
        callbacks=[clock],
    )
    return {
        "first_epoch": clock.epochs[0],
        "first_validation": clock.validation[0],
        "later_epoch": statistics.median(clock.epochs[1:]) if len(clock.epochs) > 1 else None,
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("models", nargs="*", default=["cnn", "transformer"])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--child", nargs=2, metavar=("MODEL", "VARIANT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child, args.epochs)))
        return 0
    rows = []
    for name in args.models:
        runs: dict[str, list[dict[str, float]]] = {v: [] for v in VARIANTS}
        for _ in range(args.repeats):
            for variant in VARIANTS:
                command = [sys.executable, __file__, "--child", name, variant]
                _, _, out = run_child(command + ["--epochs", str(args.epochs)])
                runs[variant].append(json.loads(out.strip().splitlines()[-1]))
        for variant, results in runs.items():
            med = {
                k: statistics.median(r[k] for r in results if r[k] is not None) for k in results[0]
            }
            rows.append((name, variant, med))
    print(f"machine: {machine()}; medians of {args.repeats} fresh processes per variant")
    print("| model | variant | first epoch s | its validation s | later epoch s |")
    print("|---|---|---|---|---|")
    for name, variant, med in rows:
        print(
            f"| {name} | {variant} | {med['first_epoch']:.2f} | {med['first_validation']:.2f} | "
            f"{med['later_epoch']:.2f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Training throughput of the applications plugin against plain keras.applications + fit.

For MobileNetV3Small and ResNet50 at 96x96 (6 classes, batch 32): `zoo train NAME --set
height=96 --set width=96` on its built-in shapes data, then - in a fresh process - a plain
script that builds ``keras.applications.<Network>(weights=None, input_shape=(96, 96, 3),
classes=6)``, compiles it with the same optimizer and loss and calls ``model.fit`` on the
same training and validation examples (the zoo run's split.npz). Both report images/s of
each epoch (training examples / epoch wall time, validation included on both sides): epoch
1 includes tracing, later epochs are steady state. Printed side by side with the ratio
zoo / plain (goal >= 1.0).

    python benchmarks/applications_throughput.py [--models mobilenet_v3_small resnet50]
        [--epochs 2] [--repeats 1] [--size 96]

The plain script does ResNet50's caffe preprocessing with keras.applications.resnet50.
preprocess_input on the arrays before fit (outside the timed epochs); the zoo model does it
in its graph. MobileNetV3 carries its own preprocessing on both sides. The machine is
shared: the load average is printed with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from _common import machine, run_child, zoo_command

FUNCTIONS = {"mobilenet_v3_small": "MobileNetV3Small", "resnet50": "ResNet50"}

PLAIN = r"""
import json, os, sys, time
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np
import keras
from zoo.plugins.applications.data import SEED, draw_shapes

function, run = sys.argv[1], sys.argv[5]
size, epochs, batch = (int(v) for v in sys.argv[2:5])
keras.utils.set_random_seed(0)
split = np.load(os.path.join(run, "split.npz"))
x, y = draw_shapes(3000, size, size, 6, seed=SEED)   # the zoo's built-in data at this size
if function == "ResNet50":
    x = keras.applications.resnet50.preprocess_input(x.copy())
model = getattr(keras.applications, function)(
    weights=None, input_shape=(size, size, 3), classes=6
)
model.compile(
    optimizer=keras.optimizers.Adam(1e-3),
    loss="sparse_categorical_crossentropy",
    metrics=["accuracy"],
)

class Timer(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()
    def on_epoch_end(self, epoch, logs=None):
        times.append(time.perf_counter() - self.start)

times = []
tr, va = split["train"], split["validation"]
model.fit(x[tr], y[tr], batch_size=batch, epochs=epochs, validation_data=(x[va], y[va]),
          callbacks=[Timer()], verbose=0, shuffle=True)
print(json.dumps({"epoch_times_s": times, "train": int(len(tr))}))
"""


def zoo_run(name: str, size: int, epochs: int, batch: int) -> dict:
    out = Path(tempfile.mkdtemp(prefix="zoo-apps-")) / "run"
    run_child(
        [
            *zoo_command(),
            "train",
            name,
            "--set",
            f"height={size}",
            "--set",
            f"width={size}",
            "--epochs",
            str(epochs),
            "--batch-size",
            str(batch),
            "--set",
            "early_stopping=false",
            "--output",
            str(out),
            "--quiet",
        ]
    )
    metrics = json.loads((out / "metrics.json").read_text())
    return {
        "run": out,
        "epoch_times_s": metrics["epoch_times_s"],
        "train": metrics["split"]["train"],
    }


def plain_run(name: str, size: int, epochs: int, batch: int, run: Path) -> dict:
    _, _, text = run_child(
        [sys.executable, "-c", PLAIN, FUNCTIONS[name], str(size), str(epochs), str(batch), str(run)]
    )
    return json.loads(text.strip().splitlines()[-1])


def rates(result: dict) -> list[float]:
    return [result["train"] / t for t in result["epoch_times_s"]]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(FUNCTIONS), choices=list(FUNCTIONS))
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--size", type=int, default=96)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    rows = []
    for name in args.models:
        zoo_rates: list[list[float]] = []
        plain_rates: list[list[float]] = []
        loads = []
        for _ in range(args.repeats):  # interleaved, so both sides see the same load
            loads.append(os.getloadavg()[0])
            zoo = zoo_run(name, args.size, args.epochs, args.batch_size)
            zoo_rates.append(rates(zoo))
            loads.append(os.getloadavg()[0])
            plain = plain_run(name, args.size, args.epochs, args.batch_size, zoo["run"])
            plain_rates.append(rates(plain))
            shutil.rmtree(zoo["run"].parent, ignore_errors=True)  # the temporary run folder
        for epoch in range(args.epochs):
            z = statistics.median(r[epoch] for r in zoo_rates)
            p = statistics.median(r[epoch] for r in plain_rates)
            rows.append((name, epoch + 1, z, p, z / p, max(loads)))
    print(
        f"\ntraining images/s at {args.size}x{args.size}, batch {args.batch_size}, 2,100 "
        "training + 300 validation images per epoch"
    )
    print(
        f"{'model':20s} {'epoch':>5s} {'zoo img/s':>10s} {'plain img/s':>12s} {'zoo/plain':>10s} "
        f"{'load':>5s}"
    )
    for name, epoch, z, p, ratio, load in rows:
        note = " (incl. tracing)" if epoch == 1 else ""
        print(f"{name:20s} {epoch:5d} {z:10.1f} {p:12.1f} {ratio:10.2f}x {load:5.1f}{note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

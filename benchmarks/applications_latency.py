"""Batch-1 latency of MobileNetV3Small exported to ONNX and LiteRT against the Keras model.

Builds ``zoo.create("mobilenet_v3_small")`` at its default size (224x224x3 RGB in [0, 255],
the Keras preprocessing inside the model, 1,000 classes; fresh weights: latency does not
depend on them. With fresh weights the features reaching the classifier are ~1e-10, so
every output is 1/1000 and the max |diff| column is 0 trivially; the exports' numerical
parity is tested elsewhere, with weights),
exports that same model object with ``zoo.export`` to ONNX (dynamic batch) and LiteRT
(static batch 1) in a temporary folder (each export is verified against the model by
zoo's own parity check), then times batch-1 inference of one fixed random image:

    model(x)               model(x, training=False), an eager call of the Keras model
    predict_on_batch       model.predict_on_batch(x) (Keras' compiled predict function)
    ONNX Runtime           onnxruntime.InferenceSession(...).run (CPU provider, defaults)
    LiteRT                 ai_edge_litert.interpreter.Interpreter: set_tensor, invoke,
                           get_tensor (default threads), and again with num_threads = CPUs

Each runtime gets ``--warmup`` calls, then ``--runs`` timed calls (default 200, at least
100), taken in blocks of 20 that rotate over the runtimes, so a change in the machine's load
hits every row alike. Prints the median and 90th percentile in ms, each runtime's ratio to
``model(x)`` and to ``predict_on_batch`` (medians), the largest output difference from
``model(x)``, and the load average before and after (the machine is shared).

    python benchmarks/applications_latency.py [--model mobilenet_v3_small] [--runs 200]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import machine, quiet_tensorflow

BLOCK = 20


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def time_rotating(
    calls: dict[str, Callable[[], Any]], runs: int, warmup: int
) -> dict[str, list[float]]:
    for fn in calls.values():
        for _ in range(warmup):
            fn()
    samples: dict[str, list[float]] = {name: [] for name in calls}
    while any(len(s) < runs for s in samples.values()):
        for name, fn in calls.items():
            for _ in range(min(BLOCK, runs - len(samples[name]))):
                start = time.perf_counter()
                fn()
                samples[name].append(time.perf_counter() - start)
    return samples


def litert_call(path: Path, x: Any, threads: int | None) -> tuple[Callable[[], Any], Any]:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path), num_threads=threads)
    interpreter.allocate_tensors()
    (inp,) = interpreter.get_input_details()
    out = interpreter.get_output_details()[0]

    def call() -> Any:
        interpreter.set_tensor(inp["index"], x)
        interpreter.invoke()
        return interpreter.get_tensor(out["index"])

    return call, interpreter


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="mobilenet_v3_small")
    parser.add_argument("--runs", type=int, default=200, help="timed calls per runtime")
    parser.add_argument("--warmup", type=int, default=10, help="untimed calls per runtime")
    args = parser.parse_args()
    if args.runs < 100:
        parser.error("--runs must be at least 100")

    print(f"machine: {machine()}")
    quiet_tensorflow()
    import numpy as np
    import onnxruntime as ort

    import zoo

    model = zoo.create(args.model, compile=False)
    shape = tuple(model.input.shape)[1:]
    x = np.random.default_rng(0).uniform(0, 255, (1, *shape)).astype("float32")

    with tempfile.TemporaryDirectory(prefix="zoo-latency-") as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        onnx = zoo.export(model, folder / f"{args.model}.onnx", format="onnx")
        lite = zoo.export(model, folder / f"{args.model}.tflite", format="litert", batch_size=1)
        export_s = time.perf_counter() - started
        print(
            f"exported in {export_s:.0f} s: ONNX {onnx.size / 1e6:.1f} MB (parity "
            f"{onnx.max_abs_diff:.1e}), LiteRT batch {lite.batch_size} {lite.size / 1e6:.1f} MB "
            f"(parity {lite.max_abs_diff:.1e})"
        )

        session = ort.InferenceSession(str(onnx.path), providers=["CPUExecutionProvider"])
        feed = session.get_inputs()[0].name
        lite_default, _ = litert_call(lite.path, x, None)
        lite_threads, _ = litert_call(lite.path, x, os.cpu_count())
        calls: dict[str, Callable[[], Any]] = {
            "model(x)": lambda: model(x, training=False),
            "predict_on_batch": lambda: model.predict_on_batch(x),
            "ONNX Runtime": lambda: session.run(None, {feed: x}),
            "LiteRT": lite_default,
            f"LiteRT {os.cpu_count()} threads": lite_threads,
        }
        reference = np.asarray(model(x, training=False))
        diffs = {
            name: float(np.max(np.abs(np.asarray(_first(fn())) - reference)))
            for name, fn in calls.items()
        }
        load_before = os.getloadavg()[0]
        samples = time_rotating(calls, args.runs, args.warmup)
        load_after = os.getloadavg()[0]

    call_ms = statistics.median(samples["model(x)"]) * 1000
    pob_ms = statistics.median(samples["predict_on_batch"]) * 1000
    size = "x".join(map(str, shape))
    print(
        f"\n{args.model}: {model.count_params():,} parameters, input 1x{size}, "
        f"{args.runs} timed calls per runtime after {args.warmup} warm-up calls; ms per call"
    )
    header = (
        f"{'runtime':<20}{'median ms':>10}{'p90 ms':>9}{'vs model(x)':>13}"
        f"{'vs predict_on_batch':>21}{'max |diff|':>12}"
    )
    print(header)
    print("-" * len(header))
    for name, s in samples.items():
        median = statistics.median(s) * 1000
        print(
            f"{name:<20}{median:>10.3f}{percentile(s, 0.9) * 1000:>9.3f}"
            f"{median / call_ms:>12.3f}x{median / pob_ms:>20.3f}x{diffs[name]:>12.1e}"
        )
    print(
        f"(load average {load_before:.1f} before timing, {load_after:.1f} after, on "
        f"{os.cpu_count()} CPUs; ONNX Runtime intra-op threads: its default)"
    )
    return 0


def _first(result: Any) -> Any:
    """The single output of a runtime's result (a list, a dict or an array)."""
    if isinstance(result, dict):
        (result,) = result.values()
    if isinstance(result, (list, tuple)):
        result = result[0]
    return result


if __name__ == "__main__":
    raise SystemExit(main())

"""Inference latency of an exported CNN in each runtime, against Keras, in one process.

Exports ``cnn`` (the seed's CNN, fresh weights unless ``--model`` names tagged weights) with
``zoo.export`` to SavedModel, ONNX and LiteRT (LiteRT twice: static batch 1 and static batch
64, its signatures being static), then times on the same inputs:

    model.predict(x)      Keras' batch API (builds a tf.data pipeline per call)
    model(x)              a direct eager call of the Keras model
    SavedModel            tf.saved_model.load(...).signatures["serving_default"]
    ONNX Runtime          onnxruntime.InferenceSession (CPU provider)
    LiteRT                the LiteRT interpreter (ai-edge-litert, else tf.lite.Interpreter)

at batch 1 and batch 64. Each cell is the median wall time of repeated calls after warm-up
(calls repeat until ``--seconds`` have passed, at least 5 times). Prints a table and the ratio
of the fastest exported runtime at batch 1 to ``model.predict`` at batch 1 (goal <= 0.1x);
exit code 1 when the goal is missed.

    python benchmarks/inference_latency.py [--model cnn] [--seconds 1.0] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

GOAL_RATIO = 0.1
BATCHES = (1, 64)


def timed(fn: Callable[[], Any], seconds: float, warmup: int = 3) -> float:
    """Median seconds per call of ``fn``."""
    for _ in range(warmup):
        fn()
    samples: list[float] = []
    deadline = time.perf_counter() + seconds
    while len(samples) < 5 or time.perf_counter() < deadline:
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
        if len(samples) >= 2000:
            break
    return statistics.median(samples)


def runners(model: Any, folder: Path, x: dict[int, Any]) -> dict[str, dict[int, Callable[[], Any]]]:
    """Runtime name -> batch -> a zero-argument call that predicts that batch."""
    import tensorflow as tf

    import zoo
    from zoo.exporting.formats import litert_interpreter

    name = model.input.name
    table: dict[str, dict[int, Callable[[], Any]]] = {
        "model.predict": {b: (lambda b=b: model.predict(x[b], verbose=0)) for b in BATCHES},
        "model(x)": {b: (lambda b=b: model(x[b], training=False)) for b in BATCHES},
    }

    saved = zoo.export(model, folder / "cnn_savedmodel", format="savedmodel")
    serve = tf.saved_model.load(str(saved.path / "1")).signatures["serving_default"]  # NAME/1/
    table["SavedModel"] = {b: (lambda b=b: serve(**{name: tf.constant(x[b])})) for b in BATCHES}

    try:
        import onnxruntime as ort
    except ImportError:
        print("onnxruntime not installed: skipping ONNX (pip install 'keras-zoo[onnx]')")
    else:
        onnx = zoo.export(model, folder / "cnn.onnx", format="onnx")
        session = ort.InferenceSession(str(onnx.path), providers=["CPUExecutionProvider"])
        feed_name = session.get_inputs()[0].name
        table["ONNX Runtime"] = {
            b: (lambda b=b: session.run(None, {feed_name: x[b]})) for b in BATCHES
        }

    table["LiteRT"] = {}
    for b in BATCHES:
        lite = zoo.export(model, folder / f"cnn-b{b}.tflite", format="litert", batch_size=b)
        runner = litert_interpreter(lite.path).get_signature_runner("serving_default")
        table["LiteRT"][b] = lambda b=b, runner=runner: runner(**{name: x[b]})
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="cnn", help="model name or name:tag (default cnn)")
    parser.add_argument("--seconds", type=float, default=1.0, help="time budget per cell")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)

    import numpy as np

    import zoo
    from zoo.catalog import get_catalog
    from zoo.catalog.config import make_config

    ref = get_catalog().resolve(args.model)
    if ref.weights is not None:
        model = zoo.load(ref.model.name, weights=ref.weights.name, compile=False)
    else:
        model = zoo.create(args.model, compile=False)
    config = make_config(ref)
    rng = np.random.default_rng(0)
    shape = tuple(model.input.shape)[1:]
    x = {b: rng.random((b, *shape)).astype("float32") for b in BATCHES}

    with tempfile.TemporaryDirectory() as tmp:
        table = runners(model, Path(tmp), x)
        results = {
            runtime: {b: timed(calls[b], args.seconds) * 1000 for b in BATCHES}
            for runtime, calls in table.items()
        }

    predict1 = results["model.predict"][1]
    exported = {k: v for k, v in results.items() if k not in ("model.predict", "model(x)")}
    fastest = min(exported, key=lambda k: exported[k][1])
    ratio = exported[fastest][1] / predict1
    if args.json:
        print(
            json.dumps(
                {
                    "model": args.model,
                    "params": model.count_params(),
                    "input": [None, *shape],
                    "config": config.to_dict(),
                    "ms": results,
                    "fastest_exported_batch1": fastest,
                    "ratio_to_predict": ratio,
                    "goal": GOAL_RATIO,
                },
                indent=2,
            )
        )
    else:
        print(
            f"{args.model}: {model.count_params():,} parameters, input {shape}, "
            f"{os.cpu_count()} CPU(s); median ms per call"
        )
        header = f"{'runtime':<16}{'batch 1':>12}{'batch 64':>12}{'vs predict @1':>16}"
        print(header)
        print("-" * len(header))
        for runtime, row in results.items():
            print(f"{runtime:<16}{row[1]:>12.3f}{row[64]:>12.3f}{row[1] / predict1:>15.4f}x")
        print(
            f"\nfastest exported runtime at batch 1: {fastest}, {ratio:.4f}x model.predict "
            f"(goal <= {GOAL_RATIO}x): {'met' if ratio <= GOAL_RATIO else 'MISSED'}"
        )
        if hasattr(os, "getloadavg"):
            print(f"(1-minute load average {os.getloadavg()[0]:.2f}: other work skews the figures)")
    return 0 if ratio <= GOAL_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())

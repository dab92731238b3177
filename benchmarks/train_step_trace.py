"""Cost of tracing the train step, with Keras' Adam update vs the zoo's fused one.

    python benchmarks/train_step_trace.py [MODEL ...] [--repeats 3]

For each built-in model (its preset, default batch size) a fresh process traces one
training step (forward, gradient, Adam update) as a ``tf.function``, runs it once (graph
optimisation, kernel set-up), then times steady steps. Keras' Adam spends ~38 graph ops
per variable; ``zoo.optimizers.fuse_adam_updates`` spends one. Every run pays the trace
and first call once, so they are what a short training run saves.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from typing import Any

from _common import default_arrays, machine, quiet_tensorflow, run_child

MODELS = ("cnn", "mlp", "rnn", "transformer", "recommender")


def child(model_name: str, fused: bool, steps: int) -> dict[str, Any]:
    quiet_tensorflow()
    import keras
    import tensorflow as tf

    from zoo.api import build_model
    from zoo.optimizers import fuse_adam_updates
    from zoo.tasks import task_for

    data = default_arrays(model_name)
    keras.utils.set_random_seed(0)
    model = build_model(data["ref"], data["config"], compile=False)
    optimizer = keras.optimizers.Adam(1e-3)
    if fused:
        fuse_adam_updates(optimizer)
    optimizer.build(model.trainable_variables)
    loss = task_for(data["ref"].architecture.task).loss()
    batch = data["config"].train["batch_size"]
    x, y = data["train"]
    xb = tf.nest.map_structure(lambda a: tf.constant(a[:batch]), x)
    yb = tf.constant(y[:batch])

    @tf.function
    def step(xb: Any, yb: Any) -> Any:
        with tf.GradientTape() as tape:
            value = loss(yb, model(xb, training=True))
        grads = tape.gradient(value, model.trainable_variables)
        optimizer.apply(grads, model.trainable_variables)
        return value

    started = time.perf_counter()
    graph = step.get_concrete_function(xb, yb).graph
    traced = time.perf_counter()
    step(xb, yb).numpy()
    first = time.perf_counter()
    for _ in range(steps):
        value = step(xb, yb)
    value.numpy()
    done = time.perf_counter()
    return {
        "ops": len(graph.get_operations()),
        "trace_s": traced - started,
        "first_call_s": first - traced,
        "step_ms": (done - first) / steps * 1000,
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("models", nargs="*", default=list(MODELS))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=30, help="steady steps timed per run")
    parser.add_argument("--child", nargs=2, metavar=("MODEL", "FUSED"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        name, fused = args.child
        print(json.dumps(child(name, fused == "fused", args.steps)))
        return 0
    print(f"machine: {machine()}; medians of {args.repeats} fresh processes")
    print("| model | update | graph ops | trace s | first call s | trace + first s | step ms |")
    print("|---|---|---|---|---|---|---|")
    for name in args.models:
        runs: dict[str, list[dict[str, float]]] = {"keras": [], "fused": []}
        for _ in range(args.repeats):
            for kind in runs:  # alternating, so a change in machine load hits both
                command = [sys.executable, __file__, "--child", name, kind]
                _, _, out = run_child(command + ["--steps", str(args.steps)])
                runs[kind].append(json.loads(out.strip().splitlines()[-1]))
        for kind, results in runs.items():
            med = {k: statistics.median(r[k] for r in results) for k in results[0]}
            fixed = statistics.median(r["trace_s"] + r["first_call_s"] for r in results)
            print(
                f"| {name} | {kind} | {med['ops']:.0f} | {med['trace_s']:.2f} | "
                f"{med['first_call_s']:.2f} | {fixed:.2f} | {med['step_ms']:.1f} |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Time to accuracy: the zoo's defaults against the seed's recipe, per built-in model.

    python benchmarks/time_to_accuracy.py [MODEL ...] [--seeds 3] [--max-epochs 60]

The seed's recipe is ``model.fit(x, y, epochs=..., batch_size=32)`` on numpy arrays with
Adam(1e-3) and no early stopping, on the same model, data and split. The zoo's is
``zoo.train(MODEL)`` with the registry defaults. After every epoch a watcher scores the
held-out test split; the clock counts training time only (the watcher's own evaluation is
excluded) until the target is reached. Goal: zoo / seed <= 0.5x.

Whether a small test split crosses a target at epoch 3 or 4 depends on the seed (weight
initialisation, shuffling, split), so each recipe runs with ``--seeds`` seeds, the two
recipes alternating, and the table gives medians.
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

from _common import default_arrays, machine, quiet_tensorflow, run_child

TARGETS = {  # model -> (metric, target); recommender: 2x the popularity baseline
    "cnn": ("accuracy", 0.97),
    "mlp": ("accuracy", 0.90),
    "rnn": ("accuracy", 0.90),
    "transformer": ("accuracy", 0.90),
    "recommender": ("recall_at_10", None),
}


def make_watcher(model_name: str, data: dict[str, Any], target: float) -> Any:
    import keras

    task = data["task"]
    metric = TARGETS[model_name][0]

    class Watcher(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.train_seconds = 0.0
            self.reached_after: float | None = None
            self.epochs = 0
            self.best = 0.0
            self.epoch_seconds: list[float] = []

        def on_train_begin(self, logs=None):  # type: ignore[no-untyped-def]
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):  # type: ignore[no-untyped-def]
            self.epoch_seconds.append(round(time.perf_counter() - self.started, 3))
            self.train_seconds += self.epoch_seconds[-1]
            self.epochs = epoch + 1
            score = task.evaluate(self.model, data["split"], data["config"], 256)[metric]
            self.best = max(self.best, score)
            if score >= target and self.reached_after is None:
                self.reached_after = self.train_seconds
                self.model.stop_training = True
            self.started = time.perf_counter()

    return Watcher()


def child(
    kind: str,
    model_name: str,
    max_epochs: int,
    options: dict[str, str] | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    quiet_tensorflow()
    import keras

    import zoo
    from zoo.building import build_model

    data = default_arrays(model_name, seed)
    metric, target = TARGETS[model_name]
    if target is None:
        base = data["task"].baselines(data["split"], data["config"])
        target = 2 * base["popularity_recall_at_10"]
    watcher = make_watcher(model_name, data, target)
    if kind == "zoo":
        zoo.train(
            model_name,
            seed=seed,
            output=Path(tempfile.mkdtemp(prefix="zoo-tta-")) / "run",
            verbose=False,
            callbacks=[watcher],
            **(options or {}),
        )
    else:
        keras.utils.set_random_seed(seed)
        model = build_model(data["ref"], data["config"], compile=False)
        task, cfg = data["task"], data["config"]
        model.compile(
            optimizer=keras.optimizers.Adam(1e-3), loss=task.loss(cfg), metrics=task.metrics(cfg)
        )
        x, y = data["train"]
        model.fit(x, y, epochs=max_epochs, batch_size=32, callbacks=[watcher], verbose=0)
    return {
        "seconds": watcher.reached_after,
        "epochs": watcher.epochs,
        "best": watcher.best,
        "target": target,
        "metric": metric,
        "train_seconds": watcher.train_seconds,
        "epoch_seconds": watcher.epoch_seconds,
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("models", nargs="*", default=list(TARGETS))
    parser.add_argument("--max-epochs", type=int, default=60)
    parser.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a zoo default (to compare candidate defaults)",
    )
    parser.add_argument("--only-zoo", action="store_true", help="skip the seed recipe")
    parser.add_argument("--seeds", type=int, default=3, help="runs per recipe (medians shown)")
    parser.add_argument(
        "--child", nargs=3, metavar=("KIND", "MODEL", "SEED"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    options = dict(item.split("=", 1) for item in args.sets)
    if args.child:
        kind, name, seed = args.child
        print(json.dumps(child(kind, name, args.max_epochs, options, int(seed))))
        return 0
    rows = []
    kinds = ("zoo",) if args.only_zoo else ("seed", "zoo")
    for name in args.models:
        results: dict[str, list[dict[str, Any]]] = {kind: [] for kind in kinds}
        for seed in range(args.seeds):
            for kind in kinds:  # alternating, so a change in machine load hits both
                command = [sys.executable, __file__, "--child", kind, name, str(seed)]
                command += ["--max-epochs", str(args.max_epochs)]
                _, _, out = run_child(command + [f"--set={item}" for item in args.sets])
                results[kind].append(json.loads(out.strip().splitlines()[-1]))
                print(
                    f"{name} {kind} seed {seed}: {results[kind][-1]}", file=sys.stderr, flush=True
                )
        rows.append((name, {kind: summarise(runs) for kind, runs in results.items()}))
    print(f"machine: {machine()}; {args.seeds} seed(s) per recipe, medians")
    print("| model | target | seed recipe s (epochs) | zoo defaults s (epochs) | zoo / seed |")
    print("|---|---|---|---|---|")
    for name, r in rows:
        ours = r["zoo"]
        seed = r.get("seed", ours)
        ratio = (
            f"{ours['seconds'] / seed['seconds']:.2f}x"
            if ours["seconds"] is not None and seed["seconds"]
            else "-"
        )
        print(
            f"| {name} | {seed['metric']} >= {seed['target']:.3f} | {shown(seed)} | "
            f"{shown(ours)} | {ratio} |"
        )
    return 0


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over seeds; a run that never reached the target counts as infinitely slow."""
    reached = [r for r in runs if r["seconds"] is not None]
    slow = float("inf")
    seconds = statistics.median([r["seconds"] if r["seconds"] is not None else slow for r in runs])
    return {
        "seconds": None if seconds == slow else seconds,
        "epochs": statistics.median([r["epochs"] for r in runs]),
        "reached": len(reached),
        "runs": len(runs),
        "best": max(r["best"] for r in runs),
        "metric": runs[0]["metric"],
        "target": statistics.median([r["target"] for r in runs]),
    }


def shown(x: dict[str, Any]) -> str:
    missed = f", {x['runs'] - x['reached']}/{x['runs']} missed" if x["reached"] < x["runs"] else ""
    if x["seconds"] is None:
        return f"not reached, best {x['best']:.3f} ({x['epochs']:g}{missed})"
    return f"{x['seconds']:.1f} ({x['epochs']:g}{missed})"


if __name__ == "__main__":
    sys.exit(main())

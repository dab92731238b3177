"""Transfer learning: fine-tuning pretrained weights vs training from scratch on k labelled
examples per class of classes the pretrained model never saw.

    python benchmarks/transfer.py [--modality cnn rnn] [--k 5 10 20] [--seeds 3]

cnn: pretrain on scikit-learn's digits 0-4 (PNG class folders, the user's path), publish the
run with `zoo weights add`, then on digits 5-9 train with k images per class, three ways:
from scratch; fine-tuned from the published weights (`zoo train cnn:digits-0-4`); and
fine-tuned with `--freeze backbone`. Every run of one k gets the same step budget
(`--steps`, epochs = steps / steps-per-epoch, no validation split, no early stopping) and
is evaluated with `zoo.evaluate(run, data=...)` on every held-out 5-9 image. Medians over
the seeds; the seed picks the k examples as well as the initialisation and the shuffle.

rnn: the same on the generated waveforms (10 classes = 4 shapes x 3 frequency bands, saved
as .npz): pretrain on classes 0-4, transfer to the unseen classes 5-9.

Goal (issue 17): at k = 10, fine-tuning beats from-scratch by >= 10 accuracy points.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, quiet_tensorflow  # noqa: E402

NEW_CLASSES = (5, 6, 7, 8, 9)
OLD_CLASSES = (0, 1, 2, 3, 4)
WORDS = dict(enumerate(("zero one two three four five six seven eight nine").split()))
VARIANTS = ("scratch", "fine-tuned", "fine-tuned, --freeze backbone")
GOAL_K, GOAL_POINTS = 10, 0.10


# ---------------------------------------------------------------------------- the data
def digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return bunch.images, bunch.target


def write_images(root: Path, x: np.ndarray, y: np.ndarray) -> Path:
    """``root/<word>/<i>.png``, 8x8 greyscale, as a user's image folder."""
    from PIL import Image

    for i, (image, label) in enumerate(zip(x, y, strict=True)):
        folder = root / WORDS[int(label)]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray((image * (255 / 16)).round().astype("uint8"), "L").save(folder / f"{i}.png")
    return root


def waveforms() -> tuple[np.ndarray, np.ndarray]:
    """The rnn's generated waveforms with 10 classes (its default dataset)."""
    from zoo.catalog import get_catalog
    from zoo.catalog.config import make_config
    from zoo.training.inputs import load_dataset

    ref = get_catalog().resolve("rnn")
    dataset = load_dataset(ref, make_config(ref, [("benchmark", {"num_classes": 10})]), None, None)
    return dataset.x, dataset.y


def write_arrays(path: Path, x: np.ndarray, y: np.ndarray) -> Path:
    np.savez(path, x=x, y=np.array([WORDS[int(label)] for label in y]))
    return path


MODALITIES: dict[str, dict[str, Any]] = {
    "cnn": {"model": "cnn", "load": digits, "write": write_images, "suffix": ""},
    "rnn": {"model": "rnn", "load": waveforms, "write": write_arrays, "suffix": ".npz"},
}


# ---------------------------------------------------------------------------- the runs
def pretrain(spec: dict[str, Any], x, y, root: Path) -> tuple[str, dict[str, Any]]:
    """Train on the old classes with the model's defaults; publish it as MODEL:pretrained."""
    import zoo
    from zoo.weights.publish import add_run

    keep = np.isin(y, OLD_CLASSES)
    data = spec["write"](root / f"pretrain{spec['suffix']}", x[keep], y[keep])
    started = time.perf_counter()
    run = zoo.train(spec["model"], data, output=root / "pretrain-run", verbose=False)
    published = add_run(run.path, "pretrained", registry=root / "registry.toml")
    info = {
        "accuracy": run.metrics["test"]["accuracy"],
        "epochs": run.metrics["epochs_run"],
        "examples": int(keep.sum()),
        "seconds": time.perf_counter() - started,
    }
    return published.name, info


def few_shot(spec: dict[str, Any], x, y, root: Path, k: int, seed: int) -> tuple[Path, Path, int]:
    """k examples of each new class to train on, every other new example to evaluate on."""
    rng = np.random.default_rng(1000 * k + seed)
    chosen = np.concatenate(
        [rng.choice(np.flatnonzero(y == c), k, replace=False) for c in NEW_CLASSES]
    )
    rest = np.setdiff1d(np.flatnonzero(np.isin(y, NEW_CLASSES)), chosen)
    where = root / f"k{k}-seed{seed}"
    where.mkdir(parents=True, exist_ok=True)
    train = spec["write"](where / f"train{spec['suffix']}", x[chosen], y[chosen])
    held_out = spec["write"](where / f"held-out{spec['suffix']}", x[rest], y[rest])
    return train, held_out, len(rest)


def run_variant(
    spec: dict[str, Any],
    variant: str,
    weights: str,
    train: Path,
    held_out: Path,
    k: int,
    seed: int,
    steps: int,
    out: Path,
) -> float:
    import zoo
    from zoo.catalog import get_catalog

    batch = int(get_catalog().resolve(spec["model"]).model.train.get("batch_size", 32))
    epochs = max(1, math.ceil(steps / math.ceil(k * len(NEW_CLASSES) / batch)))
    options: dict[str, Any] = dict(
        epochs=epochs, validation_split=0.0, test_split=0.0, early_stopping=False
    )
    name = spec["model"]
    if variant != "scratch":
        name = weights
    if "freeze" in variant:
        options.update(freeze="backbone", freeze_epochs=max(1, epochs // 3))
    run = zoo.train(name, train, seed=seed, output=out, verbose=False, **options)
    return float(zoo.evaluate(run.path, data=held_out)["test"]["accuracy"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modality", nargs="+", default=["cnn"], choices=list(MODALITIES))
    parser.add_argument("--k", nargs="+", type=int, default=[5, 10, 20])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=100, help="training steps per run")
    parser.add_argument("--output", type=Path, default=None, help="where data and runs go")
    args = parser.parse_args()

    quiet_tensorflow()
    started = time.perf_counter()
    root = args.output or Path(tempfile.mkdtemp(prefix="zoo-transfer-"))
    os.environ.setdefault("ZOO_HOME", str(root / "zoo-home"))  # published weights go here
    tables = []
    for modality in args.modality:
        spec = MODALITIES[modality]
        where = root / modality
        where.mkdir(parents=True, exist_ok=True)
        x, y = spec["load"]()
        weights, info = pretrain(spec, x, y, where)
        print(
            f"{modality}: pretrained on classes 0-4 ({info['examples']} examples): test "
            f"accuracy {info['accuracy']:.4f} after {info['epochs']} epochs, "
            f"{info['seconds']:.0f}s; published as {weights}",
            flush=True,
        )
        results: dict[tuple[int, str], list[float]] = {}
        held: dict[int, int] = {}
        for k in args.k:
            for seed in range(args.seeds):
                train, held_out, held[k] = few_shot(spec, x, y, where, k, seed)
                for i, variant in enumerate(VARIANTS):
                    out = where / f"k{k}-seed{seed}" / f"run-{i}"
                    acc = run_variant(
                        spec, variant, weights, train, held_out, k, seed, args.steps, out
                    )
                    results.setdefault((k, variant), []).append(acc)
                    print(f"  k={k} seed={seed} {variant}: {acc:.4f}", flush=True)
        tables.append((modality, info, results, held))

    print()
    print(f"machine: {machine()}; {time.perf_counter() - started:.0f}s in all; data in {root}")
    ok = True
    for modality, info, results, held in tables:
        print()
        print(
            f"{modality}: held-out accuracy on the unseen classes 5-9, median of {args.seeds} "
            f"seeds (min-max); {args.steps} training steps per run; pretrained on 0-4: "
            f"{info['accuracy']:.4f}"
        )
        print(
            "| k per class | held-out examples | "
            + " | ".join(VARIANTS)
            + " | best fine-tuned − scratch (points) | goal |"
        )
        print("|---" * (len(VARIANTS) + 4) + "|")
        for k in args.k:
            cells, medians = [], {}
            for variant in VARIANTS:
                values = results[(k, variant)]
                medians[variant] = statistics.median(values)
                cells.append(f"{medians[variant]:.3f} ({min(values):.3f}-{max(values):.3f})")
            gain = max(medians[v] for v in VARIANTS[1:]) - medians["scratch"]
            goal = "-"
            if k == GOAL_K:
                met = gain >= GOAL_POINTS
                ok &= met or modality != "cnn"
                goal = f"≥ +{GOAL_POINTS * 100:.0f} points: {'yes' if met else 'NO'}"
            print(f"| {k} | {held[k]} | " + " | ".join(cells) + f" | {gain * 100:+.1f} | {goal} |")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

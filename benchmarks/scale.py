"""Data at scale: peak memory and throughput of streamed inputs, beside Keras' own pipeline.

    python benchmarks/scale.py [--sizes 20000 200000] [--ratings-rows 10000000]
                               [--skip-ratings] [--workdir DIR] [--keep]
    python benchmarks/scale.py --sizes 2000 10000 --ratings-rows 200000   # ~3 min

Generates its data (into a temporary folder, or ``--workdir``; removed unless ``--keep``):

- image folders: digits-like 28x28 greyscale PNGs in word-named class folders
  (``zero/`` .. ``nine/``), one folder per ``--sizes`` entry. Each file is one of
  scikit-learn's 1,797 8x8 digits upscaled to 24x24 on a 28x28 canvas, shifted by up to
  2 pixels and with Gaussian noise (sigma 8 grey levels), so no two files are alike. The
  largest folder is written (by all CPUs); the smaller ones are hard links to its first
  files (so the classes stay balanced);
- a MovieLens-layout ``ratings.csv`` (``userId,movieId,rating,timestamp``) of
  ``--ratings-rows`` rows over ``--users`` users x ``--items`` items: users uniform,
  items popularity-skewed (Zipf, exponent 0.8), written with numpy in 1M-row chunks.

Then, each measurement in its own child process (peak RSS = that child's ``ru_maxrss``
from ``os.wait4``; wall = the child's whole life, Python and TensorFlow start-up
included; "load" = the 1-minute load average before -> after the child):

1. ``zoo train cnn --data FOLDER --epochs 1`` with the defaults (``data_cache=auto``: in
   memory up to 256 MB decoded, i.e. ~85k 28x28x1 images, streamed above) at every size,
   and on the smallest folder also with ``--set data_cache=stream`` and
   ``--set data_cache=memory``, alternately, ``--repeats`` times (default 3; the streamed /
   in-memory ratio is the median of the pairs' ratios). Its epoch time is
   ``epoch_times_s[0]`` of the run's metrics.json: training on the 70% train split
   (batch 32), the validation pass over the 10% validation split and the end-of-epoch
   checkpoint; the first step's tracing is included. File listing, the split, the
   in-memory path's upfront decoding and the test evaluation are outside the epoch (they
   are in the wall time).
2. Plain Keras on the same folder: ``keras.utils.image_dataset_from_directory(FOLDER,
   color_mode="grayscale", image_size=(28, 28), batch_size=32, validation_split=0.1,
   subset="both", seed=0)``, pixels mapped to [0, 1], the same network
   (``zoo.create("cnn")``, compiled as zoo compiles it), ``model.fit(train.take(steps),
   validation_data=val, epochs=1)``, where ``steps`` makes the training part 70% of the
   folder as in zoo. The epoch is timed with a callback (``on_epoch_begin`` ->
   ``on_epoch_end``, after the validation pass), so both sides do the same work per epoch.
   images/s = training images / epoch seconds on both sides.
3. ``zoo predict RUN --data FOLDER --output preds.csv`` with the smallest folder's default
   run, over every folder: peak RSS and rows/s (rows / wall time, start-up included; the
   "marginal" rate between the smallest and largest folder leaves start-up out).
4. ``zoo train recommender --data ratings.csv --epochs 1`` (plus any ``--recommender-set``
   options) and ``zoo evaluate RUN`` of that run: peak RSS and wall time of each.

Goals (issue 18): cnn peak RSS largest / smallest <= 1.1; zoo images/s >= 1.0x Keras' on
the same folder; streamed >= 0.8x in-memory on the smallest folder; recommender train and
evaluate <= 2 GB; predict's peak RSS flat.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import multiprocessing
import os
import shutil
import struct
import sys
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np
from _common import machine, run_child, zoo_command

HERE = Path(__file__).resolve().parent
WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
BATCH = 32  # zoo's default batch size for the cnn, used on both sides
VALIDATION, TEST = 0.1, 0.2  # zoo's default split of the cnn


# ------------------------------------------------------------------------------- data
def _digit_canvases() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits upscaled to 24x24 and centred on 28x28 (uint8), and labels."""
    from PIL import Image
    from sklearn.datasets import load_digits

    bunch = load_digits()
    out = np.zeros((len(bunch.images), 28, 28), dtype=np.uint8)
    for i, image in enumerate(bunch.images):
        small = Image.fromarray((image * (255 / 16)).astype(np.uint8), "L")
        out[i, 2:26, 2:26] = np.asarray(small.resize((24, 24), Image.BILINEAR))
    return out, bunch.target.astype(int)


_BASE: tuple[np.ndarray, np.ndarray] | None = None
_PNG_HEAD = b"\x89PNG\r\n\x1a\n"


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bytes(pixels: np.ndarray) -> bytes:
    """A greyscale 8-bit PNG of ``pixels`` (h x w uint8), without Pillow's per-file cost."""
    h, w = pixels.shape
    rows = np.zeros((h, w + 1), dtype=np.uint8)  # filter byte 0 ("none") per row
    rows[:, 1:] = pixels
    header = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    return (
        _PNG_HEAD
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(rows.tobytes(), 1))
        + _chunk(b"IEND", b"")
    )


def _write_chunk(job: tuple[str, int, int]) -> int:
    folder, start, stop = job
    canvases, targets = _BASE  # type: ignore[misc]
    rng = np.random.default_rng(start)
    m = stop - start
    k = np.arange(start, stop) % len(canvases)
    padded = np.pad(canvases, ((0, 0), (2, 2), (2, 2)))  # shifts of up to 2 pixels
    dy, dx = rng.integers(0, 5, size=(2, m))
    noise = rng.normal(0.0, 8.0, size=(m, 28, 28)).astype(np.float32)
    for j in range(m):
        image = padded[k[j], dy[j] : dy[j] + 28, dx[j] : dx[j] + 28] + noise[j]
        pixels = np.clip(image, 0, 255).astype(np.uint8)
        name = os.path.join(folder, WORDS[targets[k[j]]], f"{start + j:07d}.png")
        with open(name, "wb") as f:
            f.write(png_bytes(pixels))
    return m


def write_images(folder: Path, n: int, jobs: int) -> None:
    global _BASE
    _BASE = _digit_canvases()
    for word in WORDS:
        (folder / word).mkdir(parents=True, exist_ok=True)
    chunk = 2000
    work = [(str(folder), s, min(s + chunk, n)) for s in range(0, n, chunk)]
    with multiprocessing.get_context("fork").Pool(jobs) as pool:
        for _ in pool.imap_unordered(_write_chunk, work):
            pass


def link_subset(source: Path, folder: Path, n: int) -> None:
    """``folder`` holds the first ``n`` files of ``source`` (hard links, copies if not)."""
    for word in WORDS:
        (folder / word).mkdir(parents=True, exist_ok=True)
    for word in WORDS:
        for path in (source / word).iterdir():
            if int(path.stem) < n:
                try:
                    os.link(path, folder / word / path.name)
                except OSError:
                    shutil.copyfile(path, folder / word / path.name)


def write_ratings(path: Path, rows: int, users: int, items: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    popularity = 1.0 / np.arange(1, items + 1) ** 0.8
    cdf = np.cumsum(popularity / popularity.sum())
    item_of_rank = rng.permutation(items) + 1
    chunk = 1_000_000
    with open(path, "w", encoding="ascii") as f:
        f.write("userId,movieId,rating,timestamp\n")
        for start in range(0, rows, chunk):
            m = min(chunk, rows - start)
            user = rng.integers(1, users + 1, size=m)
            rank = np.minimum(np.searchsorted(cdf, rng.random(m)), items - 1)
            item = item_of_rank[rank]
            stars = rng.integers(1, 11, size=m)  # 0.5 .. 5.0 in halves
            stamp = 946_684_800 + rng.integers(0, 700_000_000, size=m)
            # the rating as "<whole>.<tenths>": stars / 2
            table = np.column_stack([user, item, stars // 2, (stars % 2) * 5, stamp])
            np.savetxt(f, table, fmt="%d,%d,%d.%d,%d")


# ------------------------------------------------------------------------------ children
class Measured:
    def __init__(self, seconds: float, peak_mb: float, out: str, load: str) -> None:
        self.seconds, self.peak_mb, self.out, self.load = seconds, peak_mb, out, load


def measure(args: list[str], label: str) -> Measured | str:
    """Run one child; its wall time, peak RSS and stdout, or the error (a string)."""
    before = os.getloadavg()[0]
    print(f"[{time.strftime('%H:%M:%S')}] {label} (load {before:.1f})", file=sys.stderr, flush=True)
    try:
        seconds, peak, out = run_child(args)
    except RuntimeError as exc:
        print(f"    FAILED: {exc}", file=sys.stderr, flush=True)
        return f"failed ({str(exc).rsplit(' ', 2)[-2:]!s})"
    after = os.getloadavg()[0]
    print(f"    {seconds:.1f} s, peak {peak:.0f} MB", file=sys.stderr, flush=True)
    return Measured(seconds, peak, out, f"{before:.1f}->{after:.1f}")


def zoo_train_cnn(folder: Path, run: Path, cache: str | None) -> Measured | str:
    extra = ["--set", f"data_cache={cache}"] if cache else []
    command = [*zoo_command(), "train", "cnn", "--data", str(folder), "--epochs", "1"]
    command += ["--output", str(run), "--json", *extra]
    return measure(command, f"zoo train cnn {folder.name} {cache or 'default'}")


def keras_child(folder: str) -> None:
    """The plain Keras side (run in its own process): one epoch, JSON on stdout."""
    from _common import quiet_tensorflow

    quiet_tensorflow()
    import keras
    import tensorflow as tf

    import zoo

    keras.utils.set_random_seed(0)
    train, val = keras.utils.image_dataset_from_directory(
        folder,
        color_mode="grayscale",
        image_size=(28, 28),
        batch_size=BATCH,
        validation_split=VALIDATION,
        subset="both",
        seed=0,
    )
    n = sum(len(files) for _, _, files in os.walk(folder))
    n_fit = n - int(VALIDATION * n)  # Keras' training subset
    n_train = min(n_fit, n - round(VALIDATION * n) - round(TEST * n))  # zoo's train split
    steps = math.ceil(n_train / BATCH)
    train = train.map(lambda x, y: (x / 255.0, y)).take(steps)
    val = val.map(lambda x, y: (x / 255.0, y))
    model = zoo.create("cnn")

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):  # type: ignore[no-untyped-def]
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):  # type: ignore[no-untyped-def]
            self.seconds = time.perf_counter() - self.started

    timer = Timer()
    model.fit(train, validation_data=val, epochs=1, callbacks=[timer], verbose=0)
    del tf
    print(json.dumps({"epoch_s": timer.seconds, "train_images": n_train, "images": n}))


def keras_fit(folder: Path) -> Measured | str:
    command = [sys.executable, str(Path(__file__).resolve()), "--keras-child", str(folder)]
    return measure(command, f"keras fit {folder.name}")


def _metrics(run: Path) -> dict:
    return json.loads((run / "metrics.json").read_text())


# --------------------------------------------------------------------------------- main
def _mb(m: Measured | str) -> str:
    return f"{m.peak_mb:.0f}" if isinstance(m, Measured) else str(m)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 200_000])
    parser.add_argument("--ratings-rows", type=int, default=10_000_000)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=50_000)
    parser.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="streamed and in-memory runs on the smallest folder, alternating; the ratio "
        "reported is the median of the pairs' ratios (one pair varied by 25%% under load)",
    )
    parser.add_argument("--skip-ratings", action="store_true")
    parser.add_argument("--skip-images", action="store_true")
    parser.add_argument(
        "--recommender-set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra --set options for zoo train recommender (e.g. max_examples=2000000)",
    )
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the generated data and runs")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--keras-child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.keras_child:
        keras_child(args.keras_child)
        return 0

    sizes = sorted(set(args.sizes))
    work = args.workdir or Path(tempfile.mkdtemp(prefix="zoo-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    print(
        f"# {time.strftime('%Y-%m-%d %H:%M')}  python benchmarks/scale.py " + " ".join(sys.argv[1:])
    )
    print(f"machine: {machine()} (at start)")
    try:
        if not args.skip_images:
            images_section(work, sizes, args.jobs, max(1, args.repeats))
        if not args.skip_ratings:
            ratings_section(work, args)
    finally:
        if args.keep:
            print(f"data and runs kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(f"total {time.perf_counter() - started:.0f} s, load now {os.getloadavg()[0]:.1f}")
    return 0


def images_section(work: Path, sizes: list[int], jobs: int, repeats: int = 1) -> None:
    folders = {n: work / f"digits_{n}" for n in sizes}
    biggest = sizes[-1]
    t0 = time.perf_counter()
    if not (folders[biggest] / "nine").is_dir():
        write_images(folders[biggest], biggest, jobs)
    generate_s = time.perf_counter() - t0
    for n in sizes[:-1]:
        if not (folders[n] / "nine").is_dir():
            link_subset(folders[biggest], folders[n], n)
    size_mb = sum(p.stat().st_size for p in folders[biggest].rglob("*.png")) / 2**20
    print(
        f"generated {biggest} PNGs ({size_mb:.0f} MB on disk) in {generate_s:.0f} s "
        f"with {jobs} processes; smaller folders are hard links to its first files"
    )

    runs = work / "runs"
    train: dict[tuple[int, str], Measured | str] = {}
    keras_runs: dict[int, Measured | str] = {}
    small = sizes[0]
    for n in sizes:
        train[(n, "default")] = zoo_train_cnn(folders[n], runs / f"cnn_{n}_default", None)
        keras_runs[n] = keras_fit(folders[n])
    alternating = [  # (streamed, in-memory) keys, one pair per repeat
        tuple((small, cache if r == 0 else f"{cache}-{r + 1}") for cache in ("stream", "memory"))
        for r in range(repeats)
    ]
    for pair in alternating:
        for key in pair:
            cache = key[1].split("-")[0]
            train[key] = zoo_train_cnn(folders[small], runs / f"cnn_{small}_{key[1]}", cache)

    def epoch_and_rate(key: tuple[int, str]) -> tuple[float, int] | None:
        m = train[key]
        if not isinstance(m, Measured):
            return None
        metrics = _metrics(runs / f"cnn_{key[0]}_{key[1]}")
        n_train = _train_count(metrics, key[0])
        return metrics["epoch_times_s"][0], n_train

    print()
    print("### zoo train cnn --data FOLDER --epochs 1 vs image_dataset_from_directory + fit")
    print()
    print(
        "| images | trainer | data_cache | peak RSS MB | epoch s | train images | images/s "
        "| wall s | load |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    speeds: dict[tuple[int, str], float] = {}
    for n in sizes:
        keys = [(n, "default")] + ([k for pair in alternating for k in pair] if n == small else [])
        for key in keys:
            m = train[key]
            found = epoch_and_rate(key)
            if isinstance(m, Measured) and found:
                epoch, n_train = found
                speeds[key] = n_train / epoch
                print(
                    f"| {n} | zoo train cnn | {key[1]} | {m.peak_mb:.0f} | {epoch:.1f} | "
                    f"{n_train} | {speeds[key]:.0f} | {m.seconds:.1f} | {m.load} |"
                )
            else:
                print(f"| {n} | zoo train cnn | {key[1]} | {_mb(m)} | | | | | |")
        m = keras_runs[n]
        if isinstance(m, Measured):
            result = json.loads(m.out.strip().splitlines()[-1])
            speeds[(n, "keras")] = result["train_images"] / result["epoch_s"]
            print(
                f"| {n} | Keras image_dataset_from_directory + fit | - | {m.peak_mb:.0f} | "
                f"{result['epoch_s']:.1f} | {result['train_images']} | "
                f"{speeds[(n, 'keras')]:.0f} | {m.seconds:.1f} | {m.load} |"
            )
        else:
            print(f"| {n} | Keras image_dataset_from_directory + fit | - | {_mb(m)} | | | | | |")
    print()
    big = sizes[-1]

    def ratio(a: Measured | str, b: Measured | str) -> str:
        if isinstance(a, Measured) and isinstance(b, Measured):
            return f"{a.peak_mb / b.peak_mb:.2f}"
        return "n/a"

    if big != small:
        default = ratio(train[(big, "default")], train[(small, "default")])
        streamed = ratio(train[(big, "default")], train[(small, "stream")])
        print(
            f"peak RSS {big} / {small} images: zoo default {default} (goal <= 1.1), "
            f"zoo streamed {streamed}, Keras {ratio(keras_runs[big], keras_runs[small])}"
        )
    for n in sizes:
        if (n, "default") in speeds and (n, "keras") in speeds:
            print(
                f"images/s zoo default / Keras at {n}: "
                f"{speeds[(n, 'default')] / speeds[(n, 'keras')]:.2f}x (goal >= 1.0x)"
            )
    ratios = [speeds[a] / speeds[b] for a, b in alternating if a in speeds and b in speeds]
    if ratios:
        each = ", ".join(f"{r:.2f}" for r in ratios)
        print(
            f"images/s zoo streamed / in memory at {small}: {float(np.median(ratios)):.2f}x, "
            f"median of {len(ratios)} alternating pairs ({each}) (goal >= 0.8x)"
        )
    if (small, "stream") in speeds and (small, "keras") in speeds:
        print(
            f"images/s zoo streamed / Keras at {small}: "
            f"{speeds[(small, 'stream')] / speeds[(small, 'keras')]:.2f}x"
        )

    # predict
    run = runs / f"cnn_{small}_default"
    if not isinstance(train[(small, "default")], Measured):
        print("zoo predict: skipped (no cnn run)")
        return
    print()
    print(f"### zoo predict RUN --data FOLDER --output preds.csv (RUN: the {small}-image run)")
    print()
    print("| images | peak RSS MB | wall s | rows written | rows/s (wall) | load |")
    print("|---|---|---|---|---|---|")
    predicted: dict[int, Measured] = {}
    for n in sizes:
        out = work / f"preds_{n}.csv"
        m = measure(
            [*zoo_command(), "predict", str(run), "--data", str(folders[n]), "--output", str(out)],
            f"zoo predict {n}",
        )
        if isinstance(m, Measured):
            rows = _csv_rows(out)
            predicted[n] = m
            print(
                f"| {n} | {m.peak_mb:.0f} | {m.seconds:.1f} | {rows} | {rows / m.seconds:.0f} | "
                f"{m.load} |"
            )
            out.unlink(missing_ok=True)
        else:
            print(f"| {n} | {m} | | | | |")
    if small in predicted and big in predicted and big != small:
        a, b = predicted[big], predicted[small]
        marginal = (big - small) / max(a.seconds - b.seconds, 1e-9)
        print()
        print(
            f"predict peak RSS {big} / {small}: {a.peak_mb / b.peak_mb:.2f} (flat: ~1); "
            f"marginal rate {marginal:.0f} rows/s (start-up left out)"
        )


def _train_count(metrics: dict, n: int) -> int:
    split = metrics.get("split")
    if isinstance(split, dict):
        for key in ("train", "n_train", "train_size"):
            if isinstance(split.get(key), int):
                return split[key]
        sizes = split.get("sizes")
        if isinstance(sizes, dict) and isinstance(sizes.get("train"), int):
            return sizes["train"]
    return n - round(VALIDATION * n) - round(TEST * n)


def _csv_rows(path: Path) -> int:
    if not path.exists():
        return 0
    with open(path, newline="", encoding="utf-8") as f:
        return sum(1 for _ in csv.reader(f)) - 1


def ratings_section(work: Path, args: argparse.Namespace) -> None:
    path = work / "ratings.csv"
    t0 = time.perf_counter()
    if not path.exists():
        write_ratings(path, args.ratings_rows, args.users, args.items)
    print()
    print(
        f"generated ratings.csv: {args.ratings_rows} rows, {args.users} users x "
        f"{args.items} items, {path.stat().st_size / 2**20:.0f} MB, in "
        f"{time.perf_counter() - t0:.0f} s"
    )
    run = work / "runs" / "recommender"
    extra = [a for kv in args.recommender_set for a in ("--set", kv)]
    command = [*zoo_command(), "train", "recommender", "--data", str(path), "--epochs", "1"]
    trained = measure([*command, "--output", str(run), "--json", *extra], "zoo train recommender")
    print()
    print(
        "### zoo train recommender --data ratings.csv --epochs 1"
        + (" " + " ".join(extra) if extra else "")
        + ", then zoo evaluate RUN"
    )
    print()
    print("| command | peak RSS MB | wall s | epoch s | goal | load |")
    print("|---|---|---|---|---|---|")
    if not isinstance(trained, Measured):
        print(f"| zoo train recommender | {trained} | | | <= 2048 MB | |")
        print("| zoo evaluate RUN | not run (no run) | | | <= 2048 MB | |")
        return
    metrics = _metrics(run)
    epoch = metrics["epoch_times_s"][0] if metrics.get("epoch_times_s") else float("nan")
    print(
        f"| zoo train recommender | {trained.peak_mb:.0f} | {trained.seconds:.1f} | "
        f"{epoch:.1f} | <= 2048 MB | {trained.load} |"
    )
    evaluated = measure([*zoo_command(), "evaluate", str(run), "--json"], "zoo evaluate")
    if isinstance(evaluated, Measured):
        print(
            f"| zoo evaluate RUN | {evaluated.peak_mb:.0f} | {evaluated.seconds:.1f} | - | "
            f"<= 2048 MB | {evaluated.load} |"
        )
        text = evaluated.out.strip()
        test = (
            {k: round(v, 4) for k, v in json.loads(text).get("test", {}).items()}
            if text.startswith("{")
            else text[:200]
        )
        print()
        print(f"train split {_train_count(metrics, 0)} ratings; evaluate: {test}")
    else:
        print(f"| zoo evaluate RUN | {evaluated} | | | <= 2048 MB | |")


if __name__ == "__main__":
    sys.exit(main())

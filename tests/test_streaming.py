"""Streamed inputs (issue 18): image folders stay on disk, tf.data reads them per batch.

Streaming and in-memory give the same tensors, splits, batches and metrics; a streamed
run killed with SIGKILL resumes exactly; memory does not grow with the folder; a bad file
met while reading is named in one line.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import run_zoo

import zoo
from zoo.data.pipeline import evaluation_stream, training_stream
from zoo.data.sources import ImageFiles, cache_policy, is_streamed
from zoo.errors import DataError

WORDS = ("cat", "dog", "owl")


def write_folder(root: Path, per_class: int, size: int = 20, seed: int = 0) -> Path:
    """``root/<word>/<n>.png`` colour images whose mean colour depends on the class."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    for c, word in enumerate(WORDS):
        (root / word).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            base = np.zeros((size, size, 3)) + 60 + 70 * c
            pixels = np.clip(base + rng.normal(0, 40, base.shape), 0, 255).astype("uint8")
            Image.fromarray(pixels).save(root / word / f"{i:05d}.png")
    return root


def test_streamed_images_equal_the_in_memory_cache(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "pets", 8, size=23)
    files = sorted(folder.rglob("*.png"))
    source = ImageFiles(files, 16, 12, 3)
    assert is_streamed(source) and source.shape == (24, 16, 12, 3)
    array = np.asarray(source)
    assert array.dtype == np.float32 and 0.0 <= array.min() and array.max() <= 1.0
    # a subset is still streamed and reads the same examples
    subset = source[np.array([5, 1, 17])]
    assert isinstance(subset, ImageFiles)
    np.testing.assert_array_equal(np.asarray(subset), array[[5, 1, 17]])
    np.testing.assert_array_equal(source[3], array[3])
    # the in-memory policy reads it, the stream policy keeps it on disk
    assert cache_policy(source, "stream") is source
    np.testing.assert_array_equal(cache_policy(source, "memory"), array)
    np.testing.assert_array_equal(cache_policy(source, "auto"), array)  # small: memory

    y = np.arange(24) % 3
    kwargs = {"batch_size": 5, "seed": 3, "initial_epoch": 1, "epochs": 3}
    streamed = list(training_stream(source, y, **kwargs).take(10).as_numpy_iterator())
    cached = list(training_stream(array, y, **kwargs).take(10).as_numpy_iterator())
    assert len(streamed) == len(cached) == 10
    for (xs, ys), (xc, yc) in zip(streamed, cached, strict=True):
        np.testing.assert_array_equal(xs, xc)
        np.testing.assert_array_equal(ys, yc)
    for (xs,), (xc,) in zip(
        evaluation_stream(source, None, batch_size=7).as_numpy_iterator(),
        evaluation_stream(array, None, batch_size=7).as_numpy_iterator(),
        strict=True,
    ):
        np.testing.assert_array_equal(xs, xc)


def test_streamed_and_in_memory_runs_have_the_same_split_and_metrics(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "pets", 20)
    runs = {}
    for mode in ("stream", "memory"):
        runs[mode] = zoo.train(
            "cnn-small",
            folder,
            output=tmp_path / mode,
            verbose=False,
            epochs=2,
            batch_size=8,
            data_cache=mode,
            height=20,
            width=20,
            channels=3,
        )
    stream, memory = (json.loads((tmp_path / m / "metrics.json").read_text()) for m in runs)
    with (
        np.load(tmp_path / "stream" / "split.npz") as a,
        np.load(tmp_path / "memory" / "split.npz") as b,
    ):
        for name in ("train", "validation", "test"):
            np.testing.assert_array_equal(a[name], b[name])
    for key, value in memory["test"].items():
        assert stream["test"][key] == pytest.approx(value, rel=1e-5, abs=1e-6)
    weights = [zoo.load(tmp_path / m).get_weights() for m in runs]
    for a, b in zip(*weights, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    # evaluate and predict the streamed run on its folder, again streamed
    scores = zoo.evaluate(tmp_path / "stream")
    assert scores["test"]["accuracy"] == pytest.approx(stream["test"]["accuracy"], abs=1e-6)
    rows = zoo.predict(tmp_path / "stream", folder)
    assert [Path(r["path"]).parent.name for r in rows] == [w for w in WORDS for _ in range(20)]


@pytest.mark.slow  # over 7 s: kept out of the quick run (pytest -m 'not slow')
def test_a_corrupt_file_met_while_streaming_is_named(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "pets", 12)
    good = (folder / "dog" / "00004.png").read_bytes()
    (folder / "dog" / "00004.png").write_bytes(good[: len(good) // 3])  # truncated
    common = ["--epochs", "1", "--set", "height=20", "--set", "width=20", "--set", "channels=3"]
    code, out, err = run_zoo(
        "train", "cnn-small", "--data", str(folder), *common, "--set", "data_cache=stream"
    )
    assert code != 0
    assert "dog/00004.png: cannot be read as an image" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    # asked to skip: trained without it, and the count is reported
    code, out, err = run_zoo(
        "train",
        "cnn-small",
        "--data",
        str(folder),
        *common,
        "--set",
        "skip_unreadable=true",
        "--output",
        str(tmp_path / "skipped"),
    )
    assert code == 0, err
    assert "skipped 1 unreadable file(s) of 36" in err
    # predicting over the folder meets the file while rows are written: named, no file left
    # (the skipped run would leave it out again: its run.toml records skip_unreadable)
    out = tmp_path / "preds.csv"
    code, _, err = run_zoo("predict", "cnn-small", "--data", str(folder), "--output", str(out))
    assert code != 0 and "dog/00004.png: cannot be read as an image" in err, err
    assert "Traceback" not in err and not out.exists()
    with pytest.raises(DataError, match="00004.png: cannot be read as an image"):
        np.asarray(ImageFiles(sorted(folder.rglob("*.png")), 8, 8, 1))


@pytest.mark.slow
def test_resume_after_sigkill_of_a_streamed_run_is_exact(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "pets", 40)
    args = [
        "train",
        "cnn-small",
        "--data",
        str(folder),
        "--epochs",
        "6",
        "--quiet",
        "--set",
        "data_cache=stream",
        "--set",
        "early_stopping=false",
        "--set",
        "batch_size=16",
        "--set",
        "height=20",
        "--set",
        "width=20",
    ]
    zoo_cmd = [sys.executable, "-c", "from zoo.cli.main import main; main()"]
    killed = tmp_path / "killed"
    proc = subprocess.Popen([*zoo_cmd, *args, "--output", str(killed)], stderr=subprocess.DEVNULL)
    state = killed / "checkpoints" / "state.json"
    deadline = time.time() + 180
    while time.time() < deadline:
        if state.is_file() and json.loads(state.read_text())["epochs_done"] >= 2:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (killed / "metrics.json").exists()
    done = subprocess.run(
        [*zoo_cmd, "train", "--resume", str(killed), "--quiet"], capture_output=True
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    straight = tmp_path / "straight"
    done = subprocess.run([*zoo_cmd, *args, "--output", str(straight)], capture_output=True)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    resumed = json.loads((killed / "metrics.json").read_text())
    plain = json.loads((straight / "metrics.json").read_text())
    assert resumed["epochs_run"] == plain["epochs_run"] == 6
    for key, value in plain["test"].items():
        assert resumed["test"][key] == pytest.approx(value, abs=1e-5)


# VmHWM, the peak of this process's own memory: ru_maxrss would start at the forking
# parent's (pytest's) RSS, which Linux carries across exec.
PEAK_RSS = """
import sys
from zoo.cli.main import main
try:
    main(sys.argv[1:])
except SystemExit as exc:
    assert not exc.code, exc.code
status = dict(line.split(":", 1) for line in open("/proc/self/status"))
print("PEAK_KB", status["VmHWM"].split()[0])
"""


def _peak_rss_mb(folder: Path, mode: str, out: Path) -> float:
    args = ["train", "cnn-small", "--data", str(folder), "--epochs", "1", "--quiet"]
    args += ["--set", f"data_cache={mode}", "--set", "height=64", "--set", "width=64"]
    args += ["--set", "channels=3", "--set", "batch_size=64", "--output", str(out)]
    proc = subprocess.run(
        [sys.executable, "-c", PEAK_RSS, *args], capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    line = next(x for x in proc.stdout.splitlines() if x.startswith("PEAK_KB"))
    return int(line.split()[1]) / 1024


@pytest.mark.slow
def test_peak_memory_of_a_streamed_run_does_not_grow_with_the_folder(tmp_path: Path) -> None:
    small = write_folder(tmp_path / "small", 300, size=64, seed=1)  # 900 images
    large = write_folder(tmp_path / "large", 1500, size=64, seed=2)  # 4,500: 5x
    # 64x64x3 float32 = 48 KB an image: in memory the large folder costs ~170 MB more
    grow_stream = _peak_rss_mb(large, "stream", tmp_path / "r1") - _peak_rss_mb(
        small, "stream", tmp_path / "r2"
    )
    grow_memory = _peak_rss_mb(large, "memory", tmp_path / "r3") - _peak_rss_mb(
        small, "memory", tmp_path / "r4"
    )
    assert grow_memory > 120, f"control: in-memory peak grew only {grow_memory:.0f} MB"
    assert grow_stream < 40, f"streamed peak grew {grow_stream:.0f} MB for 5x the images"


def test_each_worker_reads_only_its_rows_of_every_global_batch(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "pets", 7, size=8)
    source = ImageFiles(sorted(folder.rglob("*.png")), 8, 8, 1)
    y = np.arange(21)
    kwargs = {"batch_size": 5, "seed": 1, "initial_epoch": 0, "epochs": 2}
    for x in (source, np.asarray(source)):
        whole = list(training_stream(x, y, **kwargs).as_numpy_iterator())
        parts = [
            list(training_stream(x, y, part=(w, 3), **kwargs).as_numpy_iterator()) for w in range(3)
        ]
        assert len(whole) == 10 and all(len(p) == 10 for p in parts)
        for step, (xs, ys) in enumerate(whole):
            # rows [5w//3, 5(w+1)//3): 1, 2 and 2 of the 5 rows of each global batch
            assert [len(p[step][1]) for p in parts] == [1, 2, 2]
            np.testing.assert_array_equal(np.concatenate([p[step][1] for p in parts]), ys)
            np.testing.assert_array_equal(np.concatenate([p[step][0] for p in parts]), xs)


def test_sampled_pairs_are_made_as_they_are_read() -> None:
    from zoo.tasks.ranking import SampledPairs

    rng = np.random.default_rng(0)
    users = rng.integers(0, 50, 300).astype("int32")
    items = rng.integers(0, 40, 300).astype("int32")
    keys = np.unique(users.astype("int64") * 40 + items)
    sampler = SampledPairs(users, items, keys, 40, 4, seed=7)
    x = {"user_id": sampler.column("user"), "item_id": sampler.column("item")}
    y = sampler.column("label")
    assert len(y) == 1500 and is_streamed(x)  # 300 positives x (1 + 4): nothing held
    kwargs = {"batch_size": 64, "seed": 1, "initial_epoch": 0, "epochs": 2}
    batches = list(training_stream(x, y, **kwargs).as_numpy_iterator())
    assert len(batches) == 2 * 24 and all(len(b[1]) == 64 for b in batches)
    u = np.concatenate([b[0]["user_id"] for b in batches]).astype("int64")
    i = np.concatenate([b[0]["item_id"] for b in batches])
    labels = np.concatenate([b[1] for b in batches])
    # a pair is labelled 1 exactly when it was observed; about 4 negatives per positive
    np.testing.assert_array_equal(np.isin(u * 40 + i, keys), labels == 1)
    assert 0.75 < (labels == 0).mean() < 0.8
    # the same pairs in memory, in order; a resumed stream and two workers agree
    held = np.asarray(y)
    assert held[::5].min() == 1.0 and len(held) == 1500
    resumed = list(training_stream(x, y, **{**kwargs, "initial_epoch": 1}).as_numpy_iterator())
    for a, b in zip(resumed, batches[24:], strict=True):
        np.testing.assert_array_equal(a[0]["item_id"], b[0]["item_id"])
    halves = [
        list(training_stream(x, y, part=(w, 2), **kwargs).as_numpy_iterator()) for w in range(2)
    ]
    for step, (_, ys) in enumerate(batches):
        np.testing.assert_array_equal(np.concatenate([h[step][1] for h in halves]), ys)
    assert (
        sum(len(b[1]) for b in evaluation_stream(x, y, batch_size=100).as_numpy_iterator()) == 1500
    )


def test_sampled_pairs_read_many_at_once_equal_one_at_a_time(monkeypatch) -> None:
    """tf.data reads a batch's worth of positives per call; each positive's negatives are a
    function of its position only, so the batches equal one-positive-per-call reading."""
    import tensorflow as tf

    from zoo.tasks.ranking import PairColumn, SampledPairs

    rng = np.random.default_rng(1)
    users = rng.integers(0, 30, 200).astype("int32")
    items = rng.integers(0, 25, 200).astype("int32")
    keys = np.unique(users.astype("int64") * 25 + items)
    sampler = SampledPairs(users, items, keys, 25, 6, seed=3)
    many = [t.numpy() for t in sampler.group(tf.constant([5, 0, 199], tf.int64))]
    for row, position in enumerate((5, 0, 199)):
        one = [t.numpy() for t in sampler.group(tf.constant(position, tf.int64))]
        for a, b in zip(many, one, strict=True):
            np.testing.assert_array_equal(a[row], b)

    def batches(sampler: SampledPairs) -> list:
        x = {"user_id": sampler.column("user"), "item_id": sampler.column("item")}
        kwargs = {"batch_size": 50, "seed": 2, "initial_epoch": 0, "epochs": 2}
        train = list(training_stream(x, sampler.column("label"), **kwargs))
        held = list(evaluation_stream(x, sampler.column("label"), batch_size=64))
        return [tf.nest.map_structure(lambda t: t.numpy(), b) for b in train + held]

    vectorized = batches(SampledPairs(users, items, keys, 25, 6, seed=3))
    monkeypatch.setattr(PairColumn, "vectorized", False)
    one_by_one = batches(SampledPairs(users, items, keys, 25, 6, seed=3))
    assert len(vectorized) == len(one_by_one) == 2 * 28 + 22
    for a, b in zip(vectorized, one_by_one, strict=True):
        tf.nest.map_structure(np.testing.assert_array_equal, a, b)


def test_pair_parts_stream_together_when_all_of_them_pass_the_memory_limit(monkeypatch) -> None:
    """Validation and test parts are not drawn up front while training streams (10M
    ratings: 20 s and +700 MB), even when each part alone would fit in memory."""
    from zoo.data import sources
    from zoo.tasks import ranking
    from zoo.tasks.retrieval import PairSplit

    rng = np.random.default_rng(0)
    users = np.repeat(np.arange(50), 10)
    held = ranking.leave_last_out(users, rng.integers(0, 40, len(users)), 50, 40)
    monkeypatch.setattr(sources, "MEMORY_LIMIT_BYTES", len(users) * 5 * 12 - 1)
    split = PairSplit(held, 4, seed=0)
    assert all(split.streamed(part) for part in ("train", "validation", "test"))
    assert split.size("test") == len(held.indices["test"]) * 5
    assert not split._parts  # sizes known without drawing a pair
    monkeypatch.setattr(sources, "MEMORY_LIMIT_BYTES", len(users) * 5 * 12)
    assert not PairSplit(held, 4, seed=0).streamed("train")


@pytest.mark.slow
def test_a_recommender_trains_and_evaluates_with_streamed_pairs(tmp_path: Path) -> None:
    run = zoo.train(
        "recommender",
        output=tmp_path / "run",
        verbose=False,
        epochs=1,
        data_cache="stream",
        num_negatives=4,
        batch_size=512,
    )
    test = run.metrics["test"]
    popularity = run.metrics["baselines"]["popularity_recall_at_10"]
    assert 0.0 < test["recall_at_10"] <= 1.0 and popularity > 0.0
    assert zoo.evaluate(tmp_path / "run")["test"] == pytest.approx(test)


def test_a_uint8_npy_of_images_stays_on_disk_and_reads_like_the_in_memory_path(
    tmp_path: Path,
) -> None:
    """cnn: a .npy at the model's size is memory-mapped and scaled row by row (it used to
    be converted to float32 in memory, 4x the file); another size is resized in memory."""
    from zoo.catalog import get_catalog
    from zoo.catalog.config import make_config
    from zoo.data.sources import ArrayRows
    from zoo.plugins.cnn import data as cnn_data

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (40, 28, 28), dtype=np.uint8)
    np.save(tmp_path / "images.npy", images)
    ref = get_catalog().resolve("cnn")
    found = cnn_data.load(make_config(ref), tmp_path / "images.npy", None)
    assert isinstance(found.x, ArrayRows) and found.x.shape == (40, 28, 28, 1)
    want = images[..., None].astype(np.float32) / np.float32(255.0)
    np.testing.assert_array_equal(np.asarray(found.x), want)
    batch = next(iter(evaluation_stream(found.x, None, batch_size=40)))[0].numpy()
    np.testing.assert_array_equal(batch, want)  # tf.data reads the same floats
    # a run's state (its scale) is kept; a size the model does not have is resized
    again = cnn_data.load(make_config(ref), tmp_path / "images.npy", found.state)
    np.testing.assert_array_equal(np.asarray(again.x), want)
    small = make_config(ref, [("test", {"height": 14, "width": 14})])
    resized = cnn_data.load(small, tmp_path / "images.npy", None)
    assert isinstance(resized.x, np.ndarray) and resized.x.shape == (40, 14, 14, 1)

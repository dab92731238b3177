"""Bad data from plugins or files (issue 16, class 4).

Every Dataset — a plugin's ``zoo_dataset`` result for ``zoo train``, ``zoo evaluate --data``
and ``zoo predict --data`` — is validated before anything is written: arrays of one length,
finite float features and targets (naming the array and the first bad row), enough examples
for every split. An empty or corrupt file is a DataError naming it, never "aborted" (click
takes an EOFError for the end of input); a real Ctrl-C still says "interrupted".
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import clean_env, zoo_script

from hostile.common import TINY, assert_one_line_error, hostile_plugin, zoo

# A plugin whose zoo_dataset hands over whatever a .npz holds, unchecked (``x``, or
# ``x_<name>`` arrays for a dict; ``y``), reading it with numpy directly (not the zoo's
# readers); without --data it gives 64 good examples.
RAW_DATA = """
import numpy as np

from zoo.plugin import Dataset, hookimpl


@hookimpl
def zoo_build(config):
    import keras

    inputs = keras.Input(shape=(config.input_dim,), name="features")
    outputs = keras.layers.Dense(config.num_classes, activation="softmax", name="out")(inputs)
    return keras.Model(inputs, outputs, name=config.model)


@hookimpl
def zoo_dataset(config, path, state):
    if path is None:
        rng = np.random.default_rng(0)
        x = rng.normal(size=(64, config.input_dim)).astype("float32")
        return Dataset(x=x, y=(x[:, 0] > 0).astype("int32"), name="toy")
    with np.load(path) as archive:
        arrays = dict(archive)
    named = {key[2:]: value for key, value in arrays.items() if key.startswith("x_")}
    return Dataset(x=named or arrays["x"], y=arrays.get("y"), name=path.stem)
"""


@pytest.fixture
def raw(site: Path) -> Path:
    """The ``rawdata`` plugin installed in ``site`` (model ``rawdata-model``, input_dim 6)."""
    return hostile_plugin(site, "rawdata", RAW_DATA)


def good(n: int = 40, dim: int = 6) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(n, dim)).astype("float32")
    return x, (x[:, 0] > 0).astype("int32")


def train_refused(cli, tmp_path: Path, model: str, data: Path, *needles: str) -> str:
    """``zoo train`` refuses ``data`` with one line naming ``needles``; nothing written."""
    run = tmp_path / "run"
    code, out, err = cli("train", model, "--data", str(data), *TINY, "--output", str(run))
    line = assert_one_line_error(code, err, *needles)
    assert not run.exists(), "a refused dataset must leave no run folder"
    return line


# -- plugin datasets ---------------------------------------------------------------------------


def test_targets_of_another_length_are_refused(raw: Path, tmp_path: Path, cli) -> None:
    x, y = good(40)
    np.savez(tmp_path / "short.npz", x=x, y=y[:39])
    train_refused(cli, tmp_path, "rawdata-model", tmp_path / "short.npz", "40", "39 targets")


def test_input_arrays_of_different_lengths_are_refused(raw: Path, tmp_path: Path, cli) -> None:
    x, y = good(40)
    np.savez(tmp_path / "ragged.npz", x_features=x, x_extra=x[:30], y=y)
    train_refused(
        cli,
        tmp_path,
        "rawdata-model",
        tmp_path / "ragged.npz",
        "x['features'] has 40",
        "x['extra'] has 30",
    )


def test_nan_in_features_names_the_array_and_the_first_row(raw: Path, tmp_path: Path, cli) -> None:
    x, y = good(40)
    x[17, 2] = np.nan
    x[30, 0] = np.inf
    np.savez(tmp_path / "nan.npz", x=x, y=y)
    line = train_refused(cli, tmp_path, "rawdata-model", tmp_path / "nan.npz", "x has NaN")
    assert "row 17" in line


def test_infinite_float_targets_are_refused(raw: Path, tmp_path: Path, cli) -> None:
    x, y = good(40)
    targets = y.astype("float32")
    targets[5] = -np.inf
    np.savez(tmp_path / "inf.npz", x=x, y=targets)
    train_refused(cli, tmp_path, "rawdata-model", tmp_path / "inf.npz", "y has", "row 5")


def test_evaluate_and_predict_data_are_validated_too(raw: Path, tmp_path: Path, cli) -> None:
    x, y = good(40)
    x[3, 1] = np.nan
    np.savez(tmp_path / "nan.npz", x=x, y=y)
    code, out, err = cli("evaluate", "rawdata-model", "--data", str(tmp_path / "nan.npz"))
    assert_one_line_error(code, err, "nan.npz", "x has NaN", "row 3")
    np.savez(tmp_path / "short.npz", x=x[:, :][:10], y=y[:9])
    out_file = tmp_path / "predictions.json"
    code, out, err = cli(
        "predict", "rawdata-model", "--data", str(tmp_path / "short.npz"), "--output", str(out_file)
    )
    assert_one_line_error(code, err, "short.npz", "10 examples in x but 9 targets")
    assert not out_file.exists()


def test_an_empty_file_read_by_plugin_code_is_a_data_error(raw: Path, tmp_path: Path, cli) -> None:
    """numpy raises EOFError on a 0-byte file; click would take that for the end of input
    ("aborted", exit 130). It is a DataError naming the file."""
    empty = tmp_path / "empty.npz"
    empty.write_bytes(b"")
    line = train_refused(cli, tmp_path, "rawdata-model", empty, str(empty), "cannot be read")
    assert "aborted" not in line


# -- the built-in readers ----------------------------------------------------------------------


def test_empty_and_corrupt_npz_files_are_data_errors(tmp_path: Path, cli) -> None:
    empty = tmp_path / "empty.npz"
    empty.write_bytes(b"")
    train_refused(cli, tmp_path, "mlp", empty, str(empty))
    truncated = tmp_path / "truncated.npz"
    x, y = good(40)
    np.savez(truncated, x=x, y=y)
    truncated.write_bytes(truncated.read_bytes()[:100])
    train_refused(cli, tmp_path, "mlp", truncated, str(truncated))
    npy = tmp_path / "empty.npy"
    npy.write_bytes(b"")
    code, out, err = cli("predict", "mlp", "--data", str(npy))
    assert_one_line_error(code, err, str(npy))


def test_too_few_examples_for_the_splits(tmp_path: Path, cli) -> None:
    x, y = good(40)
    three = tmp_path / "three.csv"
    np.savetxt(three, np.c_[x[:3], y[:3]], delimiter=",", fmt="%.4f")
    train_refused(cli, tmp_path, "mlp", three, "3 examples", "at least 10")
    twelve = tmp_path / "twelve.csv"
    np.savetxt(twelve, np.c_[x[:12], y[:12]], delimiter=",", fmt="%.4f")
    run = tmp_path / "run"
    code, out, err = cli(
        "train", "mlp", "--data", str(twelve), "--set", "validation_split=0.01", "--quiet",
        "--output", str(run),
    )  # fmt: skip
    assert_one_line_error(code, err, "validation split none", "validation_split=0.01")
    assert not run.exists()


@pytest.mark.slow  # two trainings through the console script
def test_tiny_data_is_refused_or_trains_without_keras_warnings(tmp_path: Path) -> None:
    """Through the console script (Python warnings reach stderr): 3 examples are one error
    line; 10 (the minimum) train cleanly with no warning leaking."""
    x, y = good(40)
    np.savetxt(tmp_path / "three.csv", np.c_[x[:3], y[:3]], delimiter=",", fmt="%.4f")
    np.savetxt(tmp_path / "ten.csv", np.c_[x[:10], y[:10]], delimiter=",", fmt="%.4f")
    code, out, err = zoo(None, "train", "mlp", "--data", str(tmp_path / "three.csv"), *TINY)
    assert_one_line_error(code, err, "3 examples")
    assert [line for line in err.splitlines() if line.strip()] == [err.strip()]
    run = tmp_path / "run"
    code, out, err = zoo(
        None, "train", "mlp", "--data", str(tmp_path / "ten.csv"), *TINY, "--output", str(run)
    )
    assert code == 0, err
    assert "warn" not in err.lower(), err
    assert 'status = "complete"' in (run / "run.toml").read_text()


def test_a_real_ctrl_c_still_says_interrupted(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [zoo_script(), "train", "mlp", "--epochs", "50", "--output", str(tmp_path / "run")],
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(3)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "interrupted" in err
    assert "Traceback" not in err and "aborted" not in err

"""The plugin's own tests: the zoo's conformance kit plus a few behaviours of its own.

Run them with the plugin installed (`pip install -e .`): `pytest tests`.
"""

from __future__ import annotations

import numpy as np
import pytest

import zoo
from zoo.plugin import DataError
from zoo.testing import plugin_checks


@pytest.mark.parametrize("check", plugin_checks("autoencoder"))
def test_conformance(check):
    check()


@pytest.mark.parametrize(
    "check", plugin_checks("autoencoder-tiny", checks=["build", "train_steps", "save_load"])
)
def test_tiny_preset_conformance(check):
    check()


def test_output_has_the_input_shape():
    model = zoo.create("autoencoder-tiny")
    x = np.random.default_rng(0).random((5, 64)).astype("float32")
    assert model(x).shape == (5, 64)
    assert model.count_params() == zoo.info("autoencoder-tiny")["params"]


def test_pretrained_digits_weights_reconstruct_as_the_model_card_says():
    from sklearn.datasets import load_digits

    model = zoo.load("autoencoder", weights="digits")  # verified against sha256 and size
    x = load_digits().data.astype("float32") / 16.0
    mae = float(np.mean(np.abs(model.predict(x, verbose=0) - x)))
    card = zoo.info("autoencoder:digits")["weights"][0]["metrics"]
    assert abs(mae - card["mae"]) < 0.02  # the card's figure is on the test split
    mean_image = float(np.mean(np.abs(x - x.mean(axis=0))))  # the trivial reconstruction
    assert mae < 0.6 * mean_image


def test_trains_on_a_users_npz_file(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.random((200, 4, 5)) * 255  # 20 values per example once flattened
    np.savez(tmp_path / "images.npz", x=x)
    run = zoo.train(
        "autoencoder-tiny",
        tmp_path / "images.npz",
        epochs=1,
        output=tmp_path / "runs",
        verbose=False,
    )
    assert run.config["input_dim"] == 20  # set by the data
    assert np.isfinite(run.metrics["test"]["loss"])


def test_a_text_file_is_refused_with_the_fix(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    with pytest.raises(DataError, match=r"unsupported file type '\.txt'.*\.npz or \.csv"):
        zoo.train("autoencoder-tiny", path, epochs=1, output=tmp_path / "runs", verbose=False)

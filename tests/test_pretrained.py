"""The shipped pretrained weights: present in the package, verified, and as good as the
metrics recorded in registry.toml (which scripts/train_pretrained.py measured)."""

from __future__ import annotations

import numpy as np
import pytest

import zoo
from zoo.catalog import get_catalog

SHIPPED = sorted(
    (name, tag)
    for name, model in get_catalog().models.items()
    for tag, entry in model.weights.items()
    if entry.source.startswith("package:zoo.plugins.weights/")
)


def test_every_builtin_architecture_ships_weights() -> None:
    architectures = {get_catalog().models[name].architecture for name, _ in SHIPPED}
    assert architectures >= {"cnn", "mlp", "rnn", "transformer", "recommender"}


@pytest.mark.parametrize(("name", "tag"), SHIPPED, ids=[f"{n}:{t}" for n, t in SHIPPED])
def test_shipped_weights_reach_their_recorded_metric(name: str, tag: str) -> None:
    entry = get_catalog().models[name].weights[tag]
    result = zoo.evaluate(f"{name}:{tag}")
    assert result["scope"] == "test split"
    for metric, recorded in entry.metrics.items():
        if metric.startswith("baseline_"):
            continue
        assert result["test"][metric] == pytest.approx(recorded, abs=0.01), metric


def test_load_returns_a_ready_model_whose_predictions_fit_the_data() -> None:
    model = zoo.load("cnn", weights="digits")
    from sklearn.datasets import load_digits

    from zoo.plugins.cnn.data import load

    data = load(zoo.catalog.config.make_config(get_catalog().resolve("cnn")), None, None)
    probabilities = model.predict(data.x[:64], verbose=0)
    assert probabilities.shape == (64, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert np.mean(probabilities.argmax(axis=1) == load_digits().target[:64]) > 0.9

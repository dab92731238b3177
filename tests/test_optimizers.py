"""The training options' optimizers: Keras' own, by name, with warm-up and clipnorm."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import keras
import numpy as np
import pytest

import zoo
from zoo.tasks.optimizers import build_optimizer, make_optimizer


def config(**train: Any) -> Any:
    return SimpleNamespace(train={"optimizer": "adam", "learning_rate": 0.01, **train})


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("adam", "Adam"),
        ("adamw", "AdamW"),
        ("sgd", "SGD"),
        ("rmsprop", "RMSprop"),
        ("adagrad", "Adagrad"),
    ],
)
def test_optimizers_are_chosen_by_name_and_are_keras_own(name: str, cls: str) -> None:
    optimizer = make_optimizer(config(optimizer=name, learning_rate=0.02))
    assert type(optimizer) is getattr(keras.optimizers, cls)
    assert float(optimizer.learning_rate) == pytest.approx(0.02)


def test_clipnorm_is_applied_and_zero_means_off() -> None:
    assert make_optimizer(config(clipnorm=1.5)).clipnorm == pytest.approx(1.5)
    assert make_optimizer(config(clipnorm=0)).clipnorm is None
    assert make_optimizer(config()).clipnorm is None


def test_build_optimizer_creates_the_variables_before_training() -> None:
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    model.compile(optimizer=make_optimizer(config(warmup_steps=3)), loss="mse")
    build_optimizer(model)
    assert model.optimizer.built
    built = len(model.optimizer.variables)
    assert built > 1  # iterations and the moments of each weight
    x, y = np.ones((8, 4), "float32"), np.zeros((8, 2), "float32")
    model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    assert len(model.optimizer.variables) == built
    assert int(model.optimizer.iterations) == 2


def test_models_compiled_by_the_zoo_save_and_load_without_the_zoo(tmp_path: Path) -> None:
    """The optimizer is Keras' own Adam, so a saved compiled model is portable."""
    model = zoo.create("mlp")
    assert type(model.optimizer) is keras.optimizers.Adam
    model.save(tmp_path / "mlp.keras")
    loaded = keras.saving.load_model(tmp_path / "mlp.keras")
    assert type(loaded.optimizer) is keras.optimizers.Adam
    assert float(loaded.optimizer.learning_rate) == pytest.approx(
        float(model.optimizer.learning_rate)
    )


def test_warmup_raises_the_learning_rate_linearly_then_holds_it(tmp_path: Path) -> None:
    model = zoo.create("mlp", learning_rate=0.01, warmup_steps=10)
    rates = []
    for step in (0, 4, 9, 10, 500):
        model.optimizer.iterations.assign(step)
        rates.append(float(model.optimizer.learning_rate))
    assert rates == pytest.approx([0.001, 0.0046, 0.0091, 0.01, 0.01])  # lr/10 -> lr
    model.save(tmp_path / "mlp.keras")  # Keras' own schedule: loads without the zoo
    loaded = keras.saving.load_model(tmp_path / "mlp.keras")
    assert float(loaded.optimizer.learning_rate) == pytest.approx(0.01)
    constant = zoo.create("mlp", learning_rate=0.01).optimizer  # warmup_steps 0 = off
    assert float(constant.learning_rate) == pytest.approx(0.01)

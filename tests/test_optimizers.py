"""The zoo's fused Adam update: the same weights as Keras' own, in one op per variable."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import zoo
from zoo.optimizers import fuse_adam_updates

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")


def train_tiny_model(optimizer: Any) -> list[np.ndarray]:
    """Three epochs of a model with an embedding (sparse gradient) and dense layers."""
    keras.utils.set_random_seed(1)
    tokens = keras.Input((5,), dtype="int32")
    x = keras.layers.Embedding(20, 8)(tokens)
    x = keras.layers.GlobalAveragePooling1D()(x)
    x = keras.layers.Dense(16, activation="relu")(x)
    model = keras.Model(tokens, keras.layers.Dense(3, activation="softmax")(x))
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    x_train, y_train = rng.integers(0, 20, (64, 5)), rng.integers(0, 3, 64)
    model.fit(x_train, y_train, batch_size=16, epochs=3, verbose=0, shuffle=False)
    return [w.numpy() for w in model.weights]


@pytest.mark.parametrize(
    "make",
    [
        lambda: keras.optimizers.Adam(0.01),
        lambda: keras.optimizers.AdamW(0.01, weight_decay=0.05),
        lambda: keras.optimizers.Adam(0.01, clipnorm=0.1),
    ],
    ids=["adam", "adamw", "adam-clipnorm"],
)
def test_fused_update_matches_keras(make: Any) -> None:
    expected = train_tiny_model(make())
    fused = train_tiny_model(fuse_adam_updates(make()))
    for a, b in zip(expected, fused, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_the_update_is_one_fused_op_per_variable() -> None:
    model = zoo.create("mlp")
    variables = model.trainable_variables

    @tf.function
    def step() -> None:
        model.optimizer.apply([tf.ones_like(v) for v in variables], variables)

    kinds = [op.type for op in step.get_concrete_function().graph.get_operations()]
    assert kinds.count("ResourceApplyAdam") == len(variables)


def test_models_compiled_by_the_zoo_save_and_load_without_the_zoo(tmp_path: Path) -> None:
    """The fused optimizer is still keras' Adam, so a saved compiled model is portable."""
    model = zoo.create("mlp")
    assert type(model.optimizer) is keras.optimizers.Adam
    model.save(tmp_path / "mlp.keras")
    loaded = keras.saving.load_model(tmp_path / "mlp.keras")
    assert type(loaded.optimizer) is keras.optimizers.Adam
    assert float(loaded.optimizer.learning_rate) == pytest.approx(
        float(model.optimizer.learning_rate)
    )


def test_other_optimizers_are_left_to_keras() -> None:
    sgd = keras.optimizers.SGD(0.1)
    update = sgd._backend_update_step
    assert fuse_adam_updates(sgd)._backend_update_step == update
    amsgrad = keras.optimizers.Adam(amsgrad=True)
    update = amsgrad._backend_update_step
    assert fuse_adam_updates(amsgrad)._backend_update_step == update


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

"""The validation step is traced on a helper thread during the first epoch, and reused."""

from __future__ import annotations

import keras
import numpy as np

from zoo.pipeline import evaluation_stream, training_stream
from zoo.pretrace import ValidationPretrace, keras_test_function


def _fit(pretrace: bool) -> tuple[keras.Model, dict, ValidationPretrace | None]:
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 6)).astype("float32")
    y = (x[:, 0] > 0).astype("int32")
    model = keras.Sequential(
        [keras.Input((6,)), keras.layers.Dense(8, "relu"), keras.layers.Dense(2)]
    )
    model.compile(
        "adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"]
    )
    validation = evaluation_stream(x[150:], y[150:], batch_size=16)  # 50 rows: a short batch
    callback = ValidationPretrace(validation) if pretrace else None
    history = model.fit(
        training_stream(x[:150], y[:150], batch_size=16, seed=0, initial_epoch=0, epochs=3),
        validation_data=validation,
        epochs=3,
        steps_per_epoch=10,
        callbacks=[callback] if callback else [],
        verbose=0,
    )
    return model, history.history, callback


def test_keras_uses_the_trace_made_on_the_helper_thread() -> None:
    model, _, callback = _fit(pretrace=True)
    assert callback is not None and callback.traced
    assert callback.thread is None  # joined before validation
    function = keras_test_function(model)
    assert function is not None
    assert function.experimental_get_tracing_count() == 1  # Keras did not trace again


def test_validation_results_are_unchanged() -> None:
    _, with_pretrace, _ = _fit(pretrace=True)
    _, without, _ = _fit(pretrace=False)
    assert with_pretrace.keys() == without.keys()
    for key in without:
        np.testing.assert_allclose(with_pretrace[key], without[key], rtol=1e-6)


def test_nothing_is_traced_outside_keras_fit() -> None:
    """A custom training loop never makes Keras' train function: no helper thread starts."""
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile("adam", "mse")
    callback = ValidationPretrace(evaluation_stream(np.zeros((4, 3)), np.zeros(4), batch_size=2))
    callback.set_model(model)
    for step in range(3):
        callback.on_train_batch_begin(step)
    assert callback.thread is None and not callback.traced


def test_keras_still_dispatches_batch_logs_asynchronously() -> None:
    """A batch-end hook would make Keras convert every step's logs to Python synchronously."""
    callbacks = keras.callbacks.CallbackList([ValidationPretrace(None)])
    assert callbacks._async_train == keras.callbacks.CallbackList([])._async_train

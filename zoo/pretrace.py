"""Trace the validation step on a helper thread while the first epoch trains.

Keras traces its test function the first time ``fit`` validates, at the end of the first
epoch, and nothing else runs meanwhile: 0.15-0.35 s for the cnn, 0.5-0.9 s for the
transformer on 2 cores (benchmarks/README.md). Tracing is Python work, while a training
step is TensorFlow kernels that release the GIL, so the two overlap well. Once the first
training step has run, :class:`ValidationPretrace` traces Keras' own test function for the
validation stream's element spec on a helper thread, and waits for it before validation
starts. Keras then finds the trace in the function's cache; the function it runs, and what
it computes, are unchanged.

The callback acts in ``on_train_batch_begin`` of the second step (the first step has been
traced and run by then): overriding a batch-*end* hook would make Keras hand every batch's
logs back to Python synchronously.

Finding the traceable function relies on how Keras builds ``model.test_function`` (a
closure over one ``tf.function``). If that ever changes, or the run uses a distribution
strategy, nothing is pre-traced and Keras traces as usual.
"""

from __future__ import annotations

import threading
from typing import Any

import keras


class ValidationPretrace(keras.callbacks.Callback):
    def __init__(self, validation: Any) -> None:
        super().__init__()
        self.validation = validation
        self.thread: threading.Thread | None = None
        self.steps_begun = 0
        self.traced = False  # for tests and benchmarks: the helper thread finished a trace

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        self.steps_begun += 1
        if self.steps_begun != 2:
            return
        function = keras_test_function(self.model)
        if function is None:
            return
        self.thread = threading.Thread(
            target=self._trace, args=(function,), name="zoo-validation-trace", daemon=True
        )
        self.thread.start()

    def _trace(self, function: Any) -> None:
        import tensorflow as tf

        # Distribution strategies are entered per thread; this one sees only the default.
        if self.model.distribute_strategy is not tf.distribute.get_strategy():
            return
        try:
            function.get_concrete_function(iter(self.validation))
        except Exception:  # noqa: BLE001 - Keras' own trace, in the foreground, reports it
            return
        self.traced = True

    def wait(self) -> None:
        if self.thread is not None:
            self.thread.join()
            self.thread = None

    def on_test_begin(self, logs: dict | None = None) -> None:
        self.wait()

    def on_train_end(self, logs: dict | None = None) -> None:
        self.wait()


def keras_test_function(model: Any) -> Any | None:
    """The ``tf.function`` behind ``model.test_function`` when ``fit`` drives training."""
    if getattr(model, "train_function", None) is None or getattr(model, "run_eagerly", False):
        return None  # not Keras' fit (a custom loop), or nothing to trace
    model.make_test_function()
    found = []
    for cell in getattr(model.test_function, "__closure__", None) or ():
        try:
            value = cell.cell_contents
        except ValueError:  # an empty cell
            continue
        if hasattr(value, "get_concrete_function"):
            found.append(value)
    return found[0] if len(found) == 1 else None

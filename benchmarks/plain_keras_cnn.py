"""A hand-written plain Keras script: the seed's CNN trained with ``model.fit`` on numpy
arrays — the reference that ``zoo train cnn`` must not be slower than.

    python benchmarks/plain_keras_cnn.py --epochs 5 --batch-size 32

Same model, same data and split as `zoo train cnn --seed 0`; prints one JSON line with the
per-epoch wall times.
"""

from __future__ import annotations

import argparse
import json
import time

from _common import default_arrays, quiet_tensorflow


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    args = parser.parse_args()
    quiet_tensorflow()
    import keras

    data = default_arrays("cnn")
    (x_train, y_train), (x_val, y_val) = data["train"], data["validation"]
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(32, 3, activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Conv2D(64, 3, activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Flatten(),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(args.learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )

    class Timer(keras.callbacks.Callback):
        times: list[float] = []

        def on_epoch_begin(self, epoch, logs=None):  # type: ignore[no-untyped-def]
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):  # type: ignore[no-untyped-def]
            self.times.append(time.perf_counter() - self.started)

    timer = Timer()
    model.fit(
        x_train,
        y_train,
        validation_data=(x_val, y_val),
        epochs=args.epochs,
        batch_size=args.batch_size,
        callbacks=[timer],
        verbose=0,
    )
    print(json.dumps({"epoch_times_s": timer.times}))


if __name__ == "__main__":
    main()

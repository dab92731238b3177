"""The seed's §4.3 CNN: Conv2D(32)+MaxPool, Conv2D(64)+MaxPool, Dense(128), Dense(10)."""

from __future__ import annotations

import keras

from zoo.plugin import Config


def build(config: Config) -> keras.Model:
    reg = keras.regularizers.L2(config.l2) if config.l2 else None
    inputs = keras.Input(shape=(config.height, config.width, config.channels), name="image")
    x = inputs
    for i, filters in enumerate(config.filters):
        x = keras.layers.Conv2D(
            filters,
            config.kernel_size,
            activation=config.activation,
            kernel_regularizer=reg,
            name=f"conv_{i}",
        )(x)
        x = keras.layers.MaxPooling2D(2, name=f"pool_{i}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(
        config.dense_units, activation=config.activation, kernel_regularizer=reg, name="dense"
    )(x)
    if config.dropout:
        x = keras.layers.Dropout(config.dropout, name="dropout")(x)
    outputs = keras.layers.Dense(
        config.num_classes, activation="softmax", kernel_regularizer=reg, name="classifier"
    )(x)
    return keras.Model(inputs, outputs, name=config.model)

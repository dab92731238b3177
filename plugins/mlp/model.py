"""The seed's §4.2 MLP: Dense(64, relu) on 100 inputs -> Dense(10, softmax) by default."""

from __future__ import annotations

import keras

from zoo.plugin import Config


def build(config: Config) -> keras.Model:
    reg = keras.regularizers.L2(config.l2) if config.l2 else None
    inputs = keras.Input(shape=(config.input_dim,), name="features")
    x = inputs
    for i, units in enumerate(config.hidden_units):
        x = keras.layers.Dense(
            units, activation=config.activation, kernel_regularizer=reg, name=f"dense_{i}"
        )(x)
        if config.dropout:
            x = keras.layers.Dropout(config.dropout, name=f"dropout_{i}")(x)
    outputs = keras.layers.Dense(
        config.num_classes, activation="softmax", kernel_regularizer=reg, name="classifier"
    )(x)
    return keras.Model(inputs, outputs, name=config.model)

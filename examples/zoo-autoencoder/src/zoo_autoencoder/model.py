"""The autoencoder: Dense encoder to a ``latent_dim`` code, mirrored Dense decoder."""

from __future__ import annotations

import keras

from zoo.plugin import Config


def build(config: Config) -> keras.Model:
    inputs = keras.Input(shape=(config.input_dim,), name="features")
    x = inputs
    for i, units in enumerate(config.hidden_units):
        x = keras.layers.Dense(units, activation=config.activation, name=f"encoder_{i}")(x)
        if config.dropout:
            x = keras.layers.Dropout(config.dropout, name=f"encoder_dropout_{i}")(x)
    code = keras.layers.Dense(config.latent_dim, activation=config.activation, name="code")(x)
    x = code
    for i, units in enumerate(reversed(config.hidden_units)):
        x = keras.layers.Dense(units, activation=config.activation, name=f"decoder_{i}")(x)
    outputs = keras.layers.Dense(
        config.input_dim, activation=config.output_activation, name="reconstruction"
    )(x)
    return keras.Model(inputs, outputs, name=config.model)

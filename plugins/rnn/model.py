"""The seed's §4.4 recurrent model: LSTM(64) on 100 steps x 1 feature -> Dense(10, softmax).

``cell = "gru"`` swaps the LSTM for a GRU; ``num_layers`` stacks cells and
``bidirectional`` reads each sequence both ways.
"""

from __future__ import annotations

import keras

from zoo.plugin import Config

CELLS = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU}


def build(config: Config, *, unroll: bool = False) -> keras.Model:
    """``unroll=True`` builds the same weights as a static unrolled graph (for LiteRT)."""
    reg = keras.regularizers.L2(config.l2) if config.l2 else None
    inputs = keras.Input(shape=(config.timesteps, config.features), name="sequence")
    x = inputs
    for i in range(config.num_layers):
        layer = CELLS[config.cell](
            config.units,
            return_sequences=i < config.num_layers - 1,
            kernel_regularizer=reg,
            unroll=unroll,
            name=f"{config.cell}_{i}",
        )
        if config.bidirectional:
            layer = keras.layers.Bidirectional(layer, name=f"bidirectional_{i}")
        x = layer(x)
    if config.dropout:
        x = keras.layers.Dropout(config.dropout, name="dropout")(x)
    outputs = keras.layers.Dense(
        config.num_classes, activation="softmax", kernel_regularizer=reg, name="classifier"
    )(x)
    return keras.Model(inputs, outputs, name=config.model)

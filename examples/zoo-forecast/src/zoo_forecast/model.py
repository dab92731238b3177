"""The forecaster: a window of ``lookback`` values in, the next ``horizon`` values out.

The window is scaled inside the graph by its last value (level) and its mean absolute
deviation (spread), so one model fits series of any magnitude and the exported artifacts
take raw values. Built from ``keras.layers`` and ``keras.ops`` only, so that the .keras file
reloads with ``safe_mode=True`` and SavedModel, ONNX and LiteRT exports need no custom op.
"""

from __future__ import annotations

import keras
from keras import ops

from zoo.plugin import Config

EPSILON = 1e-6  # keeps a flat window (spread 0) finite: it is forecast as flat


def build(config: Config) -> keras.Model:
    inputs = keras.Input(shape=(config.lookback,), name="history")
    level = inputs[:, -1:]  # the last observed value, (n, 1)
    mean = ops.mean(inputs, axis=-1, keepdims=True)
    spread = ops.mean(ops.abs(inputs - mean), axis=-1, keepdims=True) + EPSILON
    x = (inputs - level) / spread
    for i in range(config.layers):
        x = keras.layers.Dense(config.units, activation=config.activation, name=f"hidden_{i}")(x)
        if config.dropout:
            x = keras.layers.Dropout(config.dropout, name=f"dropout_{i}")(x)
    steps = keras.layers.Dense(config.horizon, name="steps")(x)  # in units of the spread
    outputs = keras.layers.Identity(name="forecast")(steps * spread + level)
    return keras.Model(inputs, outputs, name=config.model)

"""The seed's §4.3 CNN: Conv2D(32)+MaxPool, Conv2D(64)+MaxPool, Dense(128), Dense(10).

``augment`` > 0 puts Keras' random rotation, zoom and translation layers at the input:
they transform training batches only and pass inputs through unchanged at inference; they
have no weights, so the seed's layers are unchanged. Exports are written from the model
rebuilt with the architecture's ``inference_hparams`` (``augment = 0``), so an artifact
holds no random ops.
"""

from __future__ import annotations

import keras

from zoo.plugin import Config


def build(config: Config) -> keras.Model:
    reg = keras.regularizers.L2(config.l2) if config.l2 else None
    inputs = keras.Input(shape=(config.height, config.width, config.channels), name="image")
    x = inputs
    strength = float(config.get("augment", 0.0) or 0.0)
    if strength:  # identity at inference (training=False)
        fill = {"fill_mode": "constant"}
        x = keras.layers.RandomRotation(strength / 2, **fill, name="augment_rotate")(x)
        x = keras.layers.RandomZoom(strength, **fill, name="augment_zoom")(x)
        x = keras.layers.RandomTranslation(strength, strength, **fill, name="augment_shift")(x)
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

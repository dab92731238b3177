"""Keras layers of the ``cnn`` plugin (a ``.keras`` export imports this module: the
architecture's ``keras_modules``)."""

from __future__ import annotations

import keras


@keras.saving.register_keras_serializable(package="zoo_cnn")
class Augment(keras.layers.Layer):
    """Random rotation (up to +-``strength / 2`` of a turn), zoom and shifts (up to
    +-``strength`` of the image) of training batches; exposed corners are 0.

    Unlike Keras' random layers, whose ``call`` defaults to ``training=True``, this layer is
    the identity unless training is set: an exported graph (SavedModel, ONNX, LiteRT),
    traced without a training flag, holds no random ops.
    """

    def __init__(self, strength: float, seed: int | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.strength = float(strength)
        self.seed = seed
        self.rotate = keras.layers.RandomRotation(
            self.strength / 2, fill_mode="constant", seed=seed, name="rotate"
        )
        self.zoom = keras.layers.RandomZoom(
            self.strength, fill_mode="constant", seed=seed, name="zoom"
        )
        self.shift = keras.layers.RandomTranslation(
            self.strength, self.strength, fill_mode="constant", seed=seed, name="shift"
        )

    def build(self, input_shape) -> None:
        for layer in (self.rotate, self.zoom, self.shift):
            layer.build(input_shape)

    def call(self, inputs, training=False):
        if not training:
            return inputs
        x = self.rotate(inputs, training=True)
        x = self.zoom(x, training=True)
        return self.shift(x, training=True)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "strength": self.strength, "seed": self.seed}

"""A two-tower retrieval model for implicit feedback.

The user tower and the item tower each map an id through an embedding and Dense layers to
an ``output_dim`` vector; the model's output is their dot product, a relevance logit for the
(user, item) pair. Top-k retrieval scores one user against every item.

``temperature`` > 0 scores by cosine instead: both vectors are L2-normalised and their dot
product divided by the temperature (a bounded logit, a common two-tower recipe); ``dropout``
drops the embedding and hidden units while training.

The two vectors whose dot product is the score are the layers ``user_vector`` and
``item_vector``, so ranking every item for a user runs each tower once (``zoo.plugin.towers``).
"""

from __future__ import annotations

import keras
from keras import ops

from zoo.plugin import Config, towers


def tower(ids, vocabulary: int, config: Config, name: str, reg):
    x = keras.layers.Embedding(
        vocabulary, config.embedding_dim, embeddings_regularizer=reg, name=f"{name}_embedding"
    )(ids)
    if config.dropout:
        x = keras.layers.Dropout(config.dropout, name=f"{name}_embedding_dropout")(x)
    for i, units in enumerate(config.tower_units):
        x = keras.layers.Dense(
            units, activation=config.activation, kernel_regularizer=reg, name=f"{name}_dense_{i}"
        )(x)
        if config.dropout:
            x = keras.layers.Dropout(config.dropout, name=f"{name}_dropout_{i}")(x)
    return keras.layers.Dense(config.output_dim, kernel_regularizer=reg, name=f"{name}_output")(x)


def build(config: Config) -> keras.Model:
    reg = keras.regularizers.L2(config.l2) if config.l2 else None
    user_id = keras.Input(shape=(), dtype="int32", name="user_id")
    item_id = keras.Input(shape=(), dtype="int32", name="item_id")
    user = tower(user_id, config.num_users, config, "user", reg)
    item = tower(item_id, config.num_items, config, "item", reg)
    if config.temperature:
        user = keras.layers.UnitNormalization(name="user_normalize")(user)
        item = keras.layers.UnitNormalization(name="item_normalize")(item)
        user = keras.layers.Rescaling(1.0 / config.temperature, name=towers.USER_VECTOR)(user)
    else:
        user = keras.layers.Identity(name=towers.USER_VECTOR)(user)
    # the score is exactly the dot product of these two layers: ranking runs each tower
    # once and multiplies (docs/plugins.md, "Two-tower retrieval")
    item = keras.layers.Identity(name=towers.ITEM_VECTOR)(item)
    score = ops.sum(user * item, axis=-1)
    return keras.Model({"user_id": user_id, "item_id": item_id}, score, name=config.model)

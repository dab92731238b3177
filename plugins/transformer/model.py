"""A Transformer encoder classifier (the seed's §4.5 "Transformer" is an LSTM by mistake).

token + position embedding (``keras.layers`` and ``keras.ops`` only: the ``.keras``
export loads without zoo) -> num_layers x [multi-head self-attention, feed-forward, each
with a residual connection and layer norm] -> pooling -> softmax classifier. Token id 0 is
padding and is masked out of attention and mean pooling.
"""

from __future__ import annotations

import keras
from keras import ops

from zoo.plugin import Config


def token_and_position_embedding(token_ids, config: Config):
    """Sum of a learned token embedding and a learned position embedding.

    Built from ``keras.layers`` and ``keras.ops`` only, so a ``.keras`` export loads with
    plain Keras (safe mode, no zoo): the positions 0..length-1 are a cumulative sum of ones
    over the ids, looked up in an ordinary ``Embedding`` of ``sequence_length`` rows.
    """
    tokens = keras.layers.Embedding(config.vocab_size, config.embed_dim, name="token_embedding")
    positions = keras.layers.Embedding(
        config.sequence_length, config.embed_dim, name="position_embedding"
    )
    position_ids = ops.cumsum(ops.ones_like(token_ids), axis=-1) - 1  # (batch, seq): 0, 1, ...
    return keras.layers.Add(name="embedding")([tokens(token_ids), positions(position_ids)])


def encoder_block(x, mask, config: Config, index: int, reg):
    """Post-norm encoder block: x + MHA(x) -> LayerNorm -> x + FFN(x) -> LayerNorm."""
    attention = keras.layers.MultiHeadAttention(
        num_heads=config.num_heads,
        key_dim=max(1, config.embed_dim // config.num_heads),
        dropout=config.dropout,
        kernel_regularizer=reg,
        name=f"block_{index}_attention",
    )(x, x, attention_mask=mask)
    attention = keras.layers.Dropout(config.dropout, name=f"block_{index}_attn_dropout")(attention)
    x = keras.layers.LayerNormalization(epsilon=1e-6, name=f"block_{index}_norm_1")(x + attention)
    ff = keras.layers.Dense(
        config.ff_dim, activation="gelu", kernel_regularizer=reg, name=f"block_{index}_ff_1"
    )(x)
    ff = keras.layers.Dense(config.embed_dim, kernel_regularizer=reg, name=f"block_{index}_ff_2")(
        ff
    )
    ff = keras.layers.Dropout(config.dropout, name=f"block_{index}_ff_dropout")(ff)
    return keras.layers.LayerNormalization(epsilon=1e-6, name=f"block_{index}_norm_2")(x + ff)


def build(config: Config) -> keras.Model:
    reg = keras.regularizers.L2(config.l2) if config.l2 else None
    token_ids = keras.Input(shape=(config.sequence_length,), dtype="int32", name="tokens")
    x = token_and_position_embedding(token_ids, config)
    not_padding = ops.cast(ops.not_equal(token_ids, 0), "float32")  # (batch, seq)
    # (batch, seq, seq): query i may attend to key j when j is a real token.
    attention_mask = ops.expand_dims(not_padding, 1) * ops.expand_dims(
        ops.ones_like(not_padding), 2
    )
    attention_mask = ops.cast(attention_mask, "bool")
    for i in range(config.num_layers):
        x = encoder_block(x, attention_mask, config, i, reg)
    if config.pooling == "first":
        pooled = x[:, 0, :]
    elif config.pooling == "max":
        pooled = ops.max(x + (ops.expand_dims(not_padding, -1) - 1.0) * 1e9, axis=1)
    else:
        weights = ops.expand_dims(not_padding, -1)
        pooled = ops.sum(x * weights, axis=1) / ops.maximum(ops.sum(weights, axis=1), 1.0)
    pooled = keras.layers.Dropout(config.dropout, name="pool_dropout")(pooled)
    outputs = keras.layers.Dense(
        config.num_classes, activation="softmax", kernel_regularizer=reg, name="classifier"
    )(pooled)
    return keras.Model(token_ids, outputs, name=config.model)

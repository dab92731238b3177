"""Scoring every item for a block of users: through a two-tower model's towers, or by pairs.

Ranking needs each user's score for every item. Called on (user, item) pairs, a model
runs ``users x items`` times: 5x10^9 pair evaluations at 100k users x 50k items. A model
whose score is the dot product of a user vector and an item vector can say so by naming
the two layers that make them ``user_vector`` and ``item_vector`` (public functional-API
names; ``keras.Model(model.input["user_id"], model.get_layer("user_vector").output)`` is
the user tower). Ranking then runs the item tower once per item, the user tower once per
user, and scores a block of users with one matrix product.

The declaration is checked before it is used: on sample pairs the model's own scores must
equal the dot products of the two layers, else the error names the layers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from zoo.errors import DataError

USER_VECTOR = "user_vector"
ITEM_VECTOR = "item_vector"
CHECKED_PAIRS = 64


def score_pairs(
    model: Any, users: Sequence[int] | np.ndarray, num_items: int, batch_size: int = 65536
) -> np.ndarray:
    """The model's score for every item, for each user: shape ``(len(users), num_items)``.

    Calls the model on (user, item) pairs in batches of about ``batch_size`` pairs. The
    result holds ``len(users) x num_items`` scores: callers pass a block of users at a time
    (see :func:`zoo.tasks.ranking.block_rows`).
    """
    users = np.asarray(users, dtype="int32")
    out = np.empty((len(users), num_items), dtype="float32")
    rows = max(1, batch_size // num_items)
    all_items = np.arange(num_items, dtype="int32")
    for start in range(0, len(users), rows):
        chunk = users[start : start + rows]
        batch = {"user_id": np.repeat(chunk, num_items), "item_id": np.tile(all_items, len(chunk))}
        scores = np.asarray(model.predict_on_batch(batch), dtype="float32")
        out[start : start + len(chunk)] = scores.reshape(len(chunk), num_items)
    return out


def _vectors(tower: Any, ids: np.ndarray, batch_size: int) -> np.ndarray:
    """``tower(ids)`` in batches, called eagerly: blocks of every size, no retracing."""
    import keras

    parts = [
        keras.ops.convert_to_numpy(tower(ids[start : start + batch_size], training=False))
        for start in range(0, len(ids), batch_size)
    ]
    return np.concatenate(parts).astype("float32", copy=False).reshape(len(ids), -1)


class TowerScorer:
    """``scorer(users) -> (len(users), num_items)`` through the model's two towers.

    The item vectors (``num_items x width`` floats, the size of an item embedding table)
    are computed once, on creation.
    """

    def __init__(self, model: Any, num_users: int, num_items: int, batch_size: int = 65536) -> None:
        import keras

        inputs = getattr(model, "input", None)
        if not isinstance(inputs, dict) or not {"user_id", "item_id"} <= set(inputs):
            raise DataError(
                f"model '{model.name}' names layers {USER_VECTOR}/{ITEM_VECTOR} but is not a "
                "functional model with user_id and item_id inputs",
                "build it with keras.Input(name='user_id') and keras.Input(name='item_id')",
            )
        try:
            self.user_tower = keras.Model(inputs["user_id"], model.get_layer(USER_VECTOR).output)
            self.item_tower = keras.Model(inputs["item_id"], model.get_layer(ITEM_VECTOR).output)
        except ValueError as exc:  # the layer needs the other input too
            raise DataError(
                f"model '{model.name}': {USER_VECTOR} must depend on user_id only and "
                f"{ITEM_VECTOR} on item_id only ({str(exc).splitlines()[0]})",
                "rename the layers if the score is not the dot product of two towers",
            ) from None
        self.batch_size = max(1, int(batch_size))
        self.items = _vectors(self.item_tower, np.arange(num_items, dtype="int32"), batch_size)
        self._check(model, num_users, num_items)

    def __call__(self, users: Sequence[int] | np.ndarray) -> np.ndarray:
        ids = np.asarray(users, dtype="int32")
        return _vectors(self.user_tower, ids, self.batch_size) @ self.items.T

    def _check(self, model: Any, num_users: int, num_items: int) -> None:
        """The model's own scores of sample pairs equal the towers' dot products."""
        rng = np.random.default_rng(0)
        users = rng.integers(0, num_users, CHECKED_PAIRS).astype("int32")
        items = rng.integers(0, num_items, CHECKED_PAIRS).astype("int32")
        import keras

        own = keras.ops.convert_to_numpy(
            model({"user_id": users, "item_id": items}, training=False)
        )
        own = own.astype("float32").reshape(-1)
        user_vectors = _vectors(self.user_tower, users, CHECKED_PAIRS)
        dots = np.einsum("ij,ij->i", user_vectors, self.items[items])
        scale = max(1.0, float(np.max(np.abs(own), initial=0.0)))
        if not np.allclose(own, dots, rtol=1e-4, atol=1e-5 * scale, equal_nan=True):
            worst = float(np.nanmax(np.abs(own - dots)))
            raise DataError(
                f"model '{model.name}' scores pairs differently from the dot product of its "
                f"{USER_VECTOR} and {ITEM_VECTOR} layers (off by up to {worst:.3g})",
                "name those layers only when the score is exactly their dot product",
            )


def scorer(
    model: Any, num_users: int, num_items: int, batch_size: int = 65536
) -> Callable[[Sequence[int] | np.ndarray], np.ndarray]:
    """The fastest exact way to score every item for a block of users: the towers when
    the model names them (:class:`TowerScorer`), else the model on every pair."""
    names = {layer.name for layer in getattr(model, "layers", [])}
    if {USER_VECTOR, ITEM_VECTOR} <= names:
        return TowerScorer(model, num_users, num_items, batch_size)
    return lambda users: score_pairs(model, users, num_items, batch_size)

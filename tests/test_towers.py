"""Ranking through a two-tower model's towers (zoo.plugin.towers) gives the pair scores."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import zoo
from zoo.errors import DataError
from zoo.plugin import towers
from zoo.tasks import ranking

USERS, ITEMS = 60, 40


def _two_towers(score: str = "dot", user_sees_item: bool = False, named: bool = True):
    """A small functional retrieval model with user_vector/item_vector layers."""
    import keras
    from keras import ops

    keras.utils.set_random_seed(3)
    user_id = keras.Input(shape=(), dtype="int32", name="user_id")
    item_id = keras.Input(shape=(), dtype="int32", name="item_id")
    user = keras.layers.Embedding(USERS, 4)(user_id)
    item = keras.layers.Embedding(ITEMS, 4)(item_id)
    if user_sees_item:
        user = keras.layers.Add()([user, item])
    user = keras.layers.Identity(name=towers.USER_VECTOR if named else "u")(user)
    item = keras.layers.Identity(name=towers.ITEM_VECTOR if named else "i")(item)
    logit = ops.sum(user * item, axis=-1)
    if score == "dot+bias":  # not the dot product of the two layers any more
        logit = logit + ops.squeeze(keras.layers.Embedding(ITEMS, 1)(item_id), -1)
    return keras.Model({"user_id": user_id, "item_id": item_id}, logit)


@pytest.mark.parametrize("temperature", [0.0, 0.2])
def test_the_recommender_ranks_through_its_towers_as_by_pairs(temperature: float) -> None:
    model = zoo.create("recommender", num_users=USERS, num_items=ITEMS, temperature=temperature)
    score = towers.scorer(model, USERS, ITEMS)
    assert isinstance(score, towers.TowerScorer)
    users = np.array([0, 5, 59, 5])
    np.testing.assert_allclose(
        score(users), towers.score_pairs(model, users, ITEMS), rtol=1e-5, atol=1e-5
    )


def test_evaluation_through_towers_equals_evaluation_by_pairs() -> None:
    rng = np.random.default_rng(0)
    users = np.repeat(np.arange(USERS), 6)
    items = rng.integers(0, ITEMS, len(users))
    split = ranking.leave_last_out(users, items, USERS, ITEMS)
    model = _two_towers()
    fast = ranking.evaluate_model(model, split, which="test", ks=(1, 5, 10))
    by_pairs = ranking.evaluate_scores(
        split,
        lambda block: towers.score_pairs(model, block, ITEMS),
        which="test",
        ks=(1, 5, 10),
    )
    assert fast == pytest.approx(by_pairs, abs=1e-9)


def test_a_model_without_named_towers_is_scored_by_pairs() -> None:
    model = _two_towers()
    plain = _two_towers(named=False)  # same seed: the same weights
    score = towers.scorer(plain, USERS, ITEMS)
    assert not isinstance(score, towers.TowerScorer)
    np.testing.assert_allclose(score([1, 2]), towers.score_pairs(model, [1, 2], ITEMS))


def test_named_towers_whose_dot_product_is_not_the_score_are_refused() -> None:
    with pytest.raises(DataError, match="differently from the dot product.*off by up to"):
        towers.scorer(_two_towers(score="dot+bias"), USERS, ITEMS)


def test_a_user_tower_that_reads_the_item_is_refused() -> None:
    with pytest.raises(DataError, match="user_vector must depend on user_id only"):
        towers.scorer(_two_towers(user_sees_item=True), USERS, ITEMS)


@pytest.mark.slow  # over 7 s: kept out of the quick run (pytest -m 'not slow')
def test_an_exported_recommender_still_names_its_towers(tmp_path) -> None:
    """The names survive .keras: a fresh process without zoo finds both towers."""
    model = zoo.create("recommender", num_users=USERS, num_items=ITEMS)
    path = tmp_path / "recommender.keras"
    model.save(path)
    code = (
        "import keras, sys; m = keras.saving.load_model(sys.argv[1]);"
        "print(sorted(l.name for l in m.layers if l.name.endswith('_vector')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True
    ).stdout
    assert "['item_vector', 'user_vector']" in out

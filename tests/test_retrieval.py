"""Retrieval splits, negatives, ranking metrics and the baselines of every task."""

from __future__ import annotations

import math

import numpy as np
import pytest

from zoo.errors import DataError
from zoo.tasks import baselines
from zoo.tasks import ranking as retrieval

# ----------------------------------------------------------------------------------- split


def test_leave_last_out_holds_out_each_users_latest_items() -> None:
    users = [0, 0, 0, 0, 1, 1, 2]
    items = [1, 2, 3, 4, 1, 2, 3]
    split = retrieval.leave_last_out(users, items, 3, 5, validation_split=0.25, test_split=0.25)
    assert split.indices["test"].tolist() == [3, 5]  # user 0's item 4, user 1's item 2
    assert split.indices["validation"].tolist() == [2]  # user 0's item 3
    assert split.indices["train"].tolist() == [0, 1, 4, 6]  # user 2 has one: all training
    every = np.concatenate(list(split.indices.values()))
    assert sorted(every.tolist()) == list(range(7))


def test_leave_last_out_follows_the_given_order_not_the_ids() -> None:
    split = retrieval.leave_last_out(
        [0, 1, 0, 1, 0], [5, 6, 7, 8, 9], 2, 10, validation_split=0.0, test_split=0.2
    )
    assert split.positives("test")[1].tolist() == [8, 9]
    assert len(split.indices["validation"]) == 0
    with pytest.raises(DataError, match="item_id 10 is outside 0..9"):
        retrieval.leave_last_out([0], [10], 1, 10)
    with pytest.raises(DataError, match="2 user ids but 1 item ids"):
        retrieval.leave_last_out([0, 1], [1], 2, 10)


def test_training_pairs_never_sample_an_observed_pair() -> None:
    rng = np.random.default_rng(0)
    users = rng.integers(0, 20, 300)
    items = rng.integers(0, 15, 300)
    x, y = retrieval.training_pairs(users, items, 15, 3, seed=1)
    positives = set(zip(users.tolist(), items.tolist(), strict=True))
    pairs = list(zip(x["user_id"].tolist(), x["item_id"].tolist(), strict=True))
    negatives = [p for p, label in zip(pairs, y, strict=True) if label == 0]
    assert y.dtype == np.float32 and int(y.sum()) == 300
    assert not set(negatives) & positives
    assert len(negatives) > 0.9 * 900  # only users who saw nearly everything lose a few
    # a user who has seen every item gets no negative rather than a wrong one
    x, y = retrieval.training_pairs([0, 0, 0], [0, 1, 2], 3, 2, seed=0)
    assert y.tolist() == [1.0, 1.0, 1.0]


def test_split_pairs_avoid_earlier_positives() -> None:
    """Training negatives may be later (held-out) positives: the model must not know those."""
    users = np.repeat(np.arange(30), 6)
    items = np.tile(np.arange(6), 30) + np.repeat(np.arange(30) % 5, 6)
    split = retrieval.leave_last_out(users, items, 30, 12, validation_split=0.2, test_split=0.2)
    before = {"train": ("train",), "validation": ("train", "validation")}
    hits_of_later = 0
    for name in ("train", "validation", "test"):
        avoid = before.get(name, ("train", "validation", "test"))
        known = {
            pair
            for part in avoid
            for pair in zip(*(a.tolist() for a in split.positives(part)), strict=True)
        }
        later = {
            pair
            for part in ("validation", "test")
            if part not in avoid
            for pair in zip(*(a.tolist() for a in split.positives(part)), strict=True)
        }
        x, y = split.pairs(name, 4, seed=3)
        negatives = [
            (u, i)
            for u, i, label in zip(x["user_id"].tolist(), x["item_id"].tolist(), y, strict=True)
            if label == 0
        ]
        assert not set(negatives) & known
        hits_of_later += len(set(negatives) & later)
        assert int(y.sum()) == len(split.indices[name])
    assert hits_of_later > 0  # held-out items were not shielded from training negatives


# --------------------------------------------------------------------------------- metrics


def test_ranking_metrics_by_hand() -> None:
    scores = np.array([[0.9, 0.1, 0.8, 0.7, 0.2, 0.5]])
    # item 0 was seen in training; held out: items 2 and 5
    # ranking of the candidates: 2 (0.8), 3, 5 (0.5), 4, 1 -> ranks 0 and 2
    found = retrieval.ranking_metrics(scores, [np.array([2, 5])], [np.array([0])], ks=(2, 3))
    assert found["recall_at_2"] == 0.5 and found["recall_at_3"] == 1.0
    assert found["hit_rate_at_2"] == 1.0
    assert found["ndcg_at_2"] == pytest.approx(1 / (1 + 1 / math.log2(3)))
    assert found["ndcg_at_3"] == pytest.approx((1 + 1 / math.log2(4)) / (1 + 1 / math.log2(3)))
    assert found["mrr"] == 1.0 and found["users"] == 1


def test_ties_rank_like_random_not_like_an_oracle() -> None:
    r = retrieval.ranks(np.zeros(5), np.array([3]), np.array([], dtype=int))
    assert r.tolist() == [2.0]  # half of the 4 tied competitors are counted above
    flat = retrieval.ranking_metrics(np.zeros((1, 5)), [np.array([3])], [np.array([])], ks=(2, 3))
    assert flat["hit_rate_at_2"] == 0.0 and flat["hit_rate_at_3"] == 1.0
    assert flat["mrr"] == pytest.approx(1 / 3)
    nan = retrieval.ranks(np.array([np.nan, 1.0, 0.0]), np.array([0]), np.array([], dtype=int))
    assert nan.tolist() == [2.0]  # a NaN score ranks last
    with pytest.raises(DataError, match="no user has held-out"):
        retrieval.ranking_metrics(np.zeros((1, 3)), [np.array([])], [np.array([])])


def test_evaluation_leaves_out_what_the_model_saw() -> None:
    users = np.repeat(np.arange(10), 4)
    items = np.tile(np.arange(4), 10) + np.repeat(np.arange(10) % 3, 4)
    split = retrieval.leave_last_out(users, items, 10, 8, validation_split=0.25, test_split=0.25)
    test_users, test_items = split.positives("test")
    seen_users, seen_items = split.positives("train")

    def cheater(batch: np.ndarray) -> np.ndarray:
        """Scores seen items highest, then the test item: perfect once seen ones are left out."""
        out = np.zeros((len(batch), 8))
        for row, user in enumerate(batch):
            out[row, seen_items[seen_users == user]] = 10.0
            out[row, test_items[test_users == user]] = 5.0
        return out

    found = retrieval.evaluate_scores(split, cheater, which="test", ks=(1,))
    assert found["recall_at_1"] == 1.0 and found["users"] == 10
    sample = retrieval.evaluate_scores(split, cheater, which="test", max_users=4)
    assert sample["users"] == 4


def test_baselines_on_the_default_recommender_data() -> None:
    from zoo.catalog import get_catalog
    from zoo.catalog.config import make_config
    from zoo.plugins.recommender import data as rec_data

    ref = get_catalog().resolve("recommender")
    config = make_config(ref)
    dataset = rec_data.load(config, None, None)
    split = retrieval.leave_last_out(
        dataset.x["user_id"], dataset.x["item_id"], config.num_users, config.num_items
    )
    found = retrieval.evaluate_baselines(split, which="test", ks=(10,))
    random_recall = found["random"]["recall_at_10"]
    candidates = config.num_items - np.bincount(split.positives("train")[0]).mean()
    assert random_recall == pytest.approx(10 / candidates, rel=0.25)
    assert found["popularity"]["recall_at_10"] > 3 * random_recall
    oracle = retrieval.evaluate_scores(split, lambda u: rec_data.true_scores(config, u))
    assert oracle["recall_at_10"] > found["popularity"]["recall_at_10"] + 0.2
    validation = retrieval.evaluate_baselines(split, which="validation")
    assert validation["popularity"]["users"] == config.num_users


@pytest.mark.slow
def test_a_trained_two_tower_model_beats_popularity() -> None:
    """End to end on small generated data: score_users, evaluate_model, the baselines."""
    import keras

    from zoo.building import build_model
    from zoo.catalog import get_catalog
    from zoo.catalog.config import make_config

    ref = get_catalog().resolve("recommender")
    overrides = {
        "num_users": 300,
        "num_items": 100,
        "embedding_dim": 8,
        "tower_units": [16],
        "output_dim": 8,
        "learning_rate": 0.01,
    }
    config = make_config(ref, [("test", overrides)])
    hook = get_catalog().host.owner_hook(ref.plugin, "zoo_dataset")
    data = hook(config=config, path=None, state=None)
    split = retrieval.leave_last_out(data.x["user_id"], data.x["item_id"], 300, 100)
    keras.utils.set_random_seed(0)
    model = build_model(ref, config)
    scores = retrieval.score_users(model, [3, 7], 100, batch_size=64)
    direct = model.predict_on_batch({"user_id": np.full(100, 7), "item_id": np.arange(100)})
    np.testing.assert_allclose(scores[1], np.ravel(direct), rtol=1e-5, atol=1e-6)
    x, y = split.pairs("train", 4, seed=0)
    model.fit(x, y, batch_size=256, epochs=8, verbose=0)
    trained = retrieval.evaluate_model(model, split, which="test")
    popular = retrieval.evaluate_baselines(split, which="test")["popularity"]
    assert trained["recall_at_10"] > popular["recall_at_10"] + 0.05


# ------------------------------------------------------------------------------- baselines


def test_classification_baseline_by_hand() -> None:
    found = baselines.classification([0, 0, 1, 2], [0, 1, 1])
    assert found["predicts"] == 0 and found["accuracy"] == pytest.approx(1 / 3)
    assert found["loss"] == pytest.approx(-(math.log(0.5) + 2 * math.log(0.25)) / 3)
    assert baselines.majority_accuracy([2, 2, 1], [2, 1, 2, 2]) == 0.75
    unseen = baselines.classification([0, 0], [1])  # a class never seen in training
    assert unseen["accuracy"] == 0.0 and unseen["loss"] == pytest.approx(-math.log(1e-7))
    with pytest.raises(DataError, match="one integer per example"):
        baselines.classification(np.zeros((3, 2), int), [0])


def test_regression_baseline_and_dispatch() -> None:
    found = baselines.regression([1.0, 3.0], [0.0, 4.0])
    assert found["mae"] == 2.0 and found["loss"] == 4.0
    images = np.ones((4, 2, 2))
    assert baselines.for_task("reconstruction", images, images + 1)["mae"] == 1.0
    assert baselines.for_task("image-classification", [1, 1], [1])["accuracy"] == 1.0
    with pytest.raises(DataError, match="zoo.tasks.ranking.evaluate_baselines"):
        baselines.for_task("retrieval", [1], [1])


def test_bag_of_words_baseline_reads_words_not_order() -> None:
    rng = np.random.default_rng(0)
    x = rng.integers(3, 20, (400, 12))
    y = rng.integers(0, 2, 400)
    x[:, 5] = np.where(y == 1, 1, 2)  # a word that gives the class away
    assert baselines.bag_of_words_accuracy(x[:300], y[:300], x[300:], y[300:], 20) > 0.95
    shuffled = rng.permuted(x, axis=1)  # order lost: the word still tells
    assert (
        baselines.bag_of_words_accuracy(shuffled[:300], y[:300], shuffled[300:], y[300:], 20) > 0.95
    )
    with pytest.raises(DataError, match="token ids must be in 0..9"):
        baselines.bag_of_words_accuracy(x[:10], y[:10], x[10:20], y[10:20], 10)

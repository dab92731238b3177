"""Retrieval: (user, item) pairs scored by a logit; ranked against every item per user."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from zoo.data.dataset import Dataset
from zoo.errors import DataError
from zoo.tasks.base import SPLITS, SplitData, Task


class PairSplit(SplitData):
    """A retrieval split whose (user, item) pairs with sampled negatives are drawn the first
    time a part is used (each part from its own seed, so the order does not matter):
    ``zoo evaluate`` ranks from ``extra["retrieval"]`` and draws the test pairs only, not
    the many training negatives."""

    def __init__(self, held: Any, num_negatives: int, seed: int, data_cache: str = "auto") -> None:
        self.indices = held.indices
        self.extra = {"retrieval": held}
        self._negatives, self._seed = num_negatives, seed
        self._cache = data_cache
        self._parts: dict[str, tuple[Any, Any]] = {}

    def part(self, name: str) -> tuple[Any, Any]:
        if name not in self._parts:
            offset = SPLITS.index(name)
            held = self.extra["retrieval"]
            self._parts[name] = held.pairs(
                name, self._negatives, self._seed + offset, streamed=self.streamed(name)
            )
        return self._parts[name]

    def size(self, name: str) -> int:
        if name not in self._parts and self.streamed(name):  # exact, without making them
            return len(self.indices[name]) * (1 + self._negatives)
        return super().size(name)

    def streamed(self, name: str) -> bool:
        """Whether part ``name``'s pairs are sampled as they are read (``data_cache``:
        ``stream``, or ``auto`` and more than 256 MB of pairs in the three parts together)
        instead of held in memory. One decision for all parts: a validation part small
        enough for memory is still too slow and big to draw up front when the training
        part streams (10M ratings, 4 negatives: 20 s and +700 MB for validation and test)."""
        from zoo.data.sources import MEMORY_LIMIT_BYTES

        if self._cache != "auto":
            return self._cache == "stream"
        pairs = sum(len(part) for part in self.indices.values()) * (1 + self._negatives)
        return pairs * 12 > MEMORY_LIMIT_BYTES  # user, item, label: 4 bytes each

    @property  # type: ignore[override]
    def train(self) -> tuple[Any, Any]:
        return self.part("train")

    @property  # type: ignore[override]
    def validation(self) -> tuple[Any, Any]:
        return self.part("validation")

    @property  # type: ignore[override]
    def test(self) -> tuple[Any, Any]:
        return self.part("test")


class RetrievalTask(Task):
    """Trained on observed pairs against sampled negatives; evaluated by ranking
    (:mod:`zoo.tasks.ranking`): each user's latest interactions are held out."""

    name = "retrieval"
    main_metric = "recall_at_10"
    higher_is_better = True

    def loss(self, config: Any) -> Any:
        import keras

        return keras.losses.BinaryCrossentropy(from_logits=True)

    def metrics(self, config: Any) -> list[Any]:
        import keras

        return [keras.metrics.AUC(from_logits=True, name="auc")]

    def check_data(self, dataset: Dataset, config: Any) -> None:
        if isinstance(dataset.x, dict) and set(dataset.x) == {"user_id"}:
            raise DataError(
                f"data {dataset.name} lists users only: it can be predicted for, not trained "
                "or evaluated on",
                "give (user, item) interactions, e.g. userId,movieId,rating,timestamp",
            )
        if not isinstance(dataset.x, dict) or not {"user_id", "item_id"} <= set(dataset.x):
            raise DataError(
                f"data {dataset.name} has no user_id/item_id pairs",
                "a retrieval dataset's x is a dict with 'user_id' and 'item_id' arrays",
            )

    def check_outputs(self, outputs: Any, x: Any, dataset: Dataset, model_name: str) -> None:
        n = len(outputs)
        if outputs.shape not in ((n,), (n, 1)):
            raise DataError(
                f"model '{model_name}' outputs shape {outputs.shape} for {n} pairs; a "
                "retrieval model outputs one score per (user, item) pair"
            )

    def held_out(self, dataset: Dataset, config: Any) -> Any:
        from zoo.tasks import ranking

        opts = config.train
        return ranking.leave_last_out(
            dataset.x["user_id"],
            dataset.x["item_id"],
            config["num_users"],
            config["num_items"],
            validation_split=opts["validation_split"],
            test_split=opts["test_split"],
        )

    def split(self, dataset: Dataset, config: Any, seed: int) -> SplitData:
        held = self.held_out(dataset, config)
        if config.train["test_split"] and not len(held.indices["test"]):
            raise DataError(
                f"data {dataset.name} leaves no interactions to test on "
                f"({len(dataset)} interactions)",
                "give users several interactions each, or lower test_split",
            )
        return PairSplit(
            held, config["num_negatives"], seed, config.train.get("data_cache", "auto")
        )

    def whole(self, dataset: Dataset, config: Any) -> SplitData:
        # ranking needs the items each user has seen: split the data like training does
        return self.split(dataset, config, 0)

    def evaluate(self, model: Any, split: SplitData, config: Any, batch_size: int) -> dict:
        from zoo.tasks import ranking

        found = ranking.evaluate_model(model, split.extra["retrieval"], which="test")
        found.pop("users", None)
        return found

    def baselines(self, split: SplitData, config: Any) -> dict[str, float]:
        from zoo.tasks import ranking

        found = ranking.evaluate_baselines(split.extra["retrieval"], which="test", seed=0)
        return {
            f"{name}_{key}": value
            for name, values in found.items()
            for key, value in values.items()
            if key != "users"
        }

    def prediction_inputs(self, dataset: Dataset) -> Any:
        return None  # predict scores every item for each user: no pairs to check

    def predict(
        self,
        model: Any,
        dataset: Dataset,
        config: Any,
        state: dict[str, Any],
        *,
        batch_size: int,
        top_k: int,
        options: dict[str, Any] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """The top-k items of every user in ``dataset`` (interactions, or users only), in
        first-seen order.

        Items the user interacted with — in the model's training data
        (``options["training_data"]``) or in ``dataset`` itself — are left out of the
        ranking, as evaluation leaves out the items seen in training, unless
        ``options["include_seen"]``; a user who has seen nearly every item gets fewer than
        ``top_k``. Users are scored ``batch_size`` at a time (:func:`ranking.block_rows`
        bounds the block), and their rows are yielded before the next block is scored.
        """
        import numpy as np

        from zoo.tasks.ranking import block_rows, top_items
        from zoo.tasks.towers import scorer

        opts = options or {}
        x = dataset.x
        users_in = np.asarray(x["user_id"] if isinstance(x, dict) else x).reshape(-1)
        _, first = np.unique(users_in, return_index=True)
        users = users_in[np.sort(first)]
        num_items = int(config["num_items"])
        seen = None if opts.get("include_seen") else self.seen_items(dataset, config, opts)
        item_ids = state.get("items")
        user_ids = state.get("users")
        # batch_size users at a time (fewer when their scores would pass ranking's block
        # budget): memory bounded by the block, never users x items; rows yielded per block
        block = max(1, min(batch_size, block_rows(num_items)))
        score = scorer(model, int(config["num_users"]), num_items)
        for start in range(0, len(users), block):
            chunk = users[start : start + block]
            scores = score(chunk)
            if seen is not None:
                for row, user in enumerate(chunk):
                    scores[row, seen[int(user)]] = -np.inf
            for row, (user, top) in enumerate(zip(chunk, top_items(scores, top_k), strict=True)):
                yield {
                    "user_id": user_ids[user] if user_ids else int(user),
                    "items": [item_ids[i] if item_ids else int(i) for i in top],
                    "scores": [round(float(scores[row, i]), 6) for i in top],
                }

    def seen_items(self, dataset: Dataset, config: Any, options: dict[str, Any]) -> Any:
        """Items of each user in the training data and in ``dataset`` (a ``Grouped``)."""
        import numpy as np

        from zoo.tasks.ranking import Grouped

        loader = options.get("training_data")
        trained = loader() if callable(loader) else loader
        users, items = [], []
        for source in (trained, dataset):
            x = getattr(source, "x", None)
            if isinstance(x, dict) and {"user_id", "item_id"} <= set(x):
                users.append(np.asarray(x["user_id"], dtype="int64").reshape(-1))
                items.append(np.asarray(x["item_id"], dtype="int64").reshape(-1))
        if not users:
            return Grouped.build(np.zeros(0, "int64"), np.zeros(0, "int64"), config["num_users"])
        return Grouped.build(np.concatenate(users), np.concatenate(items), config["num_users"])

"""What a model must beat: trivial predictors scored with the task's own metrics.

- classification: always the training set's most frequent class (``accuracy``), and the
  training class frequencies as the predicted distribution (``loss``, cross-entropy);
- regression and reconstruction: always the training mean (``mae``, ``loss`` = MSE);
- retrieval: item popularity and random ranking (see :mod:`zoo.tasks.ranking`).

The keys match the metrics the runner reports for the task, so ``metrics.json`` can set a
model's numbers beside its baseline's. numpy only; no TensorFlow.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from zoo.errors import DataError

# A predicted probability is clipped to this floor, as Keras' cross-entropy does.
EPSILON = 1e-7


def _labels(y: Any, name: str) -> np.ndarray:
    y = np.asarray(y)
    if y.size == 0:
        raise DataError(f"the {name} split is empty", "give more data or lower the split shares")
    y = y.reshape(len(y), -1)
    if y.shape[1] != 1 or y.dtype.kind not in "biu":
        raise DataError(
            f"classification labels must be one integer per example, got {y.dtype} {y.shape}",
            "encode the classes as 0..K-1",
        )
    return y[:, 0].astype("int64")


def classification(y_train: Any, y_test: Any, num_classes: int | None = None) -> dict[str, Any]:
    """Majority-class accuracy and class-prior cross-entropy on ``y_test``."""
    train, test = _labels(y_train, "training"), _labels(y_test, "test")
    size = max(int(train.max()), int(test.max())) + 1
    if num_classes is not None:
        size = max(size, num_classes)
    prior = np.bincount(train, minlength=size) / len(train)
    majority = int(np.argmax(prior))
    return {
        "name": "majority class",
        "predicts": majority,
        "accuracy": float(np.mean(test == majority)),
        "loss": float(-np.mean(np.log(np.clip(prior[test], EPSILON, 1.0)))),
    }


def majority_accuracy(y_train: Any, y_test: Any) -> float:
    """Accuracy on ``y_test`` of always predicting the most frequent training class."""
    return float(classification(y_train, y_test)["accuracy"])


def bag_of_words_accuracy(
    x_train: Any, y_train: Any, x_test: Any, y_test: Any, vocab_size: int, seed: int = 0
) -> float:
    """Test accuracy of a logistic regression on token counts (order ignored).

    For token-sequence data (id 0 = padding): what a model gets without reading word order.
    A sequence model that does no better has not used the order.
    """
    from scipy.sparse import csr_matrix
    from sklearn.linear_model import LogisticRegression

    train, test = _labels(y_train, "training"), _labels(y_test, "test")

    def counts(x: Any) -> Any:
        x = np.asarray(x, dtype="int64").reshape(len(x), -1)
        if x.size and (x.min() < 0 or x.max() >= vocab_size):
            raise DataError(
                f"token ids must be in 0..{vocab_size - 1}, found {int(x.min())}..{int(x.max())}",
                "raise vocab_size to cover every id",
            )
        rows = np.repeat(np.arange(len(x)), x.shape[1])
        tokens = x.reshape(-1)
        real = tokens != 0
        ones = np.ones(int(real.sum()), dtype="float32")
        matrix = csr_matrix((ones, (rows[real], tokens[real])), shape=(len(x), vocab_size))
        matrix.sum_duplicates()
        matrix.data = np.log1p(matrix.data)
        return matrix

    if len(np.unique(train)) < 2:
        return float(np.mean(test == train[0]))
    model = LogisticRegression(max_iter=1000, random_state=seed)
    model.fit(counts(x_train), train)
    return float(model.score(counts(x_test), test))


def regression(y_train: Any, y_test: Any) -> dict[str, Any]:
    """Mean-predictor MAE and MSE on ``y_test`` (targets of any shape)."""
    train = np.asarray(y_train, dtype="float64")
    test = np.asarray(y_test, dtype="float64")
    if train.size == 0 or test.size == 0:
        raise DataError("an empty split has no baseline", "give more data")
    if train.shape[1:] != test.shape[1:]:
        raise DataError(
            f"training targets {train.shape[1:]} and test targets {test.shape[1:]} differ",
            "give targets of one shape",
        )
    mean = train.mean(axis=0)
    error = test - mean
    return {
        "name": "training mean",
        "mae": float(np.abs(error).mean()),
        "loss": float((error**2).mean()),
    }


def for_task(task: str, y_train: Any, y_test: Any, **kwargs: Any) -> dict[str, Any]:
    """The baseline of a task family (``Task.name``): classification, regression,
    reconstruction. Retrieval baselines need the interaction split: use
    :func:`zoo.tasks.ranking.evaluate_baselines`.
    """
    if task == "classification" or task.endswith("-classification"):
        return classification(y_train, y_test, kwargs.get("num_classes"))
    if task in ("regression", "reconstruction") or task.endswith("-regression"):
        return regression(y_train, y_test)
    raise DataError(
        f"no label baseline for task '{task}'",
        "retrieval baselines come from zoo.tasks.ranking.evaluate_baselines",
    )

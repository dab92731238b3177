"""Classical baselines for the built-in models, fitted on the runner's exact split.

What a practitioner would try first on each default dataset (numpy + scikit-learn, no
TensorFlow), fitted on the same training examples the zoo's run trains on and scored on
the same test examples:

- cnn (digits): ``SVC()`` and logistic regression on the original 8x8 pixels (0..16 / 16)
  of the same examples (the cnn sees them resized to 28x28);
- mlp (Gaussian clusters): histogram gradient boosting, random forest, logistic regression;
- rnn (waveforms): logistic regression and random forest on FFT magnitudes;
- transformer (ordered pairs): logistic regression on a bag of words and on a bag of
  words plus bigrams;
- recommender (implicit feedback): item-to-item cosine kNN (the task gives popularity),
  scored by the task's own ranking code.

    python benchmarks/classical.py [MODEL ...] [--seed N]

``best(model, results)`` names the strongest one, the one a shipped model must beat.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

# model -> the metric compared, and which of the baselines below is "the best classical"
METRIC = {
    "cnn": "accuracy",
    "mlp": "accuracy",
    "rnn": "accuracy",
    "transformer": "accuracy",
    "recommender": "recall_at_10",
}


def _labels(y: Any) -> np.ndarray:
    return np.asarray(y).reshape(len(y), -1)[:, 0].astype("int64")


def _score(model: Any, x_train: Any, y_train: Any, x_test: Any, y_test: Any) -> float:
    model.fit(x_train, _labels(y_train))
    return float(model.score(x_test, _labels(y_test)))


# ----------------------------------------------------------------------------- digits


def digits_pixels(indices: dict[str, Any]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The original 8x8 pixels (scaled to [0, 1]) of the split's examples, by split name.

    The cnn's default data is scikit-learn's digits in order (all ten classes kept), so the
    split's indices address ``load_digits()`` directly.
    """
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = bunch.data.astype("float64") / 16.0
    return {name: (x[idx], bunch.target[idx]) for name, idx in indices.items()}


def svc_accuracy(x_train: Any, y_train: Any, x_test: Any, y_test: Any) -> float:
    """scikit-learn's default ``SVC()`` (RBF kernel, C=1, gamma='scale')."""
    from sklearn.svm import SVC

    return _score(SVC(), _flat(x_train), y_train, _flat(x_test), y_test)


def logistic_accuracy(x_train: Any, y_train: Any, x_test: Any, y_test: Any) -> float:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    return _score(model, _flat(x_train), y_train, _flat(x_test), y_test)


def _flat(x: Any) -> np.ndarray:
    x = np.asarray(x, dtype="float64")
    return x.reshape(len(x), -1)


def cnn(split: Any) -> dict[str, float]:
    parts = digits_pixels(split.indices)
    args = (*parts["train"], *parts["test"])
    # sanity: the labels of the 8x8 copies are the run's labels
    assert np.array_equal(parts["test"][1], _labels(split.test[1]))
    return {"svc_accuracy": svc_accuracy(*args), "logistic_accuracy": logistic_accuracy(*args)}


# ------------------------------------------------------------------------------ tabular


def mlp(split: Any, seed: int = 0) -> dict[str, float]:
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier

    (x_train, y_train), (x_test, y_test) = split.train, split.test
    x_train, x_test = _flat(x_train), _flat(x_test)
    return {
        "gradient_boosting_accuracy": _score(
            # early stopping on 10% of the training split: 10 classes x 100 features
            # otherwise take minutes on 2 cores
            HistGradientBoostingClassifier(early_stopping=True, random_state=seed),
            x_train,
            y_train,
            x_test,
            y_test,
        ),
        "random_forest_accuracy": _score(
            RandomForestClassifier(n_estimators=200, n_jobs=2, random_state=seed),
            x_train,
            y_train,
            x_test,
            y_test,
        ),
        "logistic_accuracy": logistic_accuracy(x_train, y_train, x_test, y_test),
    }


# ---------------------------------------------------------------------------- waveforms


def fft_features(x: Any) -> np.ndarray:
    """Magnitudes of the real FFT of each feature, the mean removed, scaled by the length."""
    x = np.asarray(x, dtype="float64")
    if x.ndim == 2:
        x = x[..., None]
    x = x - x.mean(axis=1, keepdims=True)
    spectrum = np.abs(np.fft.rfft(x, axis=1)) / x.shape[1]
    return spectrum.reshape(len(x), -1)


def rnn(split: Any, seed: int = 0) -> dict[str, float]:
    from sklearn.ensemble import RandomForestClassifier

    (x_train, y_train), (x_test, y_test) = split.train, split.test
    f_train, f_test = fft_features(x_train), fft_features(x_test)
    return {
        "fft_logistic_accuracy": logistic_accuracy(f_train, y_train, f_test, y_test),
        "fft_random_forest_accuracy": _score(
            RandomForestClassifier(n_estimators=300, n_jobs=2, random_state=seed),
            f_train,
            y_train,
            f_test,
            y_test,
        ),
    }


# ------------------------------------------------------------------------------- tokens


def ngram_counts(x: Any, vocab_size: int, bigrams: bool) -> Any:
    """log(1 + count) of each token id (and each adjacent pair of ids), padding (0) dropped."""
    from scipy.sparse import csr_matrix

    x = np.asarray(x, dtype="int64").reshape(len(x), -1)
    rows = [np.repeat(np.arange(len(x)), x.shape[1])]
    cols = [x.reshape(-1)]
    keep = [cols[0] != 0]
    width = vocab_size
    if bigrams and x.shape[1] > 1:
        first, second = x[:, :-1], x[:, 1:]
        rows.append(np.repeat(np.arange(len(x)), x.shape[1] - 1))
        cols.append(vocab_size + (first * vocab_size + second).reshape(-1))
        keep.append(((first != 0) & (second != 0)).reshape(-1))
        width += vocab_size * vocab_size
    r = np.concatenate([a[k] for a, k in zip(rows, keep, strict=True)])
    c = np.concatenate([a[k] for a, k in zip(cols, keep, strict=True)])
    matrix = csr_matrix((np.ones(len(r), "float64"), (r, c)), shape=(len(x), width))
    matrix.sum_duplicates()
    matrix.data = np.log1p(matrix.data)
    return matrix


def transformer(split: Any, vocab_size: int, seed: int = 0) -> dict[str, float]:
    from sklearn.linear_model import LogisticRegression

    (x_train, y_train), (x_test, y_test) = split.train, split.test
    out = {}
    for key, bigrams in (("bag_of_words_accuracy", False), ("bigram_accuracy", True)):
        model = LogisticRegression(max_iter=2000, random_state=seed)
        out[key] = _score(
            model,
            ngram_counts(x_train, vocab_size, bigrams),
            y_train,
            ngram_counts(x_test, vocab_size, bigrams),
            y_test,
        )
    return out


# ------------------------------------------------------------------------------ ranking


def item_knn_scorer(
    users: np.ndarray, items: np.ndarray, num_users: int, num_items: int, neighbours: int = 0
) -> Callable[[np.ndarray], np.ndarray]:
    """Item-to-item cosine kNN on the given interactions: a user's score of an item is the
    sum of its cosine similarities to the items the user interacted with (``neighbours``
    > 0 keeps only each item's most similar ones)."""
    from scipy.sparse import csr_matrix

    matrix = csr_matrix(
        (np.ones(len(users), "float64"), (users, items)), shape=(num_users, num_items)
    )
    matrix.data[:] = 1.0  # a pair seen twice counts once
    co = np.asarray((matrix.T @ matrix).todense(), dtype="float64")
    norms = np.sqrt(np.diag(co))
    norms[norms == 0] = 1.0
    sim = co / norms[:, None] / norms[None, :]
    np.fill_diagonal(sim, 0.0)
    if neighbours and neighbours < num_items:
        cut = -np.partition(-sim, neighbours - 1, axis=1)[:, neighbours - 1 : neighbours]
        sim = np.where(sim >= cut, sim, 0.0)
    history = matrix.tocsr()

    def score(chosen: np.ndarray) -> np.ndarray:
        return np.asarray(history[np.asarray(chosen)] @ sim, dtype="float32")

    return score


def recommender(split: Any, which: str = "test") -> dict[str, float]:
    """Item-kNN fitted on the training interactions (what the model trains on), ranked by
    :func:`zoo.tasks.ranking.evaluate_scores` like the model. (The task's own baselines
    give popularity and random.)"""
    from zoo.tasks import ranking

    held = split.extra["retrieval"]
    users, items = held.positives("train")
    knn = item_knn_scorer(users, items, held.num_users, held.num_items)
    found = ranking.evaluate_scores(held, knn, which=which)
    return {f"item_knn_{k}": v for k, v in found.items() if k != "users"}


# -------------------------------------------------------------------------------- entry


def baselines(model: str, split: Any, config: Any = None, seed: int = 0) -> dict[str, float]:
    """Every classical baseline of ``model`` (an architecture name) on ``split``."""
    if model == "cnn":
        return cnn(split)
    if model == "mlp":
        return mlp(split, seed)
    if model == "rnn":
        return rnn(split, seed)
    if model == "transformer":
        return transformer(split, int(config["vocab_size"]), seed)
    if model == "recommender":
        return recommender(split)
    raise KeyError(model)


def best(model: str, results: dict[str, float]) -> tuple[str, float]:
    """The strongest baseline on the model's metric: (key, value)."""
    metric = METRIC[model]
    keys = [k for k in results if k.endswith(metric)]
    key = max(keys, key=lambda k: results[k])
    return key, results[key]


def for_model(name: str, seed: int = 0) -> dict[str, float]:
    """Classical baselines of the registry model ``name`` on the runner's split for ``seed``."""
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
    from _common import default_arrays

    arrays = default_arrays(name, seed)
    architecture = arrays["ref"].model.architecture
    return baselines(architecture, arrays["split"], arrays["config"], seed)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", default=list(METRIC))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    for name in args.models:
        started = time.perf_counter()
        found = for_model(name, args.seed)
        key, value = best(name, found)
        shown = ", ".join(f"{k}={v:.4f}" for k, v in found.items())
        print(f"{name} (seed {args.seed}, {time.perf_counter() - started:.1f}s): {shown}")
        print(f"  best: {key} = {value:.4f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Tasks: how a family of models is compiled, split, evaluated and baselined.

An architecture names its task in registry.toml; the runner asks the task, not the plugin,
for the loss, the metrics, the data split and the evaluation, so plugins supply only the
model and the data.
"""

from __future__ import annotations

from typing import Any

from zoo.errors import ConfigError
from zoo.optimizers import build_optimizer, make_optimizer


def jit_setting(config: Any) -> Any:
    return {"auto": "auto", "on": True, "off": False}[config.train["jit_compile"]]


class Task:
    """Base class; subclasses define the loss, metrics and evaluation of a task family."""

    name = "task"
    main_metric = "loss"
    higher_is_better = False

    def loss(self) -> Any:
        raise NotImplementedError

    def metrics(self) -> list[Any]:
        return []

    def compile(self, model: Any, config: Any) -> None:
        model.compile(
            optimizer=make_optimizer(config),
            loss=self.loss(),
            metrics=self.metrics(),
            jit_compile=jit_setting(config),
            steps_per_execution=config.train.get("steps_per_execution", 1),
        )
        build_optimizer(model)


class ClassificationTask(Task):
    """Integer labels, softmax outputs: sparse categorical cross-entropy and accuracy."""

    name = "classification"
    main_metric = "accuracy"
    higher_is_better = True

    def loss(self) -> Any:
        import keras

        return keras.losses.SparseCategoricalCrossentropy()

    def metrics(self) -> list[Any]:
        import keras

        return [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]


class RetrievalTask(Task):
    """(user, item) pairs scored by a logit; trained on observed pairs vs sampled negatives."""

    name = "retrieval"
    main_metric = "recall_at_10"
    higher_is_better = True

    def loss(self) -> Any:
        import keras

        return keras.losses.BinaryCrossentropy(from_logits=True)

    def metrics(self) -> list[Any]:
        import keras

        return [keras.metrics.AUC(from_logits=True, name="auc")]


class RegressionTask(Task):
    """Real-valued targets: mean squared error, mean absolute error."""

    name = "regression"
    main_metric = "mae"

    def loss(self) -> Any:
        import keras

        return keras.losses.MeanSquaredError()

    def metrics(self) -> list[Any]:
        import keras

        return [keras.metrics.MeanAbsoluteError(name="mae")]


class ReconstructionTask(RegressionTask):
    """Targets are the inputs (autoencoders)."""

    name = "reconstruction"


def task_for(name: str) -> Task:
    """The task object for a registry ``task`` string (``*-classification`` etc.)."""
    if name == "classification" or name.endswith("-classification"):
        return ClassificationTask()
    if name == "retrieval":
        return RetrievalTask()
    if name == "regression" or name.endswith("-regression"):
        return RegressionTask()
    if name == "reconstruction":
        return ReconstructionTask()
    raise ConfigError(
        f"unknown task '{name}'",
        "tasks: *-classification, retrieval, regression, reconstruction",
    )


# ----------------------------------------------------------------------------- splitting
# Kept apart from the Task classes above so that compile() needs no numpy import.


def _take(x: Any, idx: Any) -> Any:
    if isinstance(x, dict):
        return {k: v[idx] for k, v in x.items()}
    return x[idx]


def random_split(n: int, seed: int, validation: float, test: float) -> dict[str, Any]:
    """Seeded permutation into train/validation/test index arrays (sorted within each)."""
    import numpy as np

    order = np.random.default_rng(seed).permutation(n)
    n_test = int(round(n * test))
    n_val = int(round(n * validation))
    return {
        "test": np.sort(order[:n_test]),
        "validation": np.sort(order[n_test : n_test + n_val]),
        "train": np.sort(order[n_test + n_val :]),
    }


def split_arrays(task: Task, dataset: Any, config: Any, seed: int) -> dict[str, Any]:
    """Index arrays and (x, y) arrays per split, as the task needs them for training.

    Returns ``{"indices": {...}, "train": (x, y), "validation": (x, y), "test": (x, y),
    "extra": {...}}``; retrieval adds sampled negatives to train/validation and keeps the
    held-out interactions in ``extra`` for ranking metrics.
    """
    opts = config.train
    if isinstance(task, RetrievalTask):
        from zoo import retrieval

        held = retrieval.leave_last_out(
            dataset.x["user_id"],
            dataset.x["item_id"],
            config["num_users"],
            config["num_items"],
            validation_split=opts["validation_split"],
            test_split=opts["test_split"],
        )
        out: dict[str, Any] = {"indices": held.indices, "extra": {"retrieval": held}}
        for offset, name in enumerate(("train", "validation", "test")):
            out[name] = held.pairs(name, config["num_negatives"], seed + offset)
        return out
    idx = random_split(len(dataset), seed, opts["validation_split"], opts["test_split"])
    out = {"indices": idx, "extra": {}}
    for name, part in idx.items():
        x = _take(dataset.x, part)
        if isinstance(task, ReconstructionTask):
            y = x
        else:
            y = None if dataset.y is None else dataset.y[part]
        out[name] = (x, y)
    return out


def evaluate_split(
    task: Task, model: Any, split: dict[str, Any], config: Any, batch_size: int
) -> dict[str, float]:
    """Test-split metrics of ``model`` for ``task``."""
    x, y = split["test"]
    if isinstance(task, RetrievalTask):
        from zoo import retrieval

        found = retrieval.evaluate_model(model, split["extra"]["retrieval"], which="test")
        found.pop("users", None)
        return found
    from zoo.data import num_examples
    from zoo.pipeline import evaluation_stream

    if num_examples(x) == 0:
        return {}
    results = model.evaluate(
        evaluation_stream(x, y, batch_size=batch_size), verbose=0, return_dict=True
    )
    return {name: float(value) for name, value in results.items()}


def baselines(task: Task, split: dict[str, Any], config: Any) -> dict[str, float]:
    """Reference scores computed on the same split: what the model must beat."""
    import numpy as np

    from zoo import baselines as base

    x_test, y_test = split["test"]
    x_train, y_train = split["train"]
    if isinstance(task, RetrievalTask):
        from zoo import retrieval

        found = retrieval.evaluate_baselines(split["extra"]["retrieval"], which="test", seed=0)
        return {
            f"{name}_{key}": value
            for name, values in found.items()
            for key, value in values.items()
            if key != "users"
        }
    if not isinstance(task, ClassificationTask) or y_test is None or len(y_test) == 0:
        return {}
    out = {"majority_accuracy": base.majority_accuracy(y_train, y_test)}
    if (
        not isinstance(x_test, dict)
        and np.asarray(x_test).ndim == 2
        and np.issubdtype(np.asarray(x_test).dtype, np.integer)
    ):
        vocab = int(config.get("vocab_size", int(np.max(x_train)) + 1))
        out["bag_of_words_accuracy"] = base.bag_of_words_accuracy(
            x_train, y_train, x_test, y_test, vocab
        )
    return out

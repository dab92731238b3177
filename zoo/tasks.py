"""Tasks: how a family of models is compiled, split, evaluated and baselined.

An architecture names its task in registry.toml; the runner asks the task, not the plugin,
for the loss, the metrics, the data split and the evaluation, so plugins supply only the
model and the data.
"""

from __future__ import annotations

from typing import Any

from zoo.errors import ConfigError


def make_optimizer(config: Any) -> Any:
    import keras

    name = config.train["optimizer"]
    lr = config.train["learning_rate"]
    classes = {
        "adam": keras.optimizers.Adam,
        "adamw": keras.optimizers.AdamW,
        "sgd": keras.optimizers.SGD,
        "rmsprop": keras.optimizers.RMSprop,
        "adagrad": keras.optimizers.Adagrad,
    }
    return classes[name](learning_rate=lr)


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
        )


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

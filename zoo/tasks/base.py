"""The ``Task`` base class: everything that depends on what a model predicts.

A task owns the loss, the metrics and the main metric, compiling, the seeded split of a
dataset, checks of the data and of the model's outputs, evaluation, baselines and the rows
``zoo predict`` writes. The runner, ``zoo evaluate``/``zoo predict``, export parity and the
conformance kit call these methods and never branch on the kind of task, so a plugin adds a
task (forecasting, segmentation, multi-label...) by subclassing ``Task`` and returning it
from its ``zoo_tasks`` hook; its registry.toml declares it under ``[tasks.<name>]``.

Every method has a default that fits a plain supervised task; a subclass overrides
``loss`` (required) and whatever else differs. numpy and Keras are imported inside the
methods, so defining a task costs nothing at import time.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from zoo.data.dataset import Dataset, num_examples, take
from zoo.errors import DataError
from zoo.tasks.optimizers import build_optimizer, make_optimizer

SPLITS = ("train", "validation", "test")


@dataclass
class SplitData:
    """A seeded split of a dataset as a task prepared it.

    ``indices``: example indices of each split (saved as the run's ``split.npz``);
    ``train``/``validation``/``test``: ``(x, y)`` pairs ready for Keras; ``extra``: anything
    else the task's evaluation needs (held-out items, ...).
    """

    indices: dict[str, Any]
    train: tuple[Any, Any]
    validation: tuple[Any, Any]
    test: tuple[Any, Any]
    extra: dict[str, Any] = field(default_factory=dict)

    def part(self, name: str) -> tuple[Any, Any]:
        return {"train": self.train, "validation": self.validation, "test": self.test}[name]

    def size(self, name: str) -> int:
        return num_examples(self.part(name)[0])


def random_split(n: int, seed: int, validation: float, test: float) -> dict[str, Any]:
    """A seeded permutation into train/validation/test index arrays (sorted within each)."""
    import numpy as np

    order = np.random.default_rng(seed).permutation(n)
    n_test = int(round(n * test))
    n_val = int(round(n * validation))
    return {
        "test": np.sort(order[:n_test]),
        "validation": np.sort(order[n_test : n_test + n_val]),
        "train": np.sort(order[n_test + n_val :]),
    }


def ordered_split(n: int, validation: float, test: float) -> dict[str, Any]:
    """Train on the earliest examples, validate on the next, test on the latest (time order)."""
    import numpy as np

    n_test = int(round(n * test))
    n_val = int(round(n * validation))
    n_train = n - n_test - n_val
    return {
        "train": np.arange(0, n_train),
        "validation": np.arange(n_train, n_train + n_val),
        "test": np.arange(n_train + n_val, n),
    }


class Task:
    """Base class of every task; see the module docstring.

    Class attributes: ``name`` (the registry name), ``main_metric`` (the key of
    ``evaluate``'s result that curves, benchmarks and model cards show) and
    ``higher_is_better`` (its direction).
    """

    name: str = ""
    main_metric: str = "loss"
    higher_is_better: bool = False

    # -- compiling -------------------------------------------------------------------------
    def loss(self, config: Any) -> Any:
        """The Keras loss (required)."""
        raise NotImplementedError(f"task '{self.name}' defines no loss()")

    def metrics(self, config: Any) -> list[Any]:
        """Fresh Keras metric objects (called once per compiled model)."""
        return []

    def compile(self, model: Any, config: Any) -> None:
        """Compile ``model`` with this task's loss and metrics and the configured optimizer."""
        model.compile(
            optimizer=make_optimizer(config),
            loss=self.loss(config),
            metrics=self.metrics(config),
            jit_compile={"auto": "auto", "on": True, "off": False}[config.train["jit_compile"]],
            steps_per_execution=config.train.get("steps_per_execution", 1),
        )
        build_optimizer(model)

    # -- data ------------------------------------------------------------------------------
    def check_data(self, dataset: Dataset, config: Any) -> None:
        """Raise ``DataError`` when the targets do not fit the model (before training)."""

    def check_outputs(self, outputs: Any, x: Any, dataset: Dataset, model_name: str) -> None:
        """Raise ``DataError`` when a model's outputs (numpy, for a few examples) cannot be
        compared with this task's targets; used by the conformance kit."""

    def targets(self, x: Any, y: Any) -> Any:
        """The training targets of a split's examples (the labels; an autoencoder: ``x``)."""
        return y

    def split_indices(self, dataset: Dataset, config: Any, seed: int) -> dict[str, Any]:
        """Example indices per split; the default is a seeded random split."""
        opts = config.train
        return random_split(len(dataset), seed, opts["validation_split"], opts["test_split"])

    def split(self, dataset: Dataset, config: Any, seed: int) -> SplitData:
        """The seeded train/validation/test split of ``dataset``."""
        indices = self.split_indices(dataset, config, seed)
        parts = {}
        for name in SPLITS:
            x = take(dataset.x, indices[name])
            y = None if dataset.y is None else take(dataset.y, indices[name])
            parts[name] = (x, self.targets(x, y))
        return SplitData(indices=indices, **parts)

    def whole(self, dataset: Dataset, config: Any) -> SplitData:
        """All of ``dataset`` as the test split (``zoo evaluate --data``)."""
        import numpy as np

        everything = (dataset.x, self.targets(dataset.x, dataset.y))
        empty = np.arange(0)
        indices = {"train": empty, "validation": empty, "test": np.arange(len(dataset))}
        return SplitData(indices=indices, train=everything, validation=everything, test=everything)

    # -- evaluation ------------------------------------------------------------------------
    def evaluate(self, model: Any, split: SplitData, config: Any, batch_size: int) -> dict:
        """Test-split metrics of ``model``: by default the compiled loss and metrics."""
        from zoo.data.pipeline import evaluation_stream

        x, y = split.test
        if num_examples(x) == 0:
            return {}
        from zoo.data.sources import naming_unreadable

        stream = evaluation_stream(x, y, batch_size=batch_size)
        with naming_unreadable(x):
            results = model.evaluate(stream, verbose=0, return_dict=True)
        return {name: float(value) for name, value in results.items()}

    def baselines(self, split: SplitData, config: Any) -> dict[str, float]:
        """Reference scores on the same split, with the same metric names: what to beat."""
        return {}

    # -- prediction ------------------------------------------------------------------------
    def prediction_inputs(self, dataset: Dataset) -> Any:
        """The arrays :meth:`predict` feeds the model, checked against the model's inputs
        before predicting; ``None`` when the task builds its own (retrieval scores every
        item for each user of ``dataset``)."""
        return dataset.x

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
        """Rows for ``zoo predict``, one per example, in the input's order, yielded as
        batches finish, each with the example's key (``dataset.key_name``). The default runs
        the model batch by batch and formats each output with :meth:`prediction_row`.

        ``options`` from ``zoo.predict``: ``include_seen`` (bool: keep what the model saw in
        training, e.g. a user's rated items) and ``training_data`` (a callable returning the
        Dataset the model was trained on, encoded like ``dataset``, or ``None``)."""
        import numpy as np

        from zoo.data.pipeline import evaluation_stream

        keys = dataset.keys
        index = 0
        for batch in evaluation_stream(dataset.x, None, batch_size=batch_size):
            x_batch = batch[0] if isinstance(batch, tuple) and len(batch) == 1 else batch
            out = model.predict_on_batch(x_batch)  # inputs, not a 1-tuple: no Keras warning
            outputs = out if isinstance(out, (list, tuple, dict)) else [out]
            if isinstance(outputs, dict):
                outputs = list(outputs.values())
            first = np.asarray(outputs[0])
            for row in range(first.shape[0]):
                values = [np.asarray(o)[row] for o in outputs]
                record: dict[str, Any] = {"index": index}
                if keys is not None:
                    record[dataset.key_name] = keys[index]
                record.update(self.prediction_row(values, state, top_k))
                yield record
                index += 1

    def prediction_row(self, outputs: list[Any], state: dict[str, Any], top_k: int) -> dict:
        """The columns of one example's prediction; by default its output values."""
        import numpy as np

        values = np.ravel(outputs[0])
        if values.size == 1:
            return {"value": float(values[0])}
        return {"values": [round(float(v), 6) for v in values]}

    def __repr__(self) -> str:
        return f"<Task {self.name or type(self).__name__}>"


def require_targets(dataset: Dataset, task: str) -> None:
    if dataset.y is None:
        raise DataError(
            f"data {dataset.name} has no targets", f"task '{task}' trains on labelled data"
        )

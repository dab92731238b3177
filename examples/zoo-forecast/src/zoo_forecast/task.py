"""The ``forecasting`` task: what the zoo needs to train, evaluate and predict a forecaster.

A ``zoo.plugin.Task`` subclass owns everything that depends on what a model predicts. The
zoo's runner, `zoo evaluate`, `zoo predict`, export parity and the conformance kit call
these methods; none of them knows about forecasting. This one overrides:

- ``loss`` / ``metrics`` / ``main_metric``: Huber, sMAPE (the main metric, lower is
  better) and MAE;
- ``split_indices``: windows in time order (train on the past, validate on the next, test
  on the latest), leaving out the last ``horizon - 1`` training windows, whose targets
  overlap the first later windows' targets;
- ``check_data`` / ``check_outputs``: targets of another horizon than the model's output
  are refused before training (and by the conformance kit);
- ``baselines``: "repeat the last value", scored with the same metric names;
- ``predict`` / ``prediction_row``: one row per window, the forecast as ``step_1 ..
  step_<horizon>``; after the last complete window of a series, the windows that reach
  past its end, so that the last row forecasts the steps after the data.

numpy and Keras are imported inside the methods: defining the task costs nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from zoo.plugin import DataError, Dataset, SplitData, Task, ordered_split

EPSILON = 1e-7  # sMAPE's denominator floor: two zeros count as a perfect forecast


def smape(y_true: Any, y_pred: Any) -> Any:
    """Symmetric mean absolute percentage error per example, in percent (0..200)."""
    from keras import ops

    y_true = ops.cast(y_true, y_pred.dtype)
    error = ops.abs(y_pred - y_true)
    scale = ops.maximum(ops.abs(y_true) + ops.abs(y_pred), EPSILON)
    return 200.0 * ops.mean(error / scale, axis=-1)


class ForecastingTask(Task):
    """Multi-step forecasts of one series: ``y`` is (n, horizon) real values."""

    name = "forecasting"
    main_metric = "smape"
    higher_is_better = False

    # -- compiling -------------------------------------------------------------------------
    def loss(self, config: Any) -> Any:
        import keras

        return keras.losses.Huber(delta=_delta(config))

    def metrics(self, config: Any = None) -> list[Any]:
        import keras

        return [
            keras.metrics.MeanMetricWrapper(fn=smape, name="smape"),
            keras.metrics.MeanAbsoluteError(name="mae"),
        ]

    # -- data ------------------------------------------------------------------------------
    def check_data(self, dataset: Dataset, config: Any) -> None:
        import numpy as np

        if dataset.y is None:
            raise DataError(
                f"data {dataset.name} has no targets",
                "forecasting trains on windows and the values that follow them",
            )
        y = np.asarray(dataset.y)
        if y.ndim != 2:
            raise DataError(
                f"targets of {dataset.name} have shape {y.shape}",
                "expected (n, horizon): the next horizon values of each window",
            )
        horizon = config.get("horizon")
        if horizon is not None and y.shape[1] != horizon:
            raise DataError(
                f"targets of {dataset.name} have horizon {y.shape[1]} but model "
                f"'{config.model}' forecasts {horizon} steps",
                f"cut the targets to {horizon} steps, or train with --set horizon={y.shape[1]}",
            )

    def check_outputs(self, outputs: Any, x: Any, dataset: Dataset, model_name: str) -> None:
        import numpy as np

        if outputs.ndim != 2:
            raise DataError(
                f"model '{model_name}' outputs shape {outputs.shape}; a forecaster must output "
                "(n, horizon) values"
            )
        if dataset.y is not None and outputs.shape[1] != np.asarray(dataset.y).shape[1]:
            raise DataError(
                f"model '{model_name}' forecasts {outputs.shape[1]} steps but the targets of "
                f"{dataset.name} have horizon {np.asarray(dataset.y).shape[1]}"
            )

    def split_indices(self, dataset: Dataset, config: Any, seed: int) -> dict[str, Any]:
        """Time order, not the seed: the earliest windows train, the latest test."""
        import numpy as np

        opts = config.train
        parts = ordered_split(len(dataset), opts["validation_split"], opts["test_split"])
        train = parts["train"]
        if len(train) < len(dataset):  # later windows follow: purge the overlapping targets
            overlap = np.asarray(dataset.y).shape[1] - 1
            parts["train"] = train[: max(len(train) - overlap, 0)]
        return parts

    # -- evaluation ------------------------------------------------------------------------
    def baselines(self, split: SplitData, config: Any) -> dict[str, float]:
        """Repeat the window's last value for every step, scored like the model."""
        import numpy as np

        x, y = split.test
        if y is None or len(y) == 0:
            return {}
        y = np.asarray(y, dtype="float64")
        pred = np.repeat(np.asarray(x, dtype="float64")[:, -1:], y.shape[1], axis=1)
        error = np.abs(pred - y)
        delta = _delta(config)
        huber = np.where(error <= delta, 0.5 * error**2, delta * (error - 0.5 * delta))
        scale = np.maximum(np.abs(y) + np.abs(pred), EPSILON)
        return {
            "last_value_loss": float(huber.mean()),
            "last_value_smape": float(200.0 * (error / scale).mean()),
            "last_value_mae": float(error.mean()),
        }

    # -- prediction ------------------------------------------------------------------------
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
        """A row per window (the base class' loop), then a row per window that reaches past
        the last target: the last one forecasts the ``horizon`` steps after the series."""
        import numpy as np

        yield from super().predict(
            model, dataset, config, state, batch_size=batch_size, top_k=top_k, options=options
        )
        future = _future_windows(dataset)
        if future is None:
            return
        x, starts = future
        outputs = np.asarray(model.predict_on_batch(x))
        for i, start in enumerate(starts):
            row = {"index": len(dataset) + i, dataset.key_name: start}
            yield {**row, **self.prediction_row([outputs[i]], state, top_k)}

    def prediction_row(self, outputs: list[Any], state: dict[str, Any], top_k: int) -> dict:
        import numpy as np

        values = np.ravel(outputs[0])
        return {f"step_{i + 1}": round(float(v), 6) for i, v in enumerate(values)}


def _future_windows(dataset: Dataset) -> tuple[Any, list[int]] | None:
    """The windows after the last one of a series cut with stride 1 (consecutive ``start``
    keys): its inputs and targets hold the series' last ``lookback + horizon`` values."""
    import numpy as np

    keys = dataset.keys
    if dataset.y is None or isinstance(dataset.x, dict) or keys is None or len(keys) == 0:
        return None
    first = int(keys[0])
    if [int(k) for k in keys] != list(range(first, first + len(keys))):
        return None  # not consecutive windows of one series (e.g. a sample of them)
    x, y = np.asarray(dataset.x), np.asarray(dataset.y)
    tail = np.concatenate([x[-1], y[-1]])
    lookback, horizon = x.shape[1], y.shape[1]
    future = np.stack([tail[k : k + lookback] for k in range(1, horizon + 1)])
    return future.astype(x.dtype), [int(keys[-1]) + k for k in range(1, horizon + 1)]


def _delta(config: Any) -> float:
    return float(config.get("huber_delta", 1.0)) if config is not None else 1.0

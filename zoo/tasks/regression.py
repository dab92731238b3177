"""Regression (real-valued targets) and reconstruction (the targets are the inputs)."""

from __future__ import annotations

from typing import Any

from zoo.data.dataset import Dataset
from zoo.errors import DataError
from zoo.tasks.base import SplitData, Task, require_targets


class RegressionTask(Task):
    """Real-valued targets: mean squared error, mean absolute error."""

    name = "regression"
    main_metric = "mae"

    def loss(self, config: Any) -> Any:
        import keras

        return keras.losses.MeanSquaredError()

    def metrics(self, config: Any) -> list[Any]:
        import keras

        return [keras.metrics.MeanAbsoluteError(name="mae")]

    def check_data(self, dataset: Dataset, config: Any) -> None:
        require_targets(dataset, self.name)

    def check_outputs(self, outputs: Any, x: Any, dataset: Dataset, model_name: str) -> None:
        import numpy as np

        if dataset.y is None:
            return
        y = np.asarray(dataset.y)
        want = y.shape[1:] or (1,)
        if outputs.shape[1:] not in (want, y.shape[1:]):
            raise DataError(
                f"model '{model_name}' outputs shape {outputs.shape[1:]} per example but the "
                f"targets have shape {y.shape[1:]}"
            )

    def baselines(self, split: SplitData, config: Any) -> dict[str, float]:
        from zoo.tasks import baselines as base

        y_train, y_test = split.train[1], split.test[1]
        if y_test is None or len(y_test) == 0 or len(y_train) == 0:
            return {}
        found = base.regression(y_train, y_test)
        return {"mean_mae": found["mae"], "mean_loss": found["loss"]}


class ReconstructionTask(RegressionTask):
    """Targets are the inputs (autoencoders)."""

    name = "reconstruction"

    def check_data(self, dataset: Dataset, config: Any) -> None:
        if isinstance(dataset.x, dict):
            raise DataError(
                f"data {dataset.name} has named inputs {sorted(dataset.x)}",
                "a reconstruction model takes one input array",
            )

    def targets(self, x: Any, y: Any) -> Any:
        return x

    def check_outputs(self, outputs: Any, x: Any, dataset: Dataset, model_name: str) -> None:
        import numpy as np

        if isinstance(x, dict) or outputs.shape != np.asarray(x).shape:
            raise DataError(
                f"model '{model_name}' reconstructs shape {outputs.shape} from inputs "
                f"{np.asarray(x).shape if not isinstance(x, dict) else sorted(x)}; an "
                "autoencoder's output must have its input's shape"
            )

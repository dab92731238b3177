"""Classification: one integer class per example, a probability per class out."""

from __future__ import annotations

from typing import Any

from zoo.data.dataset import Dataset
from zoo.errors import DataError
from zoo.tasks.base import SplitData, Task, require_targets


class ClassificationTask(Task):
    """Integer labels, softmax outputs: sparse categorical cross-entropy and accuracy."""

    name = "classification"
    main_metric = "accuracy"
    higher_is_better = True

    def loss(self, config: Any) -> Any:
        import keras

        return keras.losses.SparseCategoricalCrossentropy()

    def metrics(self, config: Any) -> list[Any]:
        import keras

        return [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]

    def check_data(self, dataset: Dataset, config: Any) -> None:
        import numpy as np

        require_targets(dataset, self.name)
        y = np.asarray(dataset.y)
        if not np.issubdtype(y.dtype, np.integer) or y.ndim != 1:
            raise DataError(
                f"labels of {dataset.name} are {y.dtype} with shape {y.shape}",
                "expected one integer class id per example",
            )
        classes = config.get("num_classes")
        if classes is not None and len(y) and (y.min() < 0 or y.max() >= classes):
            raise DataError(
                f"labels of {dataset.name} range {int(y.min())}..{int(y.max())} but the model "
                f"has {classes} classes",
                f"use labels 0..{classes - 1} or --set num_classes={int(y.max()) + 1}",
            )

    def check_outputs(self, outputs: Any, x: Any, dataset: Dataset, model_name: str) -> None:
        import numpy as np

        n = len(outputs)
        if outputs.ndim != 2:
            raise DataError(
                f"model '{model_name}' outputs shape {outputs.shape} for {n} examples; a "
                "classifier must output (n, num_classes) probabilities"
            )
        if dataset.y is not None and int(np.max(dataset.y)) >= outputs.shape[1]:
            raise DataError(
                f"labels go up to {int(np.max(dataset.y))} but model '{model_name}' outputs "
                f"{outputs.shape[1]} classes"
            )

    def baselines(self, split: SplitData, config: Any) -> dict[str, float]:
        import numpy as np

        from zoo.tasks import baselines as base

        x_train, y_train = split.train
        x_test, y_test = split.test
        if y_test is None or len(y_test) == 0 or len(y_train) == 0:
            return {}
        out = {"majority_accuracy": base.majority_accuracy(y_train, y_test)}
        if not isinstance(x_test, dict) and not hasattr(x_test, "shape"):
            x_test = np.asarray(x_test)
        if (  # token ids: shape and dtype only, a streamed x is not read
            not isinstance(x_test, dict)
            and len(x_test.shape) == 2
            and np.issubdtype(x_test.dtype, np.integer)
        ):
            vocab = int(config.get("vocab_size", int(np.max(x_train)) + 1))
            out["bag_of_words_accuracy"] = base.bag_of_words_accuracy(
                x_train, y_train, x_test, y_test, vocab
            )
        return out

    def prediction_row(self, outputs: list[Any], state: dict[str, Any], top_k: int) -> dict:
        import numpy as np

        probs = np.ravel(outputs[0])
        names = state.get("class_names")
        order = np.argsort(-probs)[:top_k]

        def label(c: int) -> Any:
            return names[c] if names and c < len(names) else int(c)

        return {
            "label": label(int(order[0])),
            "probability": round(float(probs[order[0]]), 6),
            "top": [
                {"label": label(int(c)), "probability": round(float(probs[c]), 6)} for c in order
            ],
        }

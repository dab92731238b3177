"""TensorBoard logs written once per epoch (TensorFlow-specific).

Keras' own TensorBoard callback hooks every training batch, which forces Keras to hand
each batch's logs back to Python; for small models that costs more than the step itself
(measured: ~1 ms per batch). This writer only acts at epoch end, in the same layout
(``logs/train``, ``logs/validation``, tags ``epoch_<metric>``), so TensorBoard shows the
same curves.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras


class EpochSummaries(keras.callbacks.Callback):
    def __init__(self, log_dir: str | Path) -> None:
        super().__init__()
        self.log_dir = Path(log_dir)
        self.writers: dict[str, Any] = {}

    def _writer(self, name: str) -> Any:
        import tensorflow as tf

        if name not in self.writers:
            self.writers[name] = tf.summary.create_file_writer(str(self.log_dir / name))
        return self.writers[name]

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        import tensorflow as tf

        logs = logs or {}
        groups = {
            "train": {k: v for k, v in logs.items() if not k.startswith("val_")},
            "validation": {k[4:]: v for k, v in logs.items() if k.startswith("val_")},
        }
        for name, values in groups.items():
            if not values:
                continue
            writer = self._writer(name)
            with writer.as_default():
                for key, value in values.items():
                    try:
                        tf.summary.scalar(f"epoch_{key}", float(value), step=epoch)
                    except (TypeError, ValueError):
                        continue
            writer.flush()

    def on_train_end(self, logs: dict | None = None) -> None:
        for writer in self.writers.values():
            writer.close()
        self.writers.clear()

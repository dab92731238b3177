"""Data containers shared by plugins and the runner (no numpy/TensorFlow at import time)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


def num_examples(x: Any) -> int:
    """Examples in an array, or in a dict of equally long arrays (0 for None)."""
    first = next(iter(x.values())) if isinstance(x, dict) else x
    return 0 if first is None else int(len(first))


def take(x: Any, idx: Any) -> Any:
    """Rows ``idx`` of an array, or of every array of a dict."""
    if isinstance(x, dict):
        return {k: v[idx] for k, v in x.items()}
    return x[idx]


@dataclass
class Dataset:
    """What a plugin's ``zoo_dataset`` hook returns.

    ``x``: a numpy array, or a dict of named arrays for multi-input models.
    ``y``: integer class labels (classification), targets (regression), or ``None``
    (retrieval: ``x`` holds the observed ``user_id``/``item_id`` pairs; reconstruction).
    ``implied``: hyper-parameters the data fixes (``num_classes``, ``vocab_size``, ...);
    the runner applies them before building, unless the user set them differently.
    ``state``: JSON-serialisable encoding state (vocabulary, class names) saved with a run
    and handed back to ``zoo_dataset`` when new data is encoded for that run.
    ``keys``: one identifier per example (file path, row id, text), written beside each
    prediction under the column ``key_name`` so that predictions join back to the inputs.
    """

    x: Any
    y: Any = None
    name: str = "data"
    description: str = ""
    implied: dict[str, Any] = field(default_factory=dict)
    class_names: list[str] | None = None
    state: dict[str, Any] = field(default_factory=dict)
    keys: Any = None
    key_name: str = "id"

    def __len__(self) -> int:
        return num_examples(self.x)


@dataclass
class Splits:
    """A seeded train/validation/test split, as numpy arrays and as tf.data pipelines."""

    train: Any  # tf.data.Dataset of (x, y) batches
    validation: Any
    test: Any
    arrays: dict[str, tuple[Any, Any]]  # split name -> (x, y) numpy
    indices: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # task-specific (held-out items)
    steps_per_epoch: int = 1  # batches per epoch of ``train`` (a continuous stream)
    batch_size: int = 0  # examples in each global batch of ``train``
    part: tuple[int, int] = (0, 1)  # (worker, workers): ``train`` holds this worker's rows

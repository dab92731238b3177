"""Data containers shared by plugins and the runner (no numpy/TensorFlow at import time)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def num_examples(x: Any) -> int:
    """Examples in an array, or in a dict of equally long arrays (0 for None)."""
    first = next(iter(x.values())) if isinstance(x, dict) else x
    return 0 if first is None else int(len(first))


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
    """

    x: Any
    y: Any = None
    name: str = "data"
    description: str = ""
    implied: dict[str, Any] = field(default_factory=dict)
    class_names: list[str] | None = None
    state: dict[str, Any] = field(default_factory=dict)

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


@dataclass
class ExportFormat:
    """An export format added by a plugin through ``zoo_export_formats``.

    ``write(model, path)`` writes the artifact; ``load(path)`` returns a callable mapping a
    numpy batch to numpy predictions, used for the parity check.
    """

    name: str
    suffix: str
    write: Callable[[Any, Path], None]
    load: Callable[[Path], Callable[[Any], Any]]
    tolerance: float = 1e-4
    description: str = ""

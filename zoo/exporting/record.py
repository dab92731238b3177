"""``ExportFormat``: the record every export format is, the core's four included."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class ExportFormat:
    """An export format, returned by a plugin's ``zoo_export_formats`` hook.

    ``write(model, path)`` writes the artifact; ``load(path)`` returns a callable mapping a
    numpy batch to numpy predictions, used for the parity check. ``tolerance`` is the
    largest difference from the Keras model allowed (per output unit).

    The core's built-in formats leave ``write`` as ``None``: they are written by the owning
    plugin's ``zoo_export`` hook (whose default is Keras' own export), which also receives
    the signature's batch size; ``reload`` returns an ``Artifact`` with the signature the
    runtime reports.
    """

    name: str
    suffix: str
    write: Callable[[Any, Path], None] | None = None
    load: Callable[[Path], Callable[[Any], Any]] | None = None
    tolerance: float = 1e-4
    description: str = ""
    takes_batch_size: bool = False  # does --batch-size apply (the signature's batch)?
    default_batch: int | None = None  # the batch dimension when none is asked (None: dynamic)
    reload: Callable[[Path], Any] | None = None
    check_available: Callable[[], None] | None = None  # raise if a runtime is missing

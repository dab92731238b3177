"""The four built-in export formats as ``ExportFormat`` records (registered by the core plugin
through ``zoo_export_formats``, like any plugin's formats) and their writer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zoo.exporting import formats
from zoo.exporting.record import ExportFormat

BUILTIN_FORMATS = ("keras", "savedmodel", "onnx", "litert")
DESCRIPTIONS = {
    "keras": ".keras file (config + weights), reloaded with keras.saving.load_model",
    "savedmodel": "TensorFlow SavedModel folder (serving_default signature)",
    "onnx": ".onnx file via tf2onnx, checked with ONNX Runtime (extra: keras-zoo[onnx])",
    "litert": ".tflite LiteRT flatbuffer, checked with the LiteRT interpreter",
}


def builtin_formats() -> list[ExportFormat]:
    def reloader(name: str) -> Any:
        return lambda path: formats.load(path, name)

    return [
        ExportFormat(
            name=name,
            suffix=formats.SUFFIXES[name],
            tolerance=formats.TOLERANCES[name],
            description=DESCRIPTIONS[name],
            takes_batch_size=name != "keras",
            default_batch=formats.DEFAULT_BATCH[name],
            reload=reloader(name),
            check_available=formats.require_onnx if name == "onnx" else None,
        )
        for name in BUILTIN_FORMATS
    ]


def write_builtin_format(
    model: Any, path: Path, format: str, config: Any, batch_size: int | None = None
) -> Path | None:
    """Write one of the built-in formats with Keras' own export (the core ``zoo_export``);
    ``None`` for any other format (not ours: the caller reports it)."""
    if format not in BUILTIN_FORMATS:
        return None
    return formats.write(model, Path(path), format, batch_size)

"""zoo: a plugin-based model zoo for Keras 3 on TensorFlow.

    import zoo
    zoo.list_models("cnn*")
    model = zoo.create("cnn", num_classes=5)
    model = zoo.load("cnn", weights="digits")
    run = zoo.train("recommender", epochs=3)

Importing ``zoo`` is cheap: Keras and TensorFlow are imported only by the functions that
build, train or export models.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from zoo.errors import (
    ConfigError,
    DataError,
    ExportError,
    PluginError,
    RegistryError,
    UnknownModelError,
    WeightsError,
    ZooError,
)

__version__ = "0.1.0"

# TensorFlow's C++ start-up chatter (CUDA probing on CPU machines) is noise for zoo users;
# set before TensorFlow is first imported, and only if the user has not chosen a level.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# name -> module that defines it; imported on first attribute access (PEP 562).
_LAZY = {
    "list_models": "zoo.api",
    "info": "zoo.api",
    "list_plugins": "zoo.api",
    "use_registry": "zoo.catalog",
    "create": "zoo.api",
    "load": "zoo.weights.loading",
    "train": "zoo.training.runner",
    "evaluate": "zoo.training.evaluation",
    "predict": "zoo.training.evaluation",
    "Run": "zoo.runs",
    "export": "zoo.exporting.export",
}

if TYPE_CHECKING:
    from zoo.api import create, info, list_models, list_plugins
    from zoo.catalog import use_registry
    from zoo.exporting.export import export
    from zoo.runs import Run
    from zoo.training.evaluation import evaluate, predict
    from zoo.training.runner import train
    from zoo.weights.loading import load


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'zoo' has no attribute '{name}'")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "ConfigError",
    "DataError",
    "ExportError",
    "PluginError",
    "RegistryError",
    "Run",
    "UnknownModelError",
    "WeightsError",
    "ZooError",
    "create",
    "evaluate",
    "export",
    "info",
    "list_models",
    "load",
    "list_plugins",
    "predict",
    "train",
    "use_registry",
]

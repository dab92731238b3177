"""The public plugin API: everything a plugin author may import from ``zoo``.

A minimal architecture plugin is a module with two hook implementations::

    from zoo.plugin import Dataset, hookimpl

    @hookimpl
    def zoo_build(config):
        import keras
        ...
        return keras.Model(inputs, outputs)

    @hookimpl
    def zoo_dataset(config, path, state):
        ...
        return Dataset(x=x, y=y, name="my-data")

plus a registry.toml next to it that declares the architecture, its hyper-parameters and
its model presets, and an entry point in group ``zoo.plugins``. Everything not exported
here is private and may change. Hook signatures are documented in :mod:`zoo.hookspecs`.

A plugin that brings its own kind of task subclasses :class:`Task` and returns it from a
``zoo_tasks`` hook (see docs/plugins.md). ``readers`` (:mod:`zoo.data.readers`) holds the
file readers the built-in plugins use — image folders, CSV tables, text CSV, ratings —
for a plugin's own ``zoo_dataset``; ``sources`` (:mod:`zoo.data.sources`) the streamed
inputs they return for data that stays on disk (``Source``, ``ImageFiles``,
``ArrayRows``); ``towers`` (:mod:`zoo.tasks.towers`) the layer names ``USER_VECTOR`` and
``ITEM_VECTOR`` a two-tower retrieval model gives its towers' outputs so ranking runs each
tower once. All three are imported on first use (they need numpy).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from zoo.catalog.hparams import Config, HParam
from zoo.data.dataset import Dataset, Splits
from zoo.errors import ConfigError, DataError, ZooError
from zoo.exporting.record import ExportFormat
from zoo.hookspecs import hookimpl, hookspec
from zoo.tasks.base import SplitData, Task, ordered_split, random_split

if TYPE_CHECKING:
    from zoo.data import readers, sources
    from zoo.tasks import towers

__all__ = [
    "Config",
    "ConfigError",
    "DataError",
    "Dataset",
    "ExportFormat",
    "HParam",
    "SplitData",
    "Splits",
    "Task",
    "ZooError",
    "hookimpl",
    "hookspec",
    "lazy_hooks",
    "ordered_split",
    "random_split",
    "readers",
    "sources",
    "towers",
]


_LAZY = {"readers": "zoo.data.readers", "sources": "zoo.data.sources", "towers": "zoo.tasks.towers"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module = importlib.import_module(_LAZY[name])
        globals()[name] = module
        return module
    raise AttributeError(f"module 'zoo.plugin' has no attribute '{name}'")


def lazy_hooks(package: str) -> tuple[object, object]:
    """``zoo_build`` and ``zoo_dataset`` implementations that defer to ``package.model.build``
    and ``package.data.load``, importing them on first call.

    Lets a plugin package keep its ``__init__`` free of Keras/TensorFlow imports::

        zoo_build, zoo_dataset = lazy_hooks(__name__)
    """
    import importlib

    @hookimpl
    def zoo_build(config):  # type: ignore[no-untyped-def]
        return importlib.import_module(f"{package}.model").build(config)

    @hookimpl
    def zoo_dataset(config, path, state):  # type: ignore[no-untyped-def]
        return importlib.import_module(f"{package}.data").load(config, path, state)

    return zoo_build, zoo_dataset

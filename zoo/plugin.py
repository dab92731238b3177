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
"""

from __future__ import annotations

from zoo.data import Dataset, ExportFormat, Splits
from zoo.errors import DataError, ZooError
from zoo.hookspecs import hookimpl, hookspec
from zoo.hparams import Config, HParam

__all__ = [
    "Config",
    "DataError",
    "Dataset",
    "ExportFormat",
    "HParam",
    "Splits",
    "ZooError",
    "hookimpl",
    "hookspec",
    "lazy_hooks",
]


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

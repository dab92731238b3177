"""The plugin contract: pluggy hook specifications in the ``zoo`` project.

An architecture plugin implements at least ``zoo_build`` and ``zoo_dataset``; the core
provides ``zoo_train`` and ``zoo_export`` (``trylast`` implementations in ``zoo._defaults``),
so a plugin overrides them only when it needs to. Per-model hooks are dispatched only to the
plugin that owns the model's architecture (``subset_hook_caller``); cross-cutting hooks
(callbacks, export formats, CLI commands) are called on every loaded plugin.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from pathlib import Path

    import click
    import keras

    from zoo.data import Dataset, ExportFormat, Splits
    from zoo.hparams import Config

PROJECT = "zoo"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec(firstresult=True)
def zoo_build(config: Config) -> keras.Model:
    """Build an uncompiled ``keras.Model`` for ``config`` (validated hyper-parameters).

    Use ``keras`` and ``keras.ops`` only; import them inside the function. The core compiles
    the model for its task (loss, metrics, optimizer from the training options).
    """


@hookspec(firstresult=True)
def zoo_dataset(config: Config, path: Path | None, state: dict[str, Any] | None) -> Dataset:
    """Return the data for ``config``: the built-in default dataset when ``path`` is None,
    else the user's file or folder at ``path``.

    ``state`` is ``None`` when loading training data. For evaluation/prediction of a trained
    run it is the ``Dataset.state`` saved at training time (a vocabulary, class names,
    normalisation statistics), so new data is encoded the same way. Raise
    ``zoo.plugin.DataError`` for data that does not fit, naming what was expected.
    """


@hookspec(firstresult=True)
def zoo_train(
    model: keras.Model,
    splits: Splits,
    config: Config,
    callbacks: list[Any],
    initial_epoch: int,
) -> keras.callbacks.History:
    """Fit ``model`` on ``splits.train`` (tf.data) validating on ``splits.validation``.

    The core's default calls ``model.fit``; override only for a custom training loop.
    ``config.train`` holds the training options (epochs, batch_size, ...).
    """


@hookspec(firstresult=True)
def zoo_export(model: keras.Model, path: Path, format: str, config: Config) -> Path | None:
    """Write ``model`` to ``path`` in ``format``; the core's default uses Keras' own export.

    Return ``None`` to let the next implementation (ultimately the core) handle ``format``.
    """


@hookspec
def zoo_export_formats() -> list[ExportFormat]:
    """Extra export formats this plugin adds for every model (cross-cutting)."""


@hookspec
def zoo_callbacks(config: Config, run_dir: Path) -> list[Any]:
    """Extra ``keras.callbacks.Callback`` objects for every training run (cross-cutting)."""


@hookspec
def zoo_cli_commands() -> list[click.Command]:
    """Extra ``zoo`` sub-commands (cross-cutting); resolved only when invoked by name."""

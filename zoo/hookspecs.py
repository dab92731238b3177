"""The plugin contract: pluggy hook specifications in the ``zoo`` project.

An architecture plugin implements at least ``zoo_build`` and ``zoo_dataset``; the core
provides ``zoo_train`` and ``zoo_export`` (``trylast`` implementations in ``zoo.builtins``),
so a plugin overrides them only when it needs to. Per-model hooks are dispatched only to the
plugin that owns the model's architecture (``subset_hook_caller``); cross-cutting hooks
(tasks, export formats, callbacks, CLI commands) reach the plugins that declare them in
their registry.toml (``[plugins.<name>] hooks = [...]``; ``[tasks.<name>]`` implies
``zoo_tasks``), so the zoo imports those plugins only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from pathlib import Path

    import click
    import keras

    from zoo.catalog.hparams import Config
    from zoo.data.dataset import Dataset, Splits
    from zoo.exporting.record import ExportFormat
    from zoo.tasks.base import Task

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
def zoo_export(
    model: keras.Model, path: Path, format: str, config: Config, batch_size: int | None
) -> Path | None:
    """Write ``model`` to ``path`` in ``format``; the core's default uses Keras' own export.

    ``batch_size`` is the signature's batch dimension (``None``: dynamic); an implementation
    may leave the argument out of its signature if it does not care. Return ``None`` to let
    the next implementation (ultimately the core) handle ``format``.
    """


@hookspec
def zoo_tasks() -> dict[str, Task]:
    """Tasks this plugin provides, ``{name: Task instance}`` (cross-cutting).

    Declare each one in registry.toml under ``[tasks.<name>]`` (with optional ``aliases``)
    so that listing knows it without importing the plugin. Built-in task names
    (classification, regression, reconstruction, retrieval and their aliases) are reserved.
    """


@hookspec
def zoo_export_formats() -> list[ExportFormat]:
    """Export formats this plugin adds for every model (cross-cutting; declare the hook
    under ``[plugins.<name>] hooks`` in registry.toml). The core's four built-in formats
    are registered through this hook too."""


@hookspec
def zoo_callbacks(config: Config, run_dir: Path) -> list[Any]:
    """Extra ``keras.callbacks.Callback`` objects for every training run (cross-cutting;
    declare the hook under ``[plugins.<name>] hooks``)."""


@hookspec
def zoo_cli_commands() -> list[click.Command]:
    """Extra ``zoo`` sub-commands (cross-cutting); declare their names under
    ``[plugins.<name>] commands`` so the CLI imports the plugin only when one is invoked."""

"""zoo-autoencoder: a dense autoencoder architecture plugin for zoo.

The zoo imports this module (named by the ``zoo.plugins`` entry point) the first time one
of its models is built, trained or exported. It stays light: Keras is imported inside the
hooks, so `zoo list` and importing the plugin never pay for TensorFlow.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zoo.plugin import Config, Dataset, hookimpl

__version__ = "0.1.0"

# Conformance checks this plugin is known to fail, with the reason (see docs/plugins.md).
# It passes them all, so the table is empty.
ZOO_EXPECTED_FAILURES: dict[str, str] = {}


@hookimpl
def zoo_build(config: Config) -> Any:
    """An uncompiled keras.Model; the zoo compiles it for the reconstruction task."""
    from zoo_autoencoder.model import build

    return build(config)


@hookimpl
def zoo_dataset(config: Config, path: Path | None, state: dict[str, Any] | None) -> Dataset:
    """The digits when ``path`` is None, else the user's .npz/.csv file."""
    from zoo_autoencoder.data import load

    return load(config, path, state)

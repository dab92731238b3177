"""zoo-forecast: a multi-step forecaster and the task it needs, as a plugin for zoo.

Three hooks: ``zoo_build`` and ``zoo_dataset`` (the architecture, like any architecture
plugin) and ``zoo_tasks``, which gives the zoo the ``forecasting`` task declared under
``[tasks.forecasting]`` in registry.toml. The zoo imports this module the first time a
forecasting model is used; Keras and numpy are imported inside the hooks only, so `zoo list`
and importing the plugin never pay for TensorFlow.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zoo.plugin import Config, Dataset, Task, hookimpl

__version__ = "0.1.0"

# Conformance checks this plugin is known to fail, with the reason (see docs/plugins.md).
ZOO_EXPECTED_FAILURES: dict[str, str] = {}


@hookimpl
def zoo_build(config: Config) -> Any:
    """An uncompiled keras.Model; the zoo compiles it with the forecasting task."""
    from zoo_forecast.model import build

    return build(config)


@hookimpl
def zoo_dataset(config: Config, path: Path | None, state: dict[str, Any] | None) -> Dataset:
    """Windows of the generated series when ``path`` is None, else of the user's file."""
    from zoo_forecast.data import load

    return load(config, path, state)


@hookimpl
def zoo_tasks() -> dict[str, Task]:
    """The tasks this plugin provides, by the names registry.toml declares."""
    from zoo_forecast.task import ForecastingTask

    return {"forecasting": ForecastingTask()}

"""Finding the ``Task`` object for a registry task name, through the plugin that declares it.

Task names (and aliases) are data in each plugin's registry.toml (``[tasks.<name>]``), so
listing never imports task code. Using a task imports only the plugin that declares it and
calls that plugin's ``zoo_tasks`` hook.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from zoo.catalog import get_catalog
from zoo.errors import ConfigError, PluginError, did_you_mean
from zoo.tasks.base import Task

if TYPE_CHECKING:
    from zoo.catalog import ModelRef

_cache: dict[tuple[int, str], Task] = {}


def task_for(name: str) -> Task:
    """The task named ``name`` (or one of its declared aliases)."""
    catalog = get_catalog()
    key = (id(catalog), name)
    if key in _cache:
        return _cache[key]
    entry = catalog.tasks.get(name)
    if entry is None:
        known = catalog.task_names()
        hint = did_you_mean(name, known)
        raise ConfigError(
            f"unknown task '{name}'",
            (hint + " " if hint else "") + "installed tasks: " + ", ".join(known),
        )
    plugin = entry.plugin or ""
    provided = catalog.host.owner_hook(plugin, "zoo_tasks")()
    found = {}
    for tasks in provided or []:
        found.update(tasks or {})
    task = found.get(entry.name)
    if not isinstance(task, Task):
        record = catalog.host.records.get(plugin)
        package = record.package if record is not None else None
        what = "nothing" if task is None else type(task).__name__
        raise PluginError(
            f"plugin '{plugin}' ({package or plugin}) declares task '{entry.name}' but its "
            f"zoo_tasks hook returns {what} for it",
            "zoo_tasks must return {name: zoo.plugin.Task instance} for every declared task",
        )
    _cache[key] = task
    return task


def task_of(ref: ModelRef) -> Task:
    """The task of a model's architecture, with an error that names the model's plugin."""
    try:
        return task_for(ref.architecture.task)
    except ConfigError as exc:
        raise ConfigError(
            f"model '{ref.model.name}' (plugin '{ref.plugin}') needs {exc.message}",
            exc.hint,
        ) from None

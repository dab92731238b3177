"""Plugin discovery and loading on pluggy, with failure isolation.

Discovery reads entry points (group ``zoo.plugins``) and each plugin's registry.toml
without importing plugin code. Code is imported on first use of one of the plugin's
models. A plugin that fails to import, or ships a bad registry, is recorded with its error
and never stops the other plugins; ``ZOO_STRICT_PLUGINS=1`` makes such failures fatal.
"""

from __future__ import annotations

import importlib
import importlib.metadata as md
import importlib.util
import os
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy

from zoo import hookspecs
from zoo.errors import PluginError, RegistryError, ZooError

ENTRY_POINT_GROUP = "zoo.plugins"
REQUIRED_HOOKS = ("zoo_build", "zoo_dataset")


@dataclass
class PluginRecord:
    """What ``zoo plugins`` shows about one plugin."""

    name: str
    module: str
    package: str | None = None
    version: str | None = None
    registry: Path | None = None
    status: str = "ok"  # ok | error | disabled
    error: str | None = None
    loaded: bool = False
    architectures: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "module": self.module,
            "package": self.package,
            "version": self.version,
            "status": self.status,
            "error": self.error,
            "loaded": self.loaded,
            "registry": str(self.registry) if self.registry else None,
            "architectures": list(self.architectures),
            "models": list(self.models),
        }


def strict_mode() -> bool:
    return os.environ.get("ZOO_STRICT_PLUGINS", "").strip().lower() in ("1", "true", "yes")


def disabled_plugins() -> set[str]:
    raw = os.environ.get("ZOO_DISABLE_PLUGINS", "")
    return {part.strip() for part in raw.split(",") if part.strip()}


def discover() -> list[PluginRecord]:
    """Entry points in group ``zoo.plugins``, as records; imports no plugin code."""
    disabled = disabled_plugins()
    records: dict[str, PluginRecord] = {}
    for ep in md.entry_points(group=ENTRY_POINT_GROUP):
        dist = getattr(ep, "dist", None)
        record = PluginRecord(
            name=ep.name,
            module=ep.value,
            package=dist.metadata["Name"] if dist is not None else None,
            version=dist.version if dist is not None else None,
        )
        if ep.name in records and records[ep.name].module != ep.value:
            other = records[ep.name]
            message = (
                f"plugin name '{ep.name}' is registered by both {other.package} "
                f"({other.module}) and {record.package} ({record.module}); uninstall one"
            )
            other.status = record.status = "error"
            other.error = record.error = message
            continue
        if ep.name in disabled:
            record.status = "disabled"
            record.error = "disabled by ZOO_DISABLE_PLUGINS"
        records[ep.name] = record
    return sorted(records.values(), key=lambda r: r.name)


def find_registry_file(module: str) -> Path | None:
    """The registry.toml nearest to a plugin module, found without executing the module.

    Parent packages of a dotted name are imported by ``find_spec`` (they must be light);
    the plugin module itself is not. The search walks up from the module's folder to its
    top-level package.
    """
    spec = importlib.util.find_spec(module)
    if spec is None:
        raise ModuleNotFoundError(f"module '{module}' named by the entry point is not installed")
    if spec.origin in (None, "built-in", "frozen"):
        return None
    origin = Path(spec.origin)
    folder = origin.parent
    depth = module.count(".") + (0 if spec.submodule_search_locations else -1)
    for _ in range(depth + 1):  # none for a top-level single-file module
        candidate = folder / "registry.toml"
        if candidate.is_file():
            return candidate
        folder = folder.parent
    return None


class PluginHost:
    """The pluggy manager plus the records of every discovered plugin."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        from zoo import _defaults

        self.pm.register(_defaults, name=_defaults.PLUGIN_NAME)
        self.records: dict[str, PluginRecord] = {r.name: r for r in discover()}

    # -- loading -------------------------------------------------------------------------
    def fail(self, record: PluginRecord, message: str) -> None:
        """Mark a plugin broken; fatal under ZOO_STRICT_PLUGINS=1."""
        record.status = "error"
        record.error = message
        if strict_mode():
            raise PluginError(
                f"plugin '{record.name}' ({record.package or record.module}): {message}",
                "ZOO_STRICT_PLUGINS=1 makes plugin problems fatal",
            )

    def load(self, name: str) -> ModuleType:
        """Import and register one plugin's code (once); raise PluginError if it is broken."""
        record = self.records.get(name)
        if record is None:
            raise PluginError(f"no plugin named '{name}' is installed", "see `zoo plugins`")
        if record.loaded:
            return self.pm.get_plugin(name)
        self._raise_if_unusable(record)
        try:
            module = importlib.import_module(record.module)
        except Exception as exc:  # noqa: BLE001 - any import failure is isolated
            self.fail(record, f"import of {record.module} failed: {type(exc).__name__}: {exc}")
            self._raise_if_unusable(record)
            raise  # unreachable: _raise_if_unusable raised
        try:
            self.pm.register(module, name=name)
            self.pm.check_pending()
        except Exception as exc:  # pluggy.PluginValidationError and friends
            if self.pm.is_registered(module):
                self.pm.unregister(module)
            self.fail(record, f"breaks the hook contract: {exc}")
            self._raise_if_unusable(record)
        if record.architectures:
            missing = [h for h in REQUIRED_HOOKS if not self.implements(name, h)]
            if missing:
                self.pm.unregister(module)
                unmarked = [h for h in missing if callable(getattr(module, h, None))]
                why = (
                    f"defines {', '.join(unmarked)} without the @hookimpl marker"
                    if unmarked
                    else f"implements no {' or '.join(missing)} hook"
                )
                self.fail(
                    record, f"declares architecture(s) {', '.join(record.architectures)} but {why}"
                )
                self._raise_if_unusable(record)
        record.loaded = True
        return module

    def _raise_if_unusable(self, record: PluginRecord) -> None:
        if record.status == "disabled":
            raise PluginError(
                f"plugin '{record.name}' is disabled by ZOO_DISABLE_PLUGINS",
                "remove it from ZOO_DISABLE_PLUGINS to use its models",
            )
        if record.status == "error":
            raise PluginError(
                f"plugin '{record.name}' ({record.package or record.module}) is broken: "
                f"{record.error}",
                "fix or uninstall the plugin; `zoo plugins --errors` lists problems",
            )

    def load_all(self) -> None:
        """Import every usable plugin (for cross-cutting hooks); broken ones are skipped."""
        for record in self.records.values():
            if record.status == "ok" and not record.loaded:
                try:
                    self.load(record.name)
                except ZooError:
                    if strict_mode():
                        raise

    def implements(self, plugin: str, hook: str) -> bool:
        return any(i.plugin_name == plugin for i in getattr(self.pm.hook, hook).get_hookimpls())

    # -- dispatch ------------------------------------------------------------------------
    def owner_hook(self, plugin: str, hook: str) -> Any:
        """A caller for ``hook`` that reaches only ``plugin`` and the core defaults."""
        self.load(plugin)
        others = [
            self.pm.get_plugin(r.name)
            for r in self.records.values()
            if r.name != plugin and r.loaded and self.pm.get_plugin(r.name) is not None
        ]
        return self.pm.subset_hook_caller(hook, remove_plugins=others)

    def cross_hook(self, hook: str) -> Any:
        """A caller for a cross-cutting hook over every loaded plugin."""
        self.load_all()
        return getattr(self.pm.hook, hook)


def record_registry_error(host: PluginHost, record: PluginRecord, exc: RegistryError) -> None:
    host.fail(record, f"bad registry: {exc}")

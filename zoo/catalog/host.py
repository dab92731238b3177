"""Plugin discovery and loading on pluggy, with failure isolation.

Discovery reads entry points (group ``zoo.plugins``) and each plugin's registry.toml
without importing plugin code. Code is imported on first use of one of the plugin's
models; cross-cutting hooks (tasks, export formats, callbacks, CLI commands) reach only the
plugins whose registry declares them, so using one model imports its own plugin plus those.
The core's own plugin (``zoo.builtins``: the built-in tasks and export formats, the default
train and export) is hosted the same way, by name, under the reserved plugin name ``zoo``.

A plugin that fails to import (an exception, ``SystemExit``), or ships a bad registry, is
recorded with its error and never stops the other plugins; ``ZOO_STRICT_PLUGINS=1`` makes
such failures fatal. ``KeyboardInterrupt`` always propagates (Ctrl-C stops the command), and
``os._exit`` cannot be caught: a plugin calling it at import ends the process — which is why
plugins are imported only when one of their models, or a hook they declare, is used.

Every hook caller the host hands out (:meth:`PluginHost.owner_hook`,
:meth:`PluginHost.cross_hook`, :meth:`PluginHost.plugin_hook`) turns an exception raised by
plugin code during the call into a :class:`~zoo.errors.PluginHookError`: one line naming the
plugin, the hook and the exception, with the original as ``__cause__`` (``zoo --debug``
prints it). A ``ZooError`` raised inside a hook passes through unchanged, as does an
exception whose traceback holds no plugin code (a bug of the zoo itself).
"""

from __future__ import annotations

import importlib
import importlib.metadata as md
import importlib.util
import os
import traceback
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy

from zoo import hookspecs
from zoo.errors import PluginError, PluginHookError, ZooError

ENTRY_POINT_GROUP = "zoo.plugins"
REQUIRED_HOOKS = ("zoo_build", "zoo_dataset")
CORE_PLUGIN = "zoo"  # reserved plugin name of the core's own plugin
CORE_MODULE = "zoo.builtins"
DEBUG_HINT = "a bug in the plugin; `zoo --debug ...` or ZOO_DEBUG=1 shows its traceback"

_latest: weakref.ref[PluginHost] | None = None  # the newest host (see attribute_error)


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
    hooks: list[str] = field(default_factory=list)  # declared cross-cutting hooks
    commands: list[str] = field(default_factory=list)  # declared CLI commands
    tasks: list[str] = field(default_factory=list)  # declared tasks

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
            "hooks": list(self.hooks),
            "commands": list(self.commands),
            "tasks": list(self.tasks),
        }


def strict_mode() -> bool:
    return os.environ.get("ZOO_STRICT_PLUGINS", "").strip().lower() in ("1", "true", "yes")


def disabled_plugins() -> set[str]:
    raw = os.environ.get("ZOO_DISABLE_PLUGINS", "")
    return {part.strip() for part in raw.split(",") if part.strip()}


def core_record() -> PluginRecord:
    """The record of the core's own plugin (always present, cannot be disabled)."""
    try:
        version: str | None = md.version("keras-zoo")
    except md.PackageNotFoundError:
        version = None
    return PluginRecord(name=CORE_PLUGIN, module=CORE_MODULE, package="keras-zoo", version=version)


def discover() -> list[PluginRecord]:
    """The core plugin, then entry points in group ``zoo.plugins``; imports no plugin code."""
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
        if ep.name == CORE_PLUGIN:
            record.status = "error"
            record.error = f"the plugin name '{CORE_PLUGIN}' is reserved for the zoo's core"
        elif ep.name in disabled:
            record.status = "disabled"
            record.error = "disabled by ZOO_DISABLE_PLUGINS"
        records[ep.name] = record
    core = core_record()
    others = sorted(records.values(), key=lambda r: r.name)
    if CORE_PLUGIN in records:  # keep the impostor visible under its module name
        clash = records[CORE_PLUGIN]
        clash.name = f"{CORE_PLUGIN}:{clash.module}"
    return [core, *others]


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
        self.records: dict[str, PluginRecord] = {r.name: r for r in discover()}
        global _latest
        _latest = weakref.ref(self)

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
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # noqa: BLE001 - SystemExit too: isolated to this plugin
            self.fail(record, f"import of {record.module} failed: {_describe(exc)}")
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

    def add(self, module: Any, name: str, hooks: list[str] | tuple[str, ...] = ()) -> None:
        """Register an in-process plugin object (a notebook's or a test's) with the
        cross-cutting ``hooks`` it implements, as if it had been installed and loaded."""
        self.pm.register(module, name=name)
        self.pm.check_pending()
        record = PluginRecord(name=name, module=getattr(module, "__name__", name))
        record.hooks = list(hooks)
        record.loaded = True
        self.records[name] = record

    def load_all(self) -> None:
        """Import every usable plugin (``zoo plugins --check``); broken ones are recorded.

        This imports even plugins nothing else would: one that calls ``os._exit`` at import
        ends the command with its exit code (disable it with ``ZOO_DISABLE_PLUGINS``)."""
        for record in list(self.records.values()):
            if record.status == "ok" and not record.loaded:
                try:
                    self.load(record.name)
                except ZooError:
                    if strict_mode():
                        raise

    def load_declaring(self, hook: str) -> list[PluginRecord]:
        """Import every usable plugin that declares the cross-cutting ``hook``; a broken one
        is skipped (its error stays on its record)."""
        declaring = []
        for record in list(self.records.values()):
            if hook not in record.hooks or record.status != "ok":
                continue
            try:
                self.load(record.name)
            except ZooError:
                if strict_mode():
                    raise
                continue
            declaring.append(record)
        return declaring

    def implements(self, plugin: str, hook: str) -> bool:
        return any(i.plugin_name == plugin for i in getattr(self.pm.hook, hook).get_hookimpls())

    # -- dispatch ------------------------------------------------------------------------
    def owner_hook(self, plugin: str, hook: str) -> HookCaller:
        """A caller for ``hook`` that reaches only ``plugin`` and the core defaults."""
        self.load(plugin)
        self.load(CORE_PLUGIN)
        return HookCaller(self, hook, self._only({plugin, CORE_PLUGIN}, hook))

    def plugin_hook(self, plugin: str, hook: str) -> HookCaller:
        """A caller for ``hook`` that reaches ``plugin`` alone (imported if need be)."""
        self.load(plugin)
        return HookCaller(self, hook, self._only({plugin}, hook))

    def cross_hook(self, hook: str) -> HookCaller:
        """A caller for a cross-cutting hook over the plugins that declare it."""
        keep = {r.name for r in self.load_declaring(hook)}
        return HookCaller(self, hook, self._only(keep, hook))

    def _only(self, keep: set[str], hook: str) -> Any:
        others = [
            self.pm.get_plugin(r.name)
            for r in self.records.values()
            if r.name not in keep and r.loaded and self.pm.get_plugin(r.name) is not None
        ]
        return self.pm.subset_hook_caller(hook, remove_plugins=others)

    # -- attributing errors --------------------------------------------------------------
    def culprit(self, exc: BaseException) -> PluginRecord | None:
        """The loaded third-party plugin whose code is innermost in ``exc``'s traceback."""
        homes = [(home, r) for r in self.records.values() if (home := self._home(r))]
        if not homes:
            return None
        for frame, _ in reversed(list(traceback.walk_tb(exc.__traceback__))):
            filename = os.path.realpath(frame.f_code.co_filename)
            found = [(len(h), r) for h, r in homes if filename == h or filename.startswith(h)]
            if found:
                return max(found, key=lambda pair: pair[0])[1]
        return None

    def hook_error(self, exc: BaseException, hook: str | None) -> PluginHookError | None:
        """``exc`` (raised during ``hook``) as one line naming the plugin whose code raised
        it; None when no plugin code is in its traceback."""
        record = self.culprit(exc)
        if record is None:
            return None
        who = f"plugin '{record.name}' ({record.package or record.module})"
        what = _what(exc)
        if hook is None:
            text = f"{who}: its code {what}"
        elif self.implements(record.name, hook):
            text = f"{who}: {hook} {what}"
        else:
            text = f"{who}: its code {what} during {hook}"
        return PluginHookError(text, DEBUG_HINT, plugin=record.name, hook=hook, original=exc)

    def _home(self, record: PluginRecord) -> str | None:
        """The folder (with a trailing separator) or file holding a plugin's code."""
        if record.name == CORE_PLUGIN or not record.loaded:
            return None
        module = self.pm.get_plugin(record.name)
        file = getattr(module, "__file__", None)
        if not file:
            return None
        path = os.path.realpath(file)
        spec = getattr(module, "__spec__", None)
        if (spec is not None and spec.submodule_search_locations) or "." in record.module:
            home = os.path.dirname(path) + os.sep  # the plugin's package folder
            core = os.path.realpath(os.path.dirname(hookspecs.__file__)) + os.sep
            return None if core.startswith(home) else home  # never the zoo's own code
        return path


class HookCaller:
    """A pluggy hook caller whose plugin failures become :class:`PluginHookError`."""

    def __init__(self, host: PluginHost, hook: str, caller: Any) -> None:
        self.host, self.hook, self.caller = host, hook, caller

    def __call__(self, **kwargs: Any) -> Any:
        try:
            return self.caller(**kwargs)
        except ZooError:
            raise
        except (Exception, SystemExit) as exc:  # KeyboardInterrupt passes through
            error = self.host.hook_error(exc, self.hook)
            if error is None:
                raise
            raise error from exc

    def __getattr__(self, name: str) -> Any:
        return getattr(self.caller, name)


def attribute_error(exc: BaseException) -> PluginHookError | None:
    """An unexpected exception as a one-line plugin error when plugin code raised it (for
    code a plugin hands over outside a hook: a Task's methods, callbacks, layers)."""
    host = _latest() if _latest is not None else None
    return None if host is None else host.hook_error(exc, None)


def _what(exc: BaseException) -> str:
    """``raised ValueError: message`` (one line, at most ~300 characters)."""
    if isinstance(exc, SystemExit):
        return f"called sys.exit({exc.code!r})"
    text = " ".join(str(exc).split())
    if len(text) > 300:
        text = text[:297] + "..."
    return f"raised {type(exc).__name__}: {text}" if text else f"raised {type(exc).__name__}"


def _describe(exc: BaseException) -> str:
    if isinstance(exc, SystemExit):
        return f"it called sys.exit({exc.code!r}) while being imported"
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__

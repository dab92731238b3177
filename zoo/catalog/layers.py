"""The merged catalog: every plugin's registry plus the user's registry layers.

Layers, each adding to or overriding the previous one:
1. the registry.toml shipped by each installed plugin package (the built-in catalog is the
   one shipped by the built-in plugins);
2. files named in ``ZOO_REGISTRY`` (``os.pathsep``-separated);
3. ``./registry.toml`` in the working directory;
4. files passed with ``--registry`` / :func:`zoo.use_registry`.

Building the catalog imports no plugin code and no TensorFlow.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

from zoo.catalog.host import CORE_PLUGIN, PluginHost, PluginRecord, strict_mode
from zoo.catalog.registry import (
    ArchitectureEntry,
    ModelEntry,
    RegistryFile,
    TaskEntry,
    WeightsEntry,
    load_registry,
    merge_model,
)
from zoo.errors import PluginError, RegistryError, UnknownModelError, ZooError, did_you_mean

_extra_layers: list[Path] = []
_cached: Catalog | None = None


def use_registry(path: str | Path) -> None:
    """Add a user registry.toml as the last (highest-priority) layer."""
    global _cached
    _extra_layers.append(Path(path))
    _cached = None


def reset() -> None:
    """Forget the cached catalog (after installing plugins or changing the environment)."""
    global _cached
    _cached = None
    _extra_layers.clear()


def user_layers() -> list[Path]:
    layers = [Path(p) for p in os.environ.get("ZOO_REGISTRY", "").split(os.pathsep) if p]
    local = Path("registry.toml")
    if local.is_file():
        layers.append(local)
    return layers + list(_extra_layers)


@dataclass
class ModelRef:
    """A resolved model name, optionally with a weight tag: ``cnn`` or ``cnn:digits``."""

    model: ModelEntry
    architecture: ArchitectureEntry
    weights: WeightsEntry | None = None

    @property
    def plugin(self) -> str:
        assert self.architecture.plugin is not None
        return self.architecture.plugin


@dataclass
class Catalog:
    host: PluginHost
    architectures: dict[str, ArchitectureEntry] = field(default_factory=dict)
    models: dict[str, ModelEntry] = field(default_factory=dict)
    conflicts: dict[str, str] = field(default_factory=dict)
    layers: list[Path] = field(default_factory=list)
    tasks: dict[str, TaskEntry] = field(default_factory=dict)  # names and aliases -> entry

    # -- construction ----------------------------------------------------------------------
    @classmethod
    def build(cls) -> Catalog:
        host = PluginHost()
        catalog = cls(host=host)
        catalog._add_plugin_registries()
        for path in user_layers():
            catalog._add_user_layer(path)
        return catalog

    def _add_plugin_registries(self) -> None:
        by_file: dict[Path, list[PluginRecord]] = {}
        disabled = {r.name for r in self.host.records.values() if r.status == "disabled"}
        for record in self.host.records.values():
            if record.status == "disabled":
                continue
            try:
                path = _find_registry(record)
            except Exception as exc:  # noqa: BLE001 - a parent package failed to import
                self.host.fail(record, f"cannot locate its registry: {type(exc).__name__}: {exc}")
                continue
            if path is None:
                continue  # a cross-cutting plugin without models
            record.registry = path
            by_file.setdefault(path.resolve(), []).append(record)
        seen_models: dict[str, PluginRecord] = {}
        seen_archs: dict[str, PluginRecord] = {}
        arch_conflicts: dict[str, str] = {}
        parsed: list[tuple[Path, list[PluginRecord], RegistryFile, dict[str, PluginRecord]]] = []
        for path, records in by_file.items():
            try:
                reg = load_registry(records[0].registry or path)
                owners = _assign_owners(reg, records, disabled)
            except RegistryError as exc:
                for record in records:
                    self.host.fail(record, f"bad registry: {exc}")
                continue
            self.layers.append(path)
            if not self._add_declarations(reg, records):
                continue
            for arch in reg.architectures.values():
                if arch.plugin in disabled:  # a disabled plugin sharing this file
                    continue
                owner = self.host.records[arch.plugin or ""]
                if arch.name in seen_archs and seen_archs[arch.name] is not owner:
                    message = self._conflict(
                        "architecture", arch.name, seen_archs[arch.name], owner
                    )
                    arch_conflicts[arch.name] = message
                    continue
                seen_archs[arch.name] = owner
                self.architectures[arch.name] = arch
                owner.architectures.append(arch.name)
            parsed.append((path, records, reg, owners))
        # models second, so a package may add presets of another package's architecture
        for path, records, reg, owners in parsed:
            for model in reg.models.values():
                if model.architecture in arch_conflicts:  # ambiguous: which plugin builds it?
                    self.conflicts.setdefault(model.name, arch_conflicts[model.architecture])
                    continue
                declared = reg.architectures.get(model.architecture)
                if declared is not None and declared.plugin in disabled:
                    self.host.records[declared.plugin].models.append(model.name)
                    continue
                owner = owners.get(model.architecture)
                declarer = owner or records[0]  # the package whose file declares the model
                if owner is None:
                    arch = self.architectures.get(model.architecture)
                    owner = self.host.records.get(arch.plugin or "") if arch else None
                if owner is None:
                    for record in records:
                        self.host.fail(
                            record,
                            f"bad registry: {path}: models.{model.name}: architecture "
                            f"'{model.architecture}' is not declared by any plugin",
                        )
                    continue
                if model.name in seen_models and seen_models[model.name] is not declarer:
                    self._conflict("model", model.name, seen_models[model.name], declarer)
                    continue
                try:
                    _check_preset(model, self.architectures[model.architecture], path)
                except RegistryError as exc:
                    self.host.fail(declarer, f"bad registry: {exc}")
                    continue
                seen_models[model.name] = declarer
                self.models[model.name] = model
                owner.models.append(model.name)
        for name in self.conflicts:
            self.models.pop(name, None)
        for name in arch_conflicts:
            self.architectures.pop(name, None)
            for record in self.host.records.values():
                if name in record.architectures:
                    record.architectures.remove(name)

    def _add_declarations(self, reg: RegistryFile, records: list[PluginRecord]) -> bool:
        """Record the tasks and cross-cutting hooks a registry file declares; False (and
        the file's plugins marked broken) when they are invalid."""
        names = {r.name: r for r in records}

        def owner_of(plugin: str | None, where: str) -> PluginRecord:
            if plugin is None and len(records) == 1:
                return records[0]
            if plugin in names:
                return names[plugin]
            raise RegistryError(
                f"{reg.path}: {where} names plugin {plugin!r}",
                "expected the entry-point name of a plugin in the same package: "
                + ", ".join(sorted(names)),
            )

        try:
            for entry in reg.plugins.values():
                owner = owner_of(entry.name, f"plugins.{entry.name}")
                owner.hooks = sorted(set(owner.hooks) | set(entry.hooks))
                owner.commands = sorted(set(owner.commands) | set(entry.commands))
            claimed: list[tuple[str, TaskEntry, PluginRecord]] = []
            for task in reg.tasks.values():
                owner = owner_of(task.plugin, f"tasks.{task.name}")
                task.plugin = owner.name
                for name in (task.name, *task.aliases):
                    taken = self.tasks.get(name)
                    if taken is not None and taken.plugin != owner.name:
                        reserved = taken.plugin == CORE_PLUGIN
                        raise RegistryError(
                            f"{reg.path}: task '{name}' of plugin '{owner.name}' "
                            f"({owner.package or owner.module}) "
                            + (
                                "is a built-in (reserved) task name"
                                if reserved
                                else f"is already provided by plugin '{taken.plugin}'"
                            ),
                            "rename the task",
                        )
                    claimed.append((name, task, owner))
        except RegistryError as exc:
            for record in records:
                self.host.fail(record, f"bad registry: {exc}")
            return False
        for name, task, owner in claimed:
            self.tasks[name] = task
            if "zoo_tasks" not in owner.hooks:
                owner.hooks.append("zoo_tasks")
            if task.name not in owner.tasks:
                owner.tasks.append(task.name)
        return True

    def task_names(self) -> list[str]:
        """Every task name and alias the installed plugins declare."""
        return sorted(self.tasks)

    def _conflict(self, kind: str, name: str, first: PluginRecord, second: PluginRecord) -> str:
        """Make the one colliding name unusable; both plugins keep working otherwise.

        The message (naming both packages) is what using the name raises, what `zoo list`
        prints on stderr and the plugins' ``error`` in `zoo plugins` (their status stays
        ``ok``); ``ZOO_STRICT_PLUGINS=1`` makes it fatal.
        """
        message = (
            f"{kind} '{name}' is declared by two packages: {first.package or first.name} "
            f"(plugin '{first.name}') and {second.package or second.name} "
            f"(plugin '{second.name}'); uninstall one or disable it with ZOO_DISABLE_PLUGINS"
        )
        if kind == "model":
            self.conflicts[name] = message
        for record in (first, second):
            if record.status == "ok":
                record.error = message if not record.error else f"{record.error}; {message}"
        if strict_mode():
            raise PluginError(message, "ZOO_STRICT_PLUGINS=1 makes plugin problems fatal")
        return message

    def _add_user_layer(self, path: Path) -> None:
        if path.resolve() in self.layers or _same_content(path, self.layers):
            # ./registry.toml in the zoo's own checkout is the built-in catalog (the same
            # file under an editable install, a copy of it under a wheel install)
            return
        reg = load_registry(path)
        if reg.architectures:
            name = next(iter(reg.architectures))
            raise RegistryError(
                f"{path}: architectures.{name} can only be declared by a plugin package",
                "a user registry may add models and weights for installed architectures",
            )
        for model in reg.models.values():
            if model.name in self.models:
                merged = merge_model(self.models[model.name], model)
            elif not model.architecture:
                raise RegistryError(
                    f"{path}: models.{model.name} is a new model without 'architecture'",
                    "add architecture = one of " + ", ".join(sorted(self.architectures)),
                )
            else:
                merged = model
            if merged.architecture not in self.architectures:
                hint = did_you_mean(merged.architecture, self.architectures)
                raise RegistryError(
                    f"{path}: models.{model.name}: unknown architecture '{merged.architecture}'",
                    hint or "installed: " + ", ".join(sorted(self.architectures)),
                )
            _check_preset(merged, self.architectures[merged.architecture], path)
            self.models[model.name] = merged
        self.layers.append(path.resolve())

    # -- queries ---------------------------------------------------------------------------
    def resolve(self, name: str) -> ModelRef:
        """``cnn`` or ``cnn:digits`` -> ModelRef; unknown names raise with a suggestion."""
        model_name, _, tag = name.partition(":")
        if model_name in self.conflicts:
            raise PluginError(self.conflicts[model_name])
        model = self.models.get(model_name)
        if model is None:
            self._raise_unknown_model(model_name)
        arch = self.architectures[model.architecture]
        weights = None
        if tag:
            weights = model.weights.get(tag)
            if weights is None:
                tags = sorted(model.weights)
                hint = did_you_mean(tag, tags)
                available = ("available: " + ", ".join(tags)) if tags else "it has no weights"
                raise UnknownModelError(
                    f"model '{model_name}' has no weights '{tag}'",
                    f"{hint} {available}" if hint else available,
                )
        return ModelRef(model=model, architecture=arch, weights=weights)

    def _raise_unknown_model(self, name: str) -> None:
        for record in self.host.records.values():
            if record.status != "ok" and name in (record.name, *record.models):
                raise PluginError(
                    f"model '{name}' belongs to plugin '{record.name}', which is "
                    f"{'disabled' if record.status == 'disabled' else 'broken'}: {record.error}",
                    "see `zoo plugins --errors`",
                )
        hint = did_you_mean(name, self.models) or "`zoo list` shows the installed models"
        broken = sorted(r.name for r in self.host.records.values() if r.status == "error")
        if broken:
            hint += f"; broken plugin(s) {', '.join(broken)} may declare it: `zoo plugins --errors`"
        raise UnknownModelError(f"unknown model '{name}'", hint)

    def list(
        self, pattern: str | None = None, task: str | None = None, pretrained: bool | None = None
    ) -> list[ModelEntry]:
        out = []
        for model in sorted(self.models.values(), key=lambda m: m.name):
            if pattern and not _matches(model.name, pattern):
                continue
            arch = self.architectures[model.architecture]
            if task and not fnmatch.fnmatch(arch.task, task):
                continue
            if pretrained is not None and bool(model.weights) != pretrained:
                continue
            out.append(model)
        return out

    def plugin_of(self, model: ModelEntry) -> PluginRecord:
        return self.host.records[self.architectures[model.architecture].plugin or ""]


def _same_content(path: Path, layers: list[Path]) -> bool:
    try:
        data = path.read_bytes()
        return any(layer.read_bytes() == data for layer in layers if layer.is_file())
    except OSError:
        return False


def _matches(name: str, pattern: str) -> bool:
    pattern = pattern.lower()  # model names are lower-case (registry schema)
    if any(ch in pattern for ch in "*?["):
        return fnmatch.fnmatchcase(name, pattern)
    return pattern in name


def _check_preset(model: ModelEntry, arch: ArchitectureEntry, path: Path) -> None:
    """A preset's hparams and train tables must fit the architecture's declarations."""
    from zoo.catalog.hparams import resolve
    from zoo.catalog.options import TRAIN_OPTIONS

    where = f"{path}: models.{model.name}"
    try:
        resolve(arch.hparams, [(f"{where}.hparams", model.hparams)], model=model.name)
        resolve(TRAIN_OPTIONS, [(f"{where}.train", model.train)], model=model.name)
    except ZooError as exc:
        raise RegistryError(exc.message, exc.hint) from None


def _find_registry(record: PluginRecord) -> Path | None:
    from zoo.catalog.host import find_registry_file

    return find_registry_file(record.module)


def _assign_owners(
    reg: RegistryFile, records: list[PluginRecord], disabled: Collection[str] = ()
) -> dict[str, PluginRecord]:
    """Which plugin implements each architecture of a registry file shipped by ``records``."""
    names = {r.name: r for r in records}
    owners: dict[str, PluginRecord] = {}
    for arch in reg.architectures.values():
        if arch.plugin is None:
            if len(records) != 1:
                raise RegistryError(
                    f"{reg.path}: architectures.{arch.name} has no 'plugin' key and the file "
                    f"is shared by plugins {', '.join(sorted(names))}",
                    "add plugin = '<entry-point name>'",
                )
            arch.plugin = records[0].name
        elif arch.plugin in disabled:
            continue
        elif arch.plugin not in names:
            raise RegistryError(
                f"{reg.path}: architectures.{arch.name}.plugin is '{arch.plugin}'",
                "expected the entry-point name of a plugin in the same package: "
                + ", ".join(sorted(names)),
            )
        owners[arch.name] = names[arch.plugin]
    return owners


def get_catalog() -> Catalog:
    """The process-wide catalog, built on first use."""
    global _cached
    if _cached is None:
        _cached = Catalog.build()
    return _cached


def require_ok(catalog: Catalog) -> None:
    """Raise under strict mode if any plugin has a problem (used by `zoo plugins`)."""
    if strict_mode():
        bad = [r for r in catalog.host.records.values() if r.status == "error"]
        if bad:
            raise PluginError(f"plugin '{bad[0].name}' is broken: {bad[0].error}")


__all__ = ["Catalog", "ModelRef", "get_catalog", "reset", "use_registry"]

"""registry.toml: the static catalog of architectures, models (presets) and weights.

A registry file is pure data. It is read by ``zoo list``/``zoo info`` without importing any
plugin code or TensorFlow. Schema (see README "registry.toml format")::

    schema_version = 1

    [architectures.<name>]          # only in a plugin package's registry
    plugin = "<entry-point name>"   # defaults to the only plugin shipping the file
    summary = "..."
    task = "image-classification"   # a task name or alias declared by an installed plugin
    input = "28x28x1 image"         # human-readable input spec
    default_dataset = "..."
    export_formats = ["keras", "savedmodel", "onnx", "litert"]
    [architectures.<name>.unsupported_formats]   # format = "reason"
    keras_modules = ["my_pkg.layers"]  # modules registering the custom layers a .keras needs
    [architectures.<name>.hparams.<key>]
    type = "int"; default = 64; min = 1; max = 4096; help = "..."

    [tasks.<name>]                  # a task this package provides (its zoo_tasks hook)
    plugin = "<entry-point name>"   # defaults to the only plugin shipping the file
    summary = "..."; aliases = ["other-name", ...]

    [plugins.<entry-point name>]    # the cross-cutting hooks a plugin implements, so the zoo
    hooks = ["zoo_callbacks"]       # knows which plugins to import without importing them
    commands = ["mycommand"]        # CLI commands its zoo_cli_commands adds

    [models.<name>]                 # a named preset of an architecture
    architecture = "<name>"
    summary = "..."; license = "Apache-2.0"; tags = ["..."]
    params = 225034                 # parameter count with these hparams (optional)
    hparams = { key = value }       # overrides of the architecture defaults
    train = { epochs = 10 }         # overrides of the training option defaults
    [[models.<name>.weights]]
    name = "digits"; source = "package:zoo.plugins.weights/cnn-digits.weights.h5"
    sha256 = "<64 hex>"; size = 123; dataset = "digits"; license = "..."
    metrics = { accuracy = 0.98 }
    baselines = { svc_accuracy = 0.97 }  # other methods on the same test split
    hparams = { num_classes = 5 }   # hyper-parameters the weights were trained with
    lineage = { run = "...", seed = 0 }  # written by `zoo weights add`: the run, its
                                    # training options, the weights it started from
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zoo.catalog.hparams import HParam, hparam_from_toml
from zoo.catalog.options import TRAIN_OPTIONS
from zoo.errors import RegistryError

SCHEMA_VERSION = 1
FORMATS = ("keras", "savedmodel", "onnx", "litert")
# Cross-cutting hooks: called on every plugin that declares them under [plugins.<name>].
CROSS_HOOKS = ("zoo_tasks", "zoo_export_formats", "zoo_callbacks", "zoo_cli_commands")
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
SHA_RE = re.compile(r"^[0-9a-f]{64}$")
MD5_RE = re.compile(r"^[0-9a-f]{32}$")
# Weight file formats: Keras 3 weights-only files, and the legacy weights-only .h5 layout of
# keras.applications' files (layer_names/weight_names attributes, no model config).
WEIGHT_FORMATS = ("weights.h5", "keras-legacy-h5")

_ARCH_KEYS = {
    "plugin": str,
    "summary": str,
    "task": str,
    "input": str,
    "output": str,
    "default_dataset": str,
    "export_formats": list,
    "unsupported_formats": dict,
    "hparams": dict,
    "paper": str,
    "description": str,
    "head": list,
    "inference_hparams": dict,
    "keras_modules": list,
}
_MODEL_KEYS = {
    "architecture": str,
    "summary": str,
    "license": str,
    "tags": list,
    "params": int,
    "hparams": dict,
    "train": dict,
    "weights": list,
    "description": str,
}
_TASK_KEYS = {"plugin": str, "summary": str, "aliases": list, "description": str}
_PLUGIN_KEYS = {"hooks": list, "commands": list, "description": str}
_WEIGHT_KEYS = {
    "name": str,
    "source": str,
    "sha256": str,
    "size": int,
    "md5": str,
    "format": str,
    "dataset": str,
    "license": str,
    "metrics": dict,
    "baselines": dict,  # other methods' metrics on the same test split
    "description": str,
    "hparams": dict,
    "lineage": dict,  # where published weights came from (zoo weights add)
}
# names a plugin reads as ``config.<name>`` that are Config's own attributes or methods
_CONFIG_ATTRS = frozenset(
    ("model", "architecture", "values", "specs", "train", "get", "keys", "items", "to_dict")
)
_WEIGHT_REQUIRED = ("name", "source")
_TYPE_NAMES = {str: "a string", list: "an array", dict: "a table", int: "an integer"}


@dataclass
class WeightsEntry:
    """A weight set. Its file is pinned by ``sha256`` and ``size``; an upstream file whose
    publisher gives only a hash (``md5``, or ``sha256`` without ``size``) is verified by that
    hash on download and pinned by the store's cache manifest from then on (``pinned``)."""

    name: str
    source: str
    sha256: str = ""
    size: int | None = None
    md5: str = ""
    format: str = "weights.h5"  # or "keras-legacy-h5" (see WEIGHT_FORMATS)
    dataset: str = ""
    license: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    baselines: dict[str, float] = field(default_factory=dict)
    description: str = ""
    hparams: dict[str, Any] = field(default_factory=dict)
    lineage: dict[str, Any] = field(default_factory=dict)  # run, seed, starting weights
    origin: str = ""  # the registry file that declared it (for relative paths)

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if v not in ("", {}, None)}
        out.pop("origin", None)
        return out

    @property
    def pinned(self) -> bool:
        """Whether the registry pins the file itself (full sha256 and size)."""
        return bool(self.sha256) and self.size is not None


@dataclass
class ArchitectureEntry:
    name: str
    summary: str = ""
    task: str = "classification"
    input: str = ""
    output: str = ""
    default_dataset: str = ""
    export_formats: list[str] = field(default_factory=lambda: list(FORMATS))
    unsupported_formats: dict[str, str] = field(default_factory=dict)
    hparams: dict[str, HParam] = field(default_factory=dict)
    paper: str = ""
    description: str = ""
    head: list[str] = field(default_factory=list)  # layer names fine-tuning trains first
    # hyper-parameters an exported (inference) model is rebuilt with, e.g. augment = 0
    inference_hparams: dict[str, Any] = field(default_factory=dict)
    keras_modules: list[str] = field(default_factory=list)  # what a .keras export imports
    plugin: str | None = None
    origin: str = ""


@dataclass
class ModelEntry:
    name: str
    architecture: str = ""  # may be omitted by a later layer that only adds weights
    summary: str = ""
    license: str = ""
    tags: list[str] = field(default_factory=list)
    params: int | None = None
    hparams: dict[str, Any] = field(default_factory=dict)
    train: dict[str, Any] = field(default_factory=dict)
    weights: dict[str, WeightsEntry] = field(default_factory=dict)
    description: str = ""
    origin: str = ""


@dataclass
class TaskEntry:
    """A task a plugin provides: its code is the plugin's ``zoo_tasks`` hook."""

    name: str
    plugin: str | None = None
    summary: str = ""
    aliases: list[str] = field(default_factory=list)
    description: str = ""
    origin: str = ""


@dataclass
class PluginEntry:
    """What a plugin declares about itself: its cross-cutting hooks and CLI commands."""

    name: str
    hooks: list[str] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    description: str = ""
    origin: str = ""


@dataclass
class RegistryFile:
    path: Path
    architectures: dict[str, ArchitectureEntry]
    models: dict[str, ModelEntry]
    tasks: dict[str, TaskEntry] = field(default_factory=dict)
    plugins: dict[str, PluginEntry] = field(default_factory=dict)


def _check_type(value: Any, expected: type, where: str, key: str) -> None:
    ok = isinstance(value, expected) and not (expected is int and isinstance(value, bool))
    if not ok:
        raise RegistryError(
            f"{where}: '{key}' is {type(value).__name__} {value!r}",
            f"expected {_TYPE_NAMES.get(expected, expected.__name__)}",
        )


def _check_keys(table: Mapping[str, Any], allowed: Mapping[str, type], where: str) -> None:
    for key, value in table.items():
        if key not in allowed:
            raise RegistryError(
                f"{where}: unknown key '{key}'", "valid keys: " + ", ".join(sorted(allowed))
            )
        _check_type(value, allowed[key], where, key)


def _check_name(name: str, where: str) -> None:
    if not NAME_RE.match(name):
        raise RegistryError(
            f"{where}: name '{name}' is not valid",
            "use lower-case letters, digits, '-', '_' or '.'",
        )


def parse_weights(raw: Any, where: str, origin: str) -> WeightsEntry:
    if not isinstance(raw, Mapping):
        raise RegistryError(f"{where}: a weights entry is {type(raw).__name__}", "expected a table")
    _check_keys(raw, _WEIGHT_KEYS, where)
    for key in _WEIGHT_REQUIRED:
        if key not in raw:
            raise RegistryError(f"{where}: missing '{key}'", f"every weights entry needs {key}")
    _check_name(raw["name"], where)
    if "sha256" in raw and not SHA_RE.match(raw["sha256"]):
        raise RegistryError(
            f"{where}: sha256 '{raw['sha256']}' is not a full digest",
            "expected 64 lower-case hex characters",
        )
    if "md5" in raw and not MD5_RE.match(raw["md5"]):
        raise RegistryError(
            f"{where}: md5 '{raw['md5']}' is not an MD5 digest",
            "expected 32 lower-case hex characters",
        )
    if "size" in raw and raw["size"] <= 0:
        raise RegistryError(f"{where}: size {raw['size']} is not positive", "expected bytes > 0")
    if raw.get("format", WEIGHT_FORMATS[0]) not in WEIGHT_FORMATS:
        raise RegistryError(
            f"{where}: format '{raw['format']}' is not a weights format",
            "expected one of " + ", ".join(WEIGHT_FORMATS),
        )
    _check_digests(raw, where)
    metrics = raw.get("metrics", {})
    baselines = raw.get("baselines", {})
    for table, values in (("metrics", metrics), ("baselines", baselines)):
        for key, value in values.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise RegistryError(f"{where}: {table}.{key} is {value!r}", "expected a number")
    parse_source(raw["source"], origin, where)  # a bad source breaks only this registry
    return WeightsEntry(
        **{**raw, "metrics": dict(metrics), "baselines": dict(baselines)}, origin=origin
    )


def _check_digests(raw: Mapping[str, Any], where: str) -> None:
    """sha256 + size pin a file; an https:// upstream file may give only the hash its
    publisher gives (md5, or sha256 without size): the store pins it on first download."""
    if "sha256" in raw and "size" in raw:
        if "md5" in raw:
            raise RegistryError(f"{where}: both md5 and sha256 + size", "keep sha256 and size")
        return
    if "size" in raw:
        raise RegistryError(f"{where}: size without sha256", "add the file's sha256")
    if "sha256" not in raw and "md5" not in raw:
        raise RegistryError(
            f"{where}: missing 'sha256' and 'size'",
            "every weights entry needs sha256 and size (`zoo weights hash FILE`), or, for a "
            "file downloaded from its publisher, the md5 or sha256 it publishes",
        )
    if "sha256" in raw and "md5" in raw:
        raise RegistryError(f"{where}: both md5 and sha256", "give the one the publisher gives")
    if not str(raw["source"]).strip().lower().startswith(("https://", "http://")):
        raise RegistryError(
            f"{where}: missing 'size' (only a file downloaded from its publisher's http(s) "
            "URL may give just the publisher's hash)",
            "give the file's sha256 and size (`zoo weights hash FILE`)",
        )


# ------------------------------------------------------------------------ weights sources
SOURCE_FORMS = (
    "package:<dotted.package>/<file>, https://..., http://..., file:///absolute/path, "
    "or a path (absolute, or relative to the registry file)"
)
_PACKAGE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_SCHEME_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):")  # 2+ letters: a drive (C:) is a path


@dataclass(frozen=True)
class SourceSpec:
    """Where a weights entry's file comes from: ``kind`` is "package" (``location`` is
    ``<dotted.package>/<file>``), "local" (an absolute path) or "url"."""

    kind: str
    location: str
    filename: str


def parse_source(text: str, origin: str = "", where: str = "") -> SourceSpec:
    """Validate and classify a weights ``source``; relative paths are resolved against
    the registry file ``origin``, ``file://`` URLs are absolute paths. Raises RegistryError
    naming ``where`` for a malformed source, an unknown scheme or a package path that
    leaves its package."""
    raw = text.strip()
    where = where or (origin or "weights source")
    if not raw:
        raise RegistryError(f"{where}: source is empty", f"expected {SOURCE_FORMS}")
    if "\x00" in raw:
        raise RegistryError(f"{where}: source {raw!r} holds a NUL character", "remove it")
    match = _SCHEME_RE.match(raw)
    scheme = match.group(1).lower() if match else ""
    if scheme == "package":
        package, sep, filename = raw[len("package:") :].partition("/")
        if not sep or not _PACKAGE_RE.match(package) or not _plain_name(filename):
            raise RegistryError(
                f"{where}: weights source '{raw}' is not valid (a file directly inside a "
                "package: no folders, no '..')",
                "expected package:<dotted.package>/<file>",
            )
        return SourceSpec("package", f"{package}/{filename}", filename)
    if scheme in ("https", "http"):
        from urllib.parse import unquote, urlsplit

        parts = urlsplit(raw)
        if not parts.hostname:
            raise RegistryError(f"{where}: URL '{raw}' has no host", "expected https://host/path")
        name = _safe_name(unquote(parts.path.rsplit("/", 1)[-1]))
        if not name.endswith(".weights.h5"):
            name += ".weights.h5"  # Keras reads weights only from files with this suffix
        return SourceSpec("url", raw, name)
    if scheme == "file":
        path = _file_url_path(raw, where)
    elif scheme:
        raise RegistryError(
            f"{where}: weights source '{raw}' uses the unsupported scheme '{scheme}:'",
            f"expected {SOURCE_FORMS}",
        )
    else:
        path = Path(raw).expanduser()
        if not path.is_absolute():
            base = Path(origin).parent if origin else Path.cwd()
            path = base / path
    if not _plain_name(path.name):
        raise RegistryError(f"{where}: weights source '{raw}' names no file", "name a file")
    return SourceSpec("local", str(path), path.name)


def _plain_name(name: str) -> bool:
    return bool(name) and name not in (".", "..") and not any(c in name for c in "/\\")


def _safe_name(name: str) -> str:
    keep = "".join(c if c.isalnum() or c in "._-" else "_" for c in name).lstrip(".")
    return keep or "weights"


def _file_url_path(raw: str, where: str) -> Path:
    """``file:///abs/path`` or ``file://localhost/abs/path`` -> the absolute path."""
    from urllib.parse import unquote, urlsplit
    from urllib.request import url2pathname

    parts = urlsplit(raw)
    if not raw.lower().startswith("file://") or parts.netloc.lower() not in ("", "localhost"):
        raise RegistryError(
            f"{where}: weights source '{raw}' is not a local file:// URL",
            "write file:///absolute/path, or a plain path relative to the registry file",
        )
    path = Path(url2pathname(unquote(parts.path)))
    if not path.is_absolute():
        raise RegistryError(f"{where}: '{raw}' is not an absolute path", "file:///absolute/path")
    return path


def parse_registry(data: Mapping[str, Any], path: Path) -> RegistryFile:
    """Validate a parsed registry.toml; errors name the file, the key and what was expected."""
    where = str(path)
    version = data.get("schema_version", SCHEMA_VERSION)
    if version != SCHEMA_VERSION:
        raise RegistryError(
            f"{where}: schema_version {version!r} is not supported",
            f"this zoo reads schema_version = {SCHEMA_VERSION}",
        )
    for key in data:
        if key not in ("schema_version", "architectures", "models", "tasks", "plugins"):
            raise RegistryError(
                f"{where}: unknown top-level key '{key}'",
                "valid keys: schema_version, architectures, models, tasks, plugins",
            )
    architectures: dict[str, ArchitectureEntry] = {}
    for name, raw in _table(data, "architectures", where).items():
        loc = f"{where}: architectures.{name}"
        _check_name(name, loc)
        if not isinstance(raw, Mapping):
            raise RegistryError(f"{loc} is {type(raw).__name__}", "expected a table")
        _check_keys(raw, _ARCH_KEYS, loc)
        for fmt in [*raw.get("export_formats", []), *raw.get("unsupported_formats", {})]:
            if not isinstance(fmt, str) or not NAME_RE.match(fmt):
                raise RegistryError(
                    f"{loc}: export format {fmt!r} is not a valid format name",
                    "built-in formats: " + ", ".join(FORMATS),
                )
        for module in raw.get("keras_modules", []):
            if not isinstance(module, str) or not all(p.isidentifier() for p in module.split(".")):
                raise RegistryError(
                    f"{loc}: keras_modules entry {module!r} is not a module name",
                    'e.g. keras_modules = ["my_pkg.layers"]',
                )
        _check_name(raw.get("task", "classification"), f"{loc}.task")
        for key in raw.get("hparams", {}):
            if key in TRAIN_OPTIONS or key in _CONFIG_ATTRS:
                what = "a training option" if key in TRAIN_OPTIONS else "a Config attribute"
                raise RegistryError(
                    f"{loc}: hparams.{key} clashes with {what} of the same name",
                    "rename the hyper-parameter",
                )
        hparams = {
            key: hparam_from_toml(key, spec, loc) for key, spec in raw.get("hparams", {}).items()
        }
        fields = {k: v for k, v in raw.items() if k != "hparams"}
        architectures[name] = ArchitectureEntry(name=name, hparams=hparams, origin=where, **fields)
    models: dict[str, ModelEntry] = {}
    for name, raw in _table(data, "models", where).items():
        loc = f"{where}: models.{name}"
        _check_name(name, loc)
        if not isinstance(raw, Mapping):
            raise RegistryError(f"{loc} is {type(raw).__name__}", "expected a table")
        _check_keys(raw, _MODEL_KEYS, loc)
        weights: dict[str, WeightsEntry] = {}
        for i, item in enumerate(raw.get("weights", [])):
            entry = parse_weights(item, f"{loc}.weights[{i}]", where)
            weights[entry.name] = entry
        fields = {k: v for k, v in raw.items() if k != "weights"}
        models[name] = ModelEntry(name=name, weights=weights, origin=where, **fields)
    return RegistryFile(
        path=path,
        architectures=architectures,
        models=models,
        tasks=_parse_tasks(data, where),
        plugins=_parse_plugins(data, where),
    )


def _strings(raw: Mapping[str, Any], key: str, loc: str) -> list[str]:
    values = list(raw.get(key, []))
    for value in values:
        if not isinstance(value, str):
            raise RegistryError(f"{loc}: {key} holds {value!r}", "expected strings")
    return values


def _parse_tasks(data: Mapping[str, Any], where: str) -> dict[str, TaskEntry]:
    tasks: dict[str, TaskEntry] = {}
    for name, raw in _table(data, "tasks", where).items():
        loc = f"{where}: tasks.{name}"
        _check_name(name, loc)
        if not isinstance(raw, Mapping):
            raise RegistryError(f"{loc} is {type(raw).__name__}", "expected a table")
        _check_keys(raw, _TASK_KEYS, loc)
        aliases = _strings(raw, "aliases", loc)
        for alias in aliases:
            _check_name(alias, f"{loc}.aliases")
        fields = {k: v for k, v in raw.items() if k != "aliases"}
        tasks[name] = TaskEntry(name=name, aliases=aliases, origin=where, **fields)
    return tasks


def _parse_plugins(data: Mapping[str, Any], where: str) -> dict[str, PluginEntry]:
    plugins: dict[str, PluginEntry] = {}
    for name, raw in _table(data, "plugins", where).items():
        loc = f"{where}: plugins.{name}"
        if not isinstance(raw, Mapping):
            raise RegistryError(f"{loc} is {type(raw).__name__}", "expected a table")
        _check_keys(raw, _PLUGIN_KEYS, loc)
        hooks = _strings(raw, "hooks", loc)
        for hook in hooks:
            if hook not in CROSS_HOOKS:
                raise RegistryError(
                    f"{loc}: hooks lists '{hook}', which is not a cross-cutting hook",
                    "expected some of " + ", ".join(CROSS_HOOKS),
                )
        commands = _strings(raw, "commands", loc)
        if commands and "zoo_cli_commands" not in hooks:
            hooks.append("zoo_cli_commands")
        plugins[name] = PluginEntry(
            name=name,
            hooks=hooks,
            commands=commands,
            description=raw.get("description", ""),
            origin=where,
        )
    return plugins


def _table(data: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, Mapping):
        raise RegistryError(f"{where}: '{key}' is {type(value).__name__}", "expected a table")
    return value


def load_registry(path: str | Path) -> RegistryFile:
    """Read and validate one registry.toml file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RegistryError(f"registry file {path} does not exist", "check the path") from None
    except OSError as exc:
        raise RegistryError(f"cannot read registry file {path}: {exc.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RegistryError(f"{path}: not valid TOML: {exc}", "fix the TOML syntax") from None
    return parse_registry(data, path)


def merge_model(base: ModelEntry, override: ModelEntry) -> ModelEntry:
    """A later layer's entry for an existing model: fields it sets win, weights are added."""
    merged = ModelEntry(**base.__dict__)
    merged.weights = dict(base.weights)
    merged.hparams = {**base.hparams, **override.hparams}
    merged.train = {**base.train, **override.train}
    for key in ("summary", "license", "description"):
        if getattr(override, key):
            setattr(merged, key, getattr(override, key))
    if override.tags:
        merged.tags = list(override.tags)
    if override.architecture and override.architecture != base.architecture:
        merged.architecture = override.architecture
        merged.hparams = dict(override.hparams)  # the old architecture's keys do not apply
        merged.params = override.params
    elif override.params is not None:
        merged.params = override.params
    elif any(base.hparams.get(k, object()) != v for k, v in override.hparams.items()):
        merged.params = None  # the count no longer describes the changed hyper-parameters
    merged.weights.update(override.weights)
    return merged

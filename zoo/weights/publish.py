"""Publish a finished run as a weights entry, and export weights for a static web server.

``add_run(RUN, TAG)`` (``zoo weights add RUN --tag TAG``) copies the run's final weights into
the store's published area, ``<cache>/published/<sha256>/<model>-<tag>.weights.h5`` — a
sibling of the download cache that cache verification and repair never touch — and writes a
``[[models.<model>.weights]]`` entry into a user registry layer (``./registry.toml`` by
default): source, sha256 and size, the run's hyper-parameters, its data's name, its test
metrics and baselines, and its lineage (the run, its seed and training options, and the
weights it was fine-tuned from). From then on ``NAME:TAG`` is used like shipped weights.

``export_weights(NAME:TAG, DIR)`` (``zoo weights export``) writes the verified file plus a
``registry.toml`` snippet whose source is an ``https://`` template: upload the file to any
static web server, put its URL in the snippet, and give the snippet to the team as a
registry layer.

Every check runs before anything is written; the file is copied to a temporary name,
verified and renamed; the registry is written to a temporary file and renamed. A registry
that already exists keeps its content (and its comments, when the entry can be appended).
Imports no TensorFlow.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zoo.catalog import get_catalog, use_registry, user_layers
from zoo.catalog.registry import NAME_RE, parse_registry
from zoo.errors import RegistryError, WeightsError
from zoo.weights.store import cache_root, fetch, file_digest

URL_TEMPLATE = "https://YOUR-HOST/path/{file}"
_SNIPPET_HEADER = """\
# Weights exported by `zoo weights export`. To share them:
#  1. upload {file} to any static web server (nginx, S3, GitHub releases, ...);
#  2. replace YOUR-HOST/path in `source` below with the file's https:// URL;
#  3. use this file as a registry layer: ./registry.toml, ZOO_REGISTRY=FILE or
#     `zoo --registry FILE ...`. zoo checks every download against sha256 and size.
"""


@dataclass
class Published:
    """What ``add_run`` or ``export_weights`` wrote."""

    name: str  # "cnn:fives"
    file: Path  # the weights file written
    registry: Path  # the registry file the entry went into
    entry: dict[str, Any]  # the [[models.<model>.weights]] entry


def published_dir() -> Path:
    """The store's published area: weights of runs (never cleaned like the cache)."""
    return cache_root() / "published"


# ------------------------------------------------------------------------------ add a run
def add_run(
    run: str | os.PathLike[str],
    tag: str,
    *,
    registry: str | os.PathLike[str] | None = None,
    force: bool = False,
) -> Published:
    """Publish the finished run ``run`` as weights ``<model>:<tag>`` in ``registry``
    (``./registry.toml`` by default, created if missing). An existing tag is replaced only
    with ``force``. Afterwards ``zoo.load(model, weights=tag)`` loads these weights."""
    from zoo.runs import read_metrics, read_run

    record = read_run(run)  # an unfinished run is an error naming `zoo train --resume`
    model = record.model
    _check_tag(tag)
    target = _registry_path(registry)
    label = f"{model}:{tag}"
    catalog = get_catalog()
    ref = catalog.resolve(model)  # a run of a model this zoo no longer has is an error
    existing = ref.model.weights.get(tag)
    if existing is not None and not force:
        raise WeightsError(
            f"weights {label} already exist (in {existing.origin or 'the catalog'})",
            "choose another --tag, or pass --force to replace them",
        )
    data, text = _read_registry(target)
    if _find(data, model, tag) is not None and not force:
        raise WeightsError(
            f"weights {label} already exist in {target}",
            "choose another --tag, or pass --force to replace them",
        )
    source = Path(record.weights_path)
    sha256, size = file_digest(source)
    destination = published_dir() / sha256 / f"{model}-{tag}.weights.h5"
    entry = _entry(record, read_metrics(record.path), tag, destination, sha256, size)
    plugin_model = Path(ref.model.origin).resolve() in _plugin_registries()
    architecture = "" if plugin_model else ref.model.architecture
    new_text = _updated_registry(target, text, model, entry, architecture=architecture)
    created = _copy_verified(source, destination, sha256, size, label)
    try:
        _write_text(target, new_text)
    except BaseException:
        if created:
            destination.unlink(missing_ok=True)
            _remove_empty(destination.parent)
        raise
    _use(target)
    return Published(label, destination, target, entry)


def _entry(
    record: Any, metrics: dict[str, Any], tag: str, path: Path, sha256: str, size: int
) -> dict[str, Any]:
    run = record.raw.get("run", {})
    finetune = run.get("finetune") or {}
    start = (finetune.get("weights") or {}).get("weights")
    epochs = metrics.get("epochs_run")
    how = f"fine-tuned from {start}" if start else "trained from scratch"
    description = (
        f"published from run {Path(record.path).resolve().name} by `zoo weights add`: {how} on "
        f"{run.get('dataset') or 'its data'}, seed {record.seed}"
        + (f", {epochs} epochs" if epochs else "")
    )
    lineage: dict[str, Any] = {
        "run": str(Path(record.path).resolve()),
        "model": record.model,
        "seed": record.seed,
        "data": record.data,
        "created": run.get("created"),
        "finished": run.get("finished"),
        "epochs_run": epochs,
        "split": run.get("split"),
        "class_names": list((record.state or {}).get("class_names") or []),  # what it predicts
        "train": dict(record.train),
        "finetune": finetune or None,
    }
    numbers = {k: round(float(v), 6) for k, v in metrics.get("test", {}).items() if _number(v)}
    for key, value in metrics.get("baselines", {}).items():
        if _number(value):
            numbers[f"baseline_{key}"] = round(float(value), 6)
    entry = {
        "name": tag,
        "source": str(path),
        "sha256": sha256,
        "size": size,
        "dataset": run.get("dataset") or "",
        "description": description,
        "metrics": numbers,
        "hparams": dict(record.hparams),
        "lineage": lineage,
    }
    return _toml_safe(entry)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value


def _toml_safe(value: Any) -> Any:
    """Drop None and empty values (TOML has no null) and turn paths into strings."""
    if isinstance(value, dict):
        out = {k: _toml_safe(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v not in (None, "", {}, [])}
    if isinstance(value, (list, tuple)):
        return [_toml_safe(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


# ------------------------------------------------------------------------------- export
def export_weights(
    name: str, to: str | os.PathLike[str], *, force: bool = False, url: str | None = None
) -> Published:
    """Write the verified file of weights ``name`` (``NAME:TAG``) into folder ``to`` with a
    ``registry.toml`` snippet whose source is ``url`` (a template for the file's https://
    address by default: ``https://YOUR-HOST/path/<file>``). An existing snippet keeps its
    other entries; the same tag in it is replaced only with ``force``."""
    model, sep, tag = name.partition(":")
    if not sep or not tag:
        raise WeightsError(
            f"'{name}' names no weight set", f"use {model or 'NAME'}:TAG (see `zoo weights list`)"
        )
    ref = get_catalog().resolve(name)
    assert ref.weights is not None
    label = f"{ref.model.name}:{ref.weights.name}"
    folder = Path(to).expanduser()
    if folder.exists() and not folder.is_dir():
        raise WeightsError(f"--to {folder} is a file, not a folder", "give a folder")
    path = fetch(ref.weights, label)  # verified (downloaded into the cache if needed)
    sha256, size = file_digest(path)
    suffix = ".weights.h5" if path.name.endswith(".weights.h5") else path.suffix or ".h5"
    filename = f"{ref.model.name}-{ref.weights.name}{suffix}"
    target = folder / filename
    entry = {
        **ref.weights.to_dict(),
        "source": url or URL_TEMPLATE.format(file=filename),
        "sha256": sha256,  # pinned, even where the upstream gave only a weaker hash
        "size": size,
    }
    snippet = folder / "registry.toml"
    data, text = _read_registry(snippet)
    old = _find(data, ref.model.name, ref.weights.name)
    if old is not None and old != entry and not force:
        raise WeightsError(
            f"{snippet} already has other weights {label}",
            "export to another folder, or pass --force to replace them",
        )
    if target.exists() and file_digest(target) != (sha256, size) and not force:
        raise WeightsError(
            f"{target} exists with other content", "pass --force to replace it, or use --to"
        )
    header = _SNIPPET_HEADER.format(file=filename) if not text.strip() else ""
    if old == entry:  # exported before: the snippet stays as it is
        new_text = text
    else:
        new_text = _updated_registry(snippet, text, ref.model.name, entry, header=header)
    folder.mkdir(parents=True, exist_ok=True)
    _copy_verified(path, target, sha256, size, label, replace=True)
    _write_text(snippet, new_text)
    return Published(label, target, snippet, entry)


# ------------------------------------------------------------------------------ helpers
def _check_tag(tag: str) -> None:
    if not tag or not NAME_RE.match(tag):
        raise WeightsError(
            f"--tag {tag!r} is not a valid weights name",
            "use lower-case letters, digits, '-', '_' or '.' (e.g. --tag my-digits)",
        )


def _registry_path(registry: str | os.PathLike[str] | None) -> Path:
    """The user registry to write; a plugin package's own registry.toml is refused."""
    target = Path(registry if registry is not None else "registry.toml").expanduser()
    if target.exists() and not target.is_file():
        raise RegistryError(f"registry {target} is not a file", "give a .toml file path")
    if target.exists() and target.resolve() in _plugin_registries():
        raise RegistryError(
            f"{target} is the registry shipped by a plugin package, not a user registry",
            "write to another file with --registry FILE (e.g. --registry my-weights.toml)",
        )
    return target


def _plugin_registries() -> set[Path]:
    return {Path(r.registry).resolve() for r in get_catalog().host.records.values() if r.registry}


def _read_registry(path: Path) -> tuple[dict[str, Any], str]:
    if not path.exists():
        return {}, ""
    try:
        text = path.read_text(encoding="utf-8")
        return tomllib.loads(text), text
    except OSError as exc:
        raise RegistryError(f"cannot read registry {path}: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise RegistryError(f"{path}: not valid TOML: {exc}", "fix or move the file") from None


def _weights_list(data: dict[str, Any], model: str, where: Path) -> list[Any]:
    models = data.setdefault("models", {})
    table = models.setdefault(model, {}) if isinstance(models, dict) else None
    weights = table.setdefault("weights", []) if isinstance(table, dict) else None
    if not isinstance(weights, list):
        raise RegistryError(
            f"{where}: models.{model}.weights is not an array of tables",
            "fix the file, or write to another one with --registry FILE",
        )
    return weights


def _find(data: dict[str, Any], model: str, tag: str) -> dict[str, Any] | None:
    models = data.get("models")
    table = models.get(model) if isinstance(models, dict) else None
    weights = table.get("weights") if isinstance(table, dict) else None
    for item in weights if isinstance(weights, list) else []:
        if isinstance(item, dict) and item.get("name") == tag:
            return item
    return None


def _updated_registry(
    path: Path,
    text: str,
    model: str,
    entry: dict[str, Any],
    header: str = "",
    architecture: str = "",
) -> str:
    """The registry's new text with ``entry`` added (or replacing the same tag), checked
    against the registry schema. Appended to the old text when that parses to the same
    data (comments and layout kept), else the whole file re-written. ``architecture`` is
    written for a model no plugin declares, so the layer stands on its own."""
    import tomli_w

    updated = tomllib.loads(text) if text else {}
    weights = _weights_list(updated, model, path)
    table: dict[str, Any] = updated["models"][model]
    head: dict[str, Any] = {}
    if architecture and "architecture" not in table:
        table["architecture"] = head["architecture"] = architecture
    replaced = False
    for i, item in enumerate(weights):
        if isinstance(item, dict) and item.get("name") == entry["name"]:
            weights[i], replaced = entry, True
    if not replaced:
        weights.append(entry)
    parse_registry(updated, path)  # a schema error is reported before anything is written
    block = tomli_w.dumps({"models": {model: {**head, "weights": [entry]}}})
    if not replaced:
        glue = "\n" if text.endswith("\n") else "\n\n" if text else ""
        appended = header + text + glue + block
        try:
            if tomllib.loads(appended) == updated:
                return appended
        except tomllib.TOMLDecodeError:
            pass
    return header + tomli_w.dumps(updated)


def _copy_verified(
    source: Path, target: Path, sha256: str, size: int, label: str, *, replace: bool = False
) -> bool:
    """Copy ``source`` to ``target`` through a temporary file that must match ``sha256``
    and ``size``; True if a new file was written (False: an identical one was there)."""
    if target.is_file() and file_digest(target) == (sha256, size):
        return False
    if target.exists() and not replace:
        raise WeightsError(f"{target} exists with other content", "remove it and try again")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as out, open(source, "rb") as src:
            shutil.copyfileobj(src, out, 1 << 20)
            out.flush()
            os.fsync(out.fileno())
        if file_digest(tmp) != (sha256, size):
            raise WeightsError(
                f"weights {label}: {source} changed while it was copied", "try again"
            )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return True


def _write_text(path: Path, text: str) -> None:
    from zoo.runs import atomic_write_text

    atomic_write_text(path, text)


def _remove_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass


def _use(registry: Path) -> None:
    """Make the written registry a layer of this process's catalog, and rebuild it."""
    import zoo.catalog.layers as layers

    resolved = registry.resolve()
    if any(p.resolve() == resolved for p in user_layers() if p.exists()):
        layers._cached = None  # the file changed: read the catalog again
    else:
        use_registry(registry)

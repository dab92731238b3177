"""``zoo.export``: write a model as .keras, SavedModel, ONNX or LiteRT and prove it matches.

Every export is staged next to the destination, reloaded with the format's own runtime, run
on a sample batch and compared with the Keras model; only an artifact within tolerance is
renamed into place. A failed export leaves nothing behind and never touches an existing
artifact; ``force=True`` replaces one only after the new artifact has been verified.

Every format is an ``ExportFormat`` record from the ``zoo_export_formats`` hook; the core
plugin registers the four built-in ones the same way. Those are written through the owning
plugin's ``zoo_export`` hook (the core's default is Keras' own ``model.save``/``model.export``).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo.errors import ExportError, PluginError, ZooError
from zoo.exporting.builtin import BUILTIN_FORMATS, write_builtin_format
from zoo.exporting.formats import (
    SUFFIXES,
    Artifact,
    TensorInfo,
    first_line,
    is_savedmodel,
    to_versioned_layout,
)
from zoo.exporting.fresh import FRESH_FORMATS, fresh_artifact, keras_modules
from zoo.exporting.metadata import Placement, build_metadata, sidecar_path, write_metadata
from zoo.exporting.parity import SAMPLES, check_parity, length, sample_batch
from zoo.exporting.record import ExportFormat
from zoo.exporting.sources import Source, resolve_source

if TYPE_CHECKING:
    from zoo.catalog import ModelRef
    from zoo.catalog.hparams import Config


@dataclass
class ExportResult:
    """What an export wrote and how closely it matched the Keras model."""

    path: Path
    format: str
    size: int
    inputs: list[dict[str, Any]]
    outputs: list[dict[str, Any]]
    max_abs_diff: float
    tolerance: float
    samples: int
    sample_source: str
    batch_size: int | None
    source: str
    replaced: bool = False
    notes: list[str] = field(default_factory=list)
    metadata: str | None = None  # where the metadata (data state, signature...) was written
    fresh_interpreter: bool = False  # parity also checked in a new process without zoo

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "format": self.format,
            "size": self.size,
            "inputs": self.inputs,
            "outputs": self.outputs,
            "max_abs_diff": self.max_abs_diff,
            "tolerance": self.tolerance,
            "samples": self.samples,
            "sample_source": self.sample_source,
            "batch_size": self.batch_size if self.batch_size is not None else "dynamic",
            "source": self.source,
            "replaced": self.replaced,
            "notes": list(self.notes),
            "metadata": self.metadata,
            "fresh_interpreter": self.fresh_interpreter,
        }


# -- public API ------------------------------------------------------------------------------
def export(
    model_or_name: Any,
    path: str | os.PathLike[str] | None = None,
    format: str | None = None,
    batch_size: int | str | None = None,
    force: bool = False,
    *,
    config: Config | None = None,
    samples: int = SAMPLES,
) -> ExportResult:
    """Export a model and verify the artifact against the Keras model.

    ``model_or_name``: a ``keras.Model`` (``config`` optional), a model name (``cnn``, fresh
    weights), ``name:tag`` (pretrained weights), a run folder or the ``Run`` ``zoo.train``
    returned. ``format``: keras, savedmodel, onnx, litert or a plugin's format; inferred
    from ``path``'s suffix when omitted. ``batch_size``: the signature's batch dimension, an
    int or ``"dynamic"``; default dynamic, except LiteRT (1). Raises :class:`ExportError`
    on any failure.
    """
    # Cheap checks first: bad arguments fail before TensorFlow is imported.
    format = _choose_format(format, path)
    fmt = all_formats().get(format)
    if fmt is None:
        _raise_unknown_format(format)
    batch, notes = _batch_for(fmt, batch_size)
    if fmt.check_available is not None:
        fmt.check_available()
    if isinstance(model_or_name, str) and not Path(model_or_name).is_dir():
        from zoo.catalog import get_catalog

        _check_supported(get_catalog().resolve(model_or_name), format)  # before building
    source = inference_model(resolve_source(model_or_name, config))
    _check_supported(source.ref, format)
    suffix = fmt.suffix
    dest = _destination(path, source.stem, format, suffix)
    replacing = _check_destination(dest, format, force)
    x, sample_source = sample_batch(
        source.model, source.config, source.ref, samples, data=source.data, state=source.state
    )

    try:
        created = _make_parents(dest.parent)
    except OSError as exc:
        raise _os_error(dest, exc) from exc
    metadata = build_metadata(source, format)
    staged = dest.parent / f".{dest.name}.partial-{secrets.token_hex(4)}{suffix}"
    placement: Placement | None = None
    try:
        _write(source, staged, fmt, batch)
        if format == "savedmodel":
            to_versioned_layout(staged)  # a plugin's own zoo_export may write a flat one
        placement = write_metadata(staged, format, metadata)
        artifact = _reload(staged, fmt, source.model)
        diff, tolerance = check_parity(source.model, artifact, x, format, fmt.tolerance)
        if format in FRESH_FORMATS:  # the artifact must stand alone: no zoo in the process
            modules = keras_modules(source.ref, source.model)
            fresh = fresh_artifact(staged, format, x, artifact.batch_size, modules, source.label)
            diff = max(diff, check_parity(source.model, fresh, x, format, fmt.tolerance)[0])
        size = _size(staged)
        _commit(staged, dest, force)
        if placement.sidecar is not None:
            os.replace(placement.sidecar, sidecar_path(dest))
    except BaseException as exc:
        _remove(staged)  # a failed export leaves nothing behind
        if placement is not None and placement.sidecar is not None:
            _remove(placement.sidecar)
        for folder in reversed(created):
            with contextlib.suppress(OSError):
                folder.rmdir()
        if isinstance(exc, OSError):  # a full disk, a read-only folder: one line
            raise _os_error(dest, exc) from exc
        raise
    return ExportResult(
        path=dest,
        format=format,
        size=size,
        inputs=[t.to_dict() for t in artifact.inputs],
        outputs=[t.to_dict() for t in artifact.outputs],
        max_abs_diff=diff,
        tolerance=tolerance,
        samples=length(x),
        sample_source=sample_source,
        batch_size=artifact.batch_size if format != "keras" else None,
        source=source.label,
        replaced=replacing,
        notes=notes + _layout_notes(format, dest),
        metadata=placement.describe(dest),
        fresh_interpreter=format in FRESH_FORMATS,
    )


def _layout_notes(format: str, dest: Path) -> list[str]:
    if format != "savedmodel":
        return []
    return [f"TF Serving layout: version 1 in {dest / '1'}; serve with --model_base_path={dest}"]


def formats() -> dict[str, str]:
    """Every export format available: name -> description (built-in and plugin-supplied)."""
    return {
        name: fmt.description or f"{fmt.suffix or 'folder'} (plugin format)"
        for name, fmt in all_formats().items()
    }


def inference_model(source: Source) -> Source:
    """The model to export: rebuilt with the architecture's ``inference_hparams`` (e.g.
    ``augment = 0``: no training-time random layers) and the same weights, when those
    differ from the model's own config; else the model itself."""
    if source.ref is None or source.config is None:
        return source
    wanted = source.ref.architecture.inference_hparams
    if not wanted or all(source.config.get(k) == v for k, v in wanted.items()):
        return source
    from zoo.building import build_model
    from zoo.catalog.config import make_config

    values = {**source.config.values, **source.config.train, **wanted}
    config = make_config(source.ref, [("inference_hparams", values)])
    twin = build_model(source.ref, config, compile=False)
    twin.set_weights(source.model.get_weights())
    return replace(source, model=twin, config=config)


# -- formats and destinations --------------------------------------------------------------
def all_formats() -> dict[str, ExportFormat]:
    """Every ``ExportFormat`` the declaring plugins register, the core's four first (a
    plugin cannot replace a built-in format)."""
    from zoo.catalog import get_catalog

    found: dict[str, ExportFormat] = {}
    for batch in get_catalog().host.cross_hook("zoo_export_formats")():
        for fmt in batch or []:
            if fmt.name in BUILTIN_FORMATS and fmt.write is not None:
                continue  # only the core's records may use a built-in name
            found.setdefault(fmt.name, fmt)
    ordered = {name: found[name] for name in BUILTIN_FORMATS if name in found}
    ordered.update((name, fmt) for name, fmt in found.items() if name not in ordered)
    return ordered


def _raise_unknown_format(format: str) -> None:
    from zoo.errors import did_you_mean

    names = list(formats())
    hint = did_you_mean(format, names)
    listing = "available: " + ", ".join(names)
    raise ExportError(f"unknown export format '{format}'", f"{hint} {listing}" if hint else listing)


def _choose_format(format: str | None, path: Any) -> str:
    if format:
        return format.strip().lower()
    if path is not None:
        suffix = Path(os.fspath(path)).suffix.lower()
        by_suffix = {s: f for f, s in SUFFIXES.items() if s}
        if suffix in by_suffix:
            return by_suffix[suffix]
        if suffix == "":
            return "savedmodel"
    raise ExportError(
        "no export format given", "pass --format keras|savedmodel|onnx|litert (format=...)"
    )


def _check_supported(ref: ModelRef | None, format: str) -> None:
    if ref is None:
        return
    arch = ref.architecture
    reason = arch.unsupported_formats.get(format)
    if reason is None and format in BUILTIN_FORMATS and format not in arch.export_formats:
        reason = "the architecture does not declare it in export_formats"
    if reason is not None:
        ok = [f for f in arch.export_formats if f not in arch.unsupported_formats]
        raise ExportError(
            f"model '{ref.model.name}' cannot be exported to {format}: {reason}",
            "supported formats: " + (", ".join(ok) or "none"),
        )


def _destination(path: Any, stem: str, format: str, suffix: str) -> Path:
    if path is None:
        return Path.cwd() / f"{stem}{suffix or '_' + format}"
    dest = Path(os.fspath(path)).expanduser().absolute()
    if suffix and dest.is_dir():
        return dest / f"{stem}{suffix}"
    if suffix and not dest.name.endswith(suffix):
        better = dest.with_suffix(suffix) if dest.suffix else dest.with_name(dest.name + suffix)
        raise ExportError(f"{dest}: a {format} export must be named *{suffix}", f"use {better}")
    return dest


def _os_error(dest: Path, exc: OSError) -> ExportError:
    return ExportError(
        f"cannot write {dest}: {exc.strerror or exc}",
        "choose another --output path (in a writable folder with free space)",
    )


def _check_destination(dest: Path, format: str, force: bool) -> bool:
    folder = next((p for p in dest.parents if p.exists()), None)
    if folder is not None and not folder.is_dir():
        raise ExportError(
            f"cannot write {dest}: {folder} is a file, not a folder", "choose another --output path"
        )
    if not (dest.exists() or dest.is_symlink()):
        return False
    if not (dest.is_file() or dest.is_dir()):  # a device or a pipe: never replaced
        raise ExportError(f"{dest} is not a regular file", "choose another --output path")
    if not force:
        raise ExportError(f"{dest} already exists", "pass --force (force=True) to replace it")
    if dest.is_dir() and not is_savedmodel(dest):
        raise ExportError(
            f"{dest} is a folder that is not a SavedModel; refusing to replace it",
            "choose another --output path",
        )
    return True


def _batch_for(fmt: ExportFormat, batch_size: int | str | None) -> tuple[Any, list[str]]:
    """Normalise ``batch_size`` to an int or ``None`` (dynamic); the format's default when
    none is asked."""
    if batch_size is None:
        return fmt.default_batch, []
    if isinstance(batch_size, str):
        text = batch_size.strip().lower()
        if text in ("dynamic", "none"):
            value: int | None = None
        elif text.isdigit():
            value = int(text)
        else:
            raise ExportError(
                f"invalid batch size '{batch_size}'", "use a positive integer or 'dynamic'"
            )
    elif isinstance(batch_size, int) and not isinstance(batch_size, bool):
        value = batch_size
    else:
        raise ExportError(
            f"invalid batch size {batch_size!r}", "use a positive integer or 'dynamic'"
        )
    if value is not None and value < 1:
        raise ExportError(f"invalid batch size {value}", "use a positive integer or 'dynamic'")
    if not fmt.takes_batch_size:
        return fmt.default_batch, [f"--batch-size does not apply to the {fmt.name} format; ignored"]
    return value, []


# -- writing, reloading, checking ----------------------------------------------------------
def _write(source: Source, staged: Path, fmt: ExportFormat, batch: int | None) -> None:
    format = fmt.name
    try:
        if fmt.write is not None:
            fmt.write(source.model, staged)
            written: Any = staged
        elif source.ref is not None:
            from zoo.catalog import get_catalog

            hook = get_catalog().host.owner_hook(source.ref.plugin, "zoo_export")
            written = hook(
                model=source.model,
                path=staged,
                format=format,
                config=source.config,
                batch_size=batch,
            )
        else:  # a bare keras.Model: no plugin owns it
            written = write_builtin_format(source.model, staged, format, source.config, batch)
    except ZooError:
        raise
    except Exception as exc:  # noqa: BLE001 - converter errors of every kind
        if isinstance(exc, OSError) and exc.errno is not None:
            raise  # a full disk, a read-only folder: export() names the destination
        raise ExportError(
            f"{format} export of {source.label} failed: {first_line(exc)}",
            _write_hint(format),
        ) from None
    if written is None or Path(written).resolve() != staged.resolve():
        plugin = source.ref.plugin if source.ref is not None else "zoo"
        raise PluginError(
            f"plugin '{plugin}': zoo_export returned {written!r} for format '{format}'",
            "zoo_export must write to the path it is given and return it",
        )
    if not staged.exists():
        raise ExportError(f"{format} export of {source.label} wrote nothing to {staged}")


def _write_hint(format: str) -> str:
    if format == "litert":
        return "a static batch (--batch-size 1) avoids ops the LiteRT converter cannot handle"
    if format == "onnx":
        return "tf2onnx may lack a converter for one of the model's ops"
    return "check that the model runs on a sample batch"


def _reload(staged: Path, fmt: ExportFormat, model: Any) -> Artifact:
    format = fmt.name
    if fmt.reload is not None:
        try:
            return fmt.reload(staged)
        except ZooError:
            raise
        except Exception as exc:  # noqa: BLE001 - runtime refuses the artifact
            raise ExportError(
                f"the {format} artifact does not reload: {first_line(exc)}",
                _write_hint(format),
            ) from None
    import keras

    def info(t: Any) -> TensorInfo:
        shape = [None if d is None else int(d) for d in t.shape]
        return TensorInfo(t.name, shape, keras.backend.standardize_dtype(t.dtype))

    if fmt.load is None:
        raise PluginError(
            f"export format '{format}' has neither load nor reload",
            "an ExportFormat needs load(path) -> predict(batch)",
        )
    try:
        predict = fmt.load(staged)
    except Exception as exc:  # noqa: BLE001
        raise ExportError(f"the {format} artifact does not reload: {first_line(exc)}") from None
    return Artifact(predict, [info(t) for t in model.inputs], [info(t) for t in model.outputs])


# -- files -----------------------------------------------------------------------------------
def _commit(staged: Path, dest: Path, force: bool) -> None:
    """Move the verified artifact into place; never clobber unless ``force``."""
    if not (dest.exists() or dest.is_symlink()):
        if staged.is_file():
            try:
                os.link(staged, dest)  # fails if dest appeared meanwhile: no silent clobber
            except FileExistsError:
                raise ExportError(
                    f"{dest} already exists", "pass --force (force=True) to replace it"
                ) from None
            except OSError:
                os.rename(staged, dest)  # file system without hard links
            else:
                os.unlink(staged)
        else:
            os.rename(staged, dest)
        return
    if not force:
        raise ExportError(f"{dest} already exists", "pass --force (force=True) to replace it")
    if staged.is_file() and dest.is_file() and not dest.is_symlink():
        os.replace(staged, dest)  # atomic
        return
    backup = dest.parent / f".{dest.name}.old-{secrets.token_hex(4)}"
    os.rename(dest, backup)
    try:
        os.rename(staged, dest)
    except BaseException:
        os.rename(backup, dest)
        raise
    _remove(backup)


def _make_parents(folder: Path) -> list[Path]:
    """``mkdir -p folder``; returns the folders it created, outermost first."""
    missing = [p for p in (folder, *folder.parents) if not p.exists()]
    folder.mkdir(parents=True, exist_ok=True)
    return list(reversed(missing))


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink(missing_ok=True)


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())

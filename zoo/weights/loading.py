"""``zoo.load``: a model built from plugin code and its validated config, plus verified weights.

The model is always built by the plugin from a validated config; a file only ever supplies
weight arrays, read from a weights-only ``.weights.h5``. Full-model files (``.keras``
archives, Keras 2 ``.h5`` models) can carry code (``Lambda`` layers, custom objects) and are
refused without being deserialised.

When the requested hyper-parameters change some weight shapes (``num_classes=3`` on weights
trained with 10 classes), the model the weights were saved from is built too, the file is
loaded into it, and every layer whose shapes match is copied; the others keep their fresh
initialisation. What happened is reported in ``model.zoo_load_report``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo.catalog import ModelRef, get_catalog
from zoo.errors import WeightsError, did_you_mean

if TYPE_CHECKING:
    import keras

    from zoo.catalog.hparams import Config

log = logging.getLogger(__name__)

WEIGHTS_SUFFIX = ".weights.h5"


@dataclass
class LoadReport:
    """What ``zoo.load`` did with each layer that has weights."""

    model: str
    weights: str  # "cnn:digits", a file or a run folder
    path: str  # the verified local file that was read
    loaded: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # file layer -> why it was not used
    reinitialised: dict[str, str] = field(default_factory=dict)  # model layer -> why
    sha256: str = ""  # of the file read (set by load_into, for a run's lineage)

    @property
    def complete(self) -> bool:
        return not self.skipped and not self.reinitialised

    def __str__(self) -> str:
        lines = [f"loaded {self.weights} into {self.model}: {len(self.loaded)} layers loaded"]
        if self.loaded:
            lines.append("  loaded: " + ", ".join(self.loaded))
        for title, items in (("skipped", self.skipped), ("reinitialised", self.reinitialised)):
            if items:
                lines.append(f"  {title}: " + "; ".join(f"{k} ({v})" for k, v in items.items()))
        return "\n".join(lines)


@dataclass
class _Weights:
    """The weights to load, wherever they come from, and the hparams they were trained with."""

    label: str
    path: Path
    layers: list[tuple[str, Mapping[str, Any]]]  # config layers describing the source model
    legacy: bool = False  # Keras' legacy weights-only .h5 layout (keras.applications files)


def load(
    name: str | os.PathLike[str],
    weights: str | os.PathLike[str] | None = None,
    *,
    strict: bool = False,
    compile: bool = True,
    **overrides: Any,
) -> keras.Model:
    """A ``keras.Model`` of ``name`` with pretrained weights.

    ``name`` is a model (``cnn``), a model with a weight tag (``cnn:digits``) or a run
    folder. ``weights`` is a tag of the model, a ``.weights.h5`` file or a run folder; by
    default the model's first listed weights. ``overrides`` change hyper-parameters or
    training options; layers whose weight shapes no longer match are reinitialised (or, with
    ``strict=True``, raise WeightsError). The report is ``model.zoo_load_report``.
    """
    ref, spec = _resolve(name, weights)
    check_weights_file(spec.path, spec.label, legacy=spec.legacy)

    from zoo.building import build_model
    from zoo.catalog.config import make_config

    target_config = make_config(ref, [*spec.layers, ("zoo.load()", overrides)])
    # Compiled only after loading: an optimizer's state in the file is never restored (a
    # loaded model starts a fresh optimizer) and Keras does not warn about its absence.
    model = build_model(ref, target_config, compile=False)
    report = _load_spec(model, ref, spec, target_config, strict, _fmt_overrides(overrides))
    if compile:
        from zoo.tasks.registry import task_of

        task_of(ref).compile(model, target_config)
    model.zoo_load_report = report
    (log.info if report.complete else log.warning)("%s", report)
    return model


def load_into(
    model: keras.Model, ref: ModelRef, config: Config, weights: Any, *, strict: bool = False
) -> LoadReport:
    """Load starting weights (a tag of ``ref``'s model, a ``.weights.h5`` file or a run
    folder) into an already built ``model`` of ``ref`` with ``config`` — the same checks
    and head adaptation as :func:`load`. Used by fine-tuning (``zoo train NAME:TAG``)."""
    source_ref, spec = _resolve(ref.model.name, weights)
    check_weights_file(spec.path, spec.label, legacy=spec.legacy)
    report = _load_spec(model, source_ref, spec, config, strict, "the data's hyper-parameters")
    from zoo.weights.store import file_digest

    report.sha256 = file_digest(spec.path)[0]
    return report


def _load_spec(
    model: keras.Model, ref: ModelRef, spec: _Weights, config: Config, strict: bool, what: str
) -> LoadReport:
    from zoo.building import build_model
    from zoo.catalog.config import make_config

    source_config = make_config(ref, spec.layers)
    report = LoadReport(model=ref.model.name, weights=spec.label, path=str(spec.path))
    if _same_shape_config(source_config, config):
        _load_exact(model, spec, source_config)
        report.loaded = [layer.name for layer in model.layers if layer.weights]
    else:
        source = build_model(ref, source_config, compile=False)
        _load_exact(source, spec, source_config)
        _copy_matching(source, model, report)
        if strict and not report.complete:
            raise WeightsError(
                f"weights {spec.label} do not fit {ref.model.name} with {what}: "
                + "; ".join(f"{k} ({v})" for k, v in report.reinitialised.items()),
                "drop strict to reinitialise those layers, or keep their hyper-parameters",
            )
    return report


# ------------------------------------------------------------------------------ resolving
def _resolve(name: str | os.PathLike[str], weights: Any) -> tuple[ModelRef, _Weights]:
    catalog = get_catalog()
    if _is_run(name):
        if weights is not None:
            raise WeightsError(
                f"zoo.load({str(name)!r}) names a run folder, which brings its own weights",
                "pass weights=... only with a model name",
            )
        run = _read_run(Path(name))
        return catalog.resolve(run.model), _run_weights(run)
    if os.sep in str(name):
        if Path(name).expanduser().is_dir():
            _read_run(Path(name).expanduser())  # says why it is not a (usable) run folder
        raise WeightsError(
            f"{name} is not a run folder (a folder with run.toml)",
            "pass a run folder written by `zoo train`, or a model name such as 'cnn'",
        )
    model_name, _, tag = str(name).partition(":")
    if tag and weights is not None and str(weights) != tag:
        raise WeightsError(
            f"zoo.load({str(name)!r}, weights={str(weights)!r}) names two weight sets",
            f"use zoo.load({model_name!r}, weights=...) or zoo.load('{model_name}:{tag}')",
        )
    ref = catalog.resolve(model_name)
    if tag:
        weights = tag
    if weights is None:
        if not ref.model.weights:
            raise WeightsError(
                f"model '{model_name}' has no pretrained weights",
                f"use zoo.create({model_name!r}) for a fresh model, or pass weights=FILE|RUN",
            )
        weights = next(iter(ref.model.weights))
    if isinstance(weights, str) and weights in ref.model.weights:
        return _entry_weights(catalog.resolve(f"{model_name}:{weights}"))
    path = Path(weights).expanduser()
    if _is_run(path):
        run = _read_run(path)
        if run.model != model_name:
            raise WeightsError(
                f"run {path} trained model '{run.model}', not '{model_name}'",
                f"use zoo.load({str(path)!r})",
            )
        return ref, _run_weights(run)
    if path.is_file():
        return ref, _Weights(label=str(path), path=path, layers=[])
    if path.is_dir():
        raise WeightsError(
            f"{path} is a folder but not a run folder (no run.toml)",
            "pass a run folder written by `zoo train` or a .weights.h5 file",
        )
    tags = sorted(ref.model.weights)
    hint = did_you_mean(str(weights), tags)
    available = f"its weights: {', '.join(tags)}" if tags else "it has no listed weights"
    raise WeightsError(
        f"model '{model_name}' has no weights '{weights}', and no such file or run folder exists",
        f"{hint} {available}" if hint else available,
    )


def _entry_weights(ref: ModelRef) -> tuple[ModelRef, _Weights]:
    from zoo.weights.store import fetch

    assert ref.weights is not None
    label = f"{ref.model.name}:{ref.weights.name}"
    legacy = ref.weights.format == "keras-legacy-h5"
    # make_config applies ref.weights.hparams itself.
    return ref, _Weights(label=label, path=fetch(ref.weights, label), layers=[], legacy=legacy)


def _is_run(path: str | os.PathLike[str]) -> bool:
    from zoo.runs import is_run_dir

    candidate = Path(path).expanduser()
    return candidate.is_dir() and is_run_dir(candidate)


def _read_run(path: Path) -> Any:
    """A finished run (an unfinished one raises RunError with the resume command)."""
    from zoo.runs import read_run

    return read_run(path)


def _run_weights(run: Any) -> _Weights:
    return _Weights(
        label=f"run {run.path}",
        path=Path(run.weights_path),
        layers=[(f"{run.path}/run.toml", dict(run.hparams))],
    )


# ------------------------------------------------------------------------ file format check
# A weights file is read only after its HDF5 metadata (groups, links, dataset shapes and
# dtypes) has been compared with the model: a tiny file can declare a huge compressed
# dataset, and Keras reads every array it loads in full before it checks the shape.
_MAX_H5_OBJECTS = 100_000  # links in one file (a Keras file of a large model has ~1,000)
_MAX_H5_DEPTH = 32  # nested groups (Keras nests one level per sub-model)
_FIX_FORMAT = "save weights only: model.save_weights('name.weights.h5')"
_FIX_DAMAGED = (
    "replace it with a good copy (download it again, or re-save it with "
    "model.save_weights('name.weights.h5'))"
)


@dataclass(frozen=True)
class H5Dataset:
    """One array of a weights file, as its HDF5 metadata declares it (nothing read)."""

    name: str  # "/layers/dense/vars/0"
    shape: tuple[int, ...]
    dtype: Any  # numpy dtype

    @property
    def size(self) -> int:
        n = 1
        for d in self.shape:
            n *= int(d)
        return n


def _damaged(label: str, path: Path, reason: str) -> WeightsError:
    return WeightsError(
        f"{_prefix(label, path)}{path} is damaged or not a weights file: {reason}", _FIX_DAMAGED
    )


def _prefix(label: str, path: Path) -> str:
    return "" if label == str(path) else f"{label}: "


def _h5_reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def check_weights_file(path: Path, label: str = "", *, legacy: bool = False) -> list[H5Dataset]:
    """Refuse anything but a readable Keras 3 weights-only ``.weights.h5`` file, and
    return the datasets it declares — reading metadata only, never an array.

    ``legacy`` (a registry entry with ``format = "keras-legacy-h5"``: Keras' ImageNet files)
    accepts Keras' legacy weights-only ``.h5`` layout instead: ``layer_names`` and each
    layer's ``weight_names`` attributes, no model config. Keras loads it in layer order.

    A full model (``.keras`` archive, or an ``.h5`` with a model config) is never
    deserialised; links to other files, external or virtual datasets are refused; a
    truncated or damaged file is one WeightsError naming it.
    """
    path = Path(path)
    label = label or str(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
    except OSError as exc:
        raise WeightsError(
            f"{label}: cannot read {path}: {exc.strerror or exc}",
            "check the path (a .weights.h5 file) and its permissions",
        ) from None
    if head.startswith(b"PK") or path.suffix == ".keras":
        raise WeightsError(
            f"{label}: {path.name} is a .keras model archive; zoo loads weights only, never a "
            "full model file (it could carry code)",
            _FIX_FORMAT,
        )
    import h5py

    try:
        is_hdf5 = h5py.is_hdf5(str(path))
    except (OSError, ValueError, RuntimeError):
        is_hdf5 = False
    if not is_hdf5:
        raise WeightsError(f"{label}: {path} is not an HDF5 .weights.h5 file", _FIX_FORMAT)
    try:
        with h5py.File(path, "r") as f:
            if "model_config" in f.attrs or "model_weights" in f:
                raise WeightsError(
                    f"{label}: {path.name} is a full Keras model (.h5 with a model config); zoo "
                    "loads weights only, never a full model file (it could carry code)",
                    _FIX_FORMAT,
                )
            if legacy:
                if not any(k.startswith("layer_names") for k in f.attrs):
                    raise WeightsError(
                        f"{label}: {path.name} is not a legacy Keras weights file (no "
                        "'layer_names' attribute)",
                        "the registry entry declares format = 'keras-legacy-h5'; fix it",
                    )
            elif "layers" not in f and "vars" not in f:
                raise WeightsError(
                    f"{label}: {path.name} is not a Keras 3 weights file (no 'layers' group)",
                    "re-save it with Keras 3: model.save_weights('name.weights.h5')",
                )
            datasets = _datasets(f, label, path)
    except WeightsError:
        raise
    except (OSError, RuntimeError, KeyError, ValueError, TypeError) as exc:
        raise _damaged(label, path, _h5_reason(exc)) from None
    if legacy and (not path.name.endswith(".h5") or path.name.endswith(WEIGHTS_SUFFIX)):
        raise WeightsError(
            f"{label}: {path.name}: a legacy weights file must end in .h5, not {WEIGHTS_SUFFIX}",
            "Keras picks the legacy loader by that suffix",
        )
    if not legacy and not path.name.endswith(WEIGHTS_SUFFIX):
        raise WeightsError(
            f"{label}: {path.name} is a weights file without the {WEIGHTS_SUFFIX} suffix",
            f"rename it to end with {WEIGHTS_SUFFIX} (Keras requires it)",
        )
    return datasets


def _datasets(root: Any, label: str, path: Path) -> list[H5Dataset]:
    """Every dataset under ``root`` from the metadata; refuses links out of the file."""
    import h5py

    out: list[H5Dataset] = []
    seen = 0
    stack: list[tuple[str, Any, int]] = [("", root, 0)]
    while stack:
        prefix, group, depth = stack.pop()
        for key in group:
            seen += 1
            name = f"{prefix}/{key}"
            if seen > _MAX_H5_OBJECTS:
                raise _damaged(label, path, f"more than {_MAX_H5_OBJECTS} objects")
            link = group.get(key, getlink=True)
            if isinstance(link, (h5py.ExternalLink, h5py.SoftLink)):
                kind = "another file" if isinstance(link, h5py.ExternalLink) else "a soft link"
                raise _damaged(label, path, f"{name} links to {kind} (Keras writes none)")
            item = group[key]
            if isinstance(item, h5py.Group):
                if depth >= _MAX_H5_DEPTH:
                    raise _damaged(label, path, f"groups nested deeper than {_MAX_H5_DEPTH}")
                stack.append((name, item, depth + 1))
            elif isinstance(item, h5py.Dataset):
                if item.is_virtual or item.external:
                    raise _damaged(label, path, f"{name} reads its data from other files")
                if item.shape is None:
                    raise _damaged(label, path, f"{name} has no shape")
                out.append(H5Dataset(name, tuple(int(d) for d in item.shape), item.dtype))
    return out


def check_weights_fit(
    model: keras.Model,
    path: Path,
    label: str = "",
    datasets: list[H5Dataset] | None = None,
) -> None:
    """Compare every dataset of a weights file with ``model`` before any array is read.

    Each dataset Keras may read into ``model`` must be numeric, have the shape of one of
    the model's variables, and all of them together no more values than the model has; the
    optimizer's datasets count only when the model has an optimizer (else Keras ignores
    them). Raises one WeightsError naming the file and the first mismatch.
    """
    path = Path(path)
    label = label or str(path)
    if datasets is None:
        datasets = check_weights_file(path, label)
    variables = {id(v): v for v in [*model.weights, *model.variables]}
    shapes = {_shape(v) for v in variables.values()}
    need = sum(_count(_shape(v)) for v in variables.values())
    optimizer = getattr(model, "optimizer", None)
    opt_shapes = set(shapes) | {()}
    opt_need = 64 + 4 * sum(_count(_shape(v)) for v in model.trainable_weights)
    if optimizer is not None:
        opt_vars = list(getattr(optimizer, "variables", []) or [])
        opt_shapes |= {_shape(v) for v in opt_vars}
        opt_need = max(opt_need, 64 + sum(_count(_shape(v)) for v in opt_vars))
    largest = max(shapes, key=_count, default=())
    where = f"{_prefix(label, path)}the weights in {path} do not fit model '{model.name}'"
    hint = "it was saved from another model or other hyper-parameters; nothing was read"
    totals = {"model": 0, "optimizer": 0}
    for item in datasets:
        part = "optimizer" if item.name.startswith("/optimizer/") else "model"
        if part == "optimizer" and optimizer is None:
            continue  # a model without an optimizer never reads these
        kind, size = item.dtype.kind, item.dtype.itemsize
        if kind not in "fiub" or size > 8:
            raise WeightsError(f"{where}: {item.name} holds {item.dtype}, not numbers", hint)
        allowed = opt_shapes if part == "optimizer" else shapes
        if item.shape not in allowed:
            raise WeightsError(
                f"{where}: {item.name} has shape {item.shape}, which no variable of the "
                f"model has (its largest is {largest})",
                hint,
            )
        totals[part] += item.size
    if totals["model"] > need:
        raise WeightsError(
            f"{where}: the file declares {totals['model']} values, the model has {need}", hint
        )
    if totals["optimizer"] > opt_need:
        raise WeightsError(
            f"{where}: the file declares {totals['optimizer']} optimizer values, the "
            f"optimizer needs at most {opt_need}",
            hint,
        )


def _shape(variable: Any) -> tuple[int, ...]:
    return tuple(int(d) for d in variable.shape)


def _count(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def load_weights_file(
    model: keras.Model,
    path: str | os.PathLike[str],
    label: str = "",
    *,
    mismatch: str = "",
    legacy: bool = False,
) -> None:
    """``model.load_weights(path)``, the one way zoo reads a ``.weights.h5`` file: the
    format and every dataset's shape are checked from the metadata first, and any failure
    (damaged file, mismatch) is one WeightsError naming the file. Keras's warnings are kept
    when the load succeeds. ``mismatch`` describes the model for a shape mismatch."""
    import warnings

    path = Path(path)
    label = label or str(path)
    check_weights_fit(model, path, label, check_weights_file(path, label, legacy=legacy))
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model.load_weights(str(path))
    except (ValueError, KeyError) as exc:
        raise WeightsError(
            f"{_prefix(label, path)}the weights in {path} do not fit model '{model.name}'"
            + (f" ({mismatch})" if mismatch else "")
            + f": {_first_lines(exc)}",
            "they were saved from a model with other hyper-parameters; pass those "
            "(e.g. zoo.load(name, weights, num_classes=N))",
        ) from None
    except (OSError, RuntimeError) as exc:  # h5py: truncated or corrupt data blocks
        raise _damaged(label, path, _h5_reason(exc)) from None
    for item in caught:
        warnings.warn_explicit(item.message, item.category, item.filename, item.lineno)


# -------------------------------------------------------------------------------- loading
def _same_shape_config(a: Config, b: Config) -> bool:
    return dict(a.values) == dict(b.values)


def _load_exact(model: keras.Model, spec: _Weights, config: Config) -> None:
    """Load ``spec`` into ``model`` (see :func:`load_weights_file`)."""
    load_weights_file(
        model, spec.path, spec.label, mismatch=_fmt_overrides(config.values), legacy=spec.legacy
    )


def _first_lines(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = " ".join(lines[:2]).split(" Target variable:")[0]
    return text if len(text) <= 400 else text[:397] + "..."


def _fmt_overrides(values: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in values.items()) or "its preset"


def _shapes(layer: Any) -> list[tuple[int, ...]]:
    return [tuple(int(d) for d in w.shape) for w in layer.weights]


def _pairs(source: keras.Model, target: keras.Model) -> dict[int, Any]:
    """Pair each weighted target layer with a source layer: by position when both models
    have the same sequence of weighted layer types, else by layer name."""
    src = [layer for layer in source.layers if layer.weights]
    tgt = [layer for layer in target.layers if layer.weights]
    if [type(x) for x in src] == [type(x) for x in tgt]:
        return {id(t): s for t, s in zip(tgt, src, strict=True)}
    by_name = {layer.name: layer for layer in src}
    return {id(t): by_name[t.name] for t in tgt if t.name in by_name}


def _finalize(layer: Any) -> None:
    """A preprocessing layer (Normalization, EfficientNet's) reads its statistics into
    constants in ``finalize_state``: Keras' loaders call it after assigning the variables,
    ``set_weights`` does not."""
    finalize = getattr(layer, "finalize_state", None)
    if callable(finalize):
        finalize()


def _copy_matching(source: keras.Model, target: keras.Model, report: LoadReport) -> None:
    pairs = _pairs(source, target)
    used: set[int] = set()
    for layer in (x for x in target.layers if x.weights):
        src = pairs.get(id(layer))
        if src is None:
            report.reinitialised[layer.name] = "not in the weights file"
            continue
        used.add(id(src))
        have, want = _shapes(src), _shapes(layer)
        if have == want:
            layer.set_weights(src.get_weights())
            _finalize(layer)
            report.loaded.append(layer.name)
            continue
        diff = next(((h, w) for h, w in zip(have, want, strict=False) if h != w), None)
        why = (
            f"shape {diff[0]} in the file, {diff[1]} in the model"
            if diff
            else f"{len(have)} weights in the file, {len(want)} in the model"
        )
        report.skipped[src.name] = why
        report.reinitialised[layer.name] = why
    for layer in source.layers:
        if layer.weights and id(layer) not in used:
            report.skipped[layer.name] = "no matching layer in the model"

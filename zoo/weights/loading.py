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
    check_weights_file(spec.path, spec.label)

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
    check_weights_file(spec.path, spec.label)
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
    # make_config applies ref.weights.hparams itself.
    return ref, _Weights(label=label, path=fetch(ref.weights, label), layers=[])


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
def check_weights_file(path: Path, label: str = "") -> None:
    """Refuse anything but a Keras 3 weights-only ``.weights.h5`` file, without loading it.

    Reads only magic bytes and HDF5 attributes/group names: a full model (``.keras``
    archive, or an ``.h5`` with a model config) is never deserialised.
    """
    label = label or str(path)
    fix = "save weights only: model.save_weights('name.weights.h5')"
    with open(path, "rb") as fh:
        head = fh.read(8)
    if head.startswith(b"PK") or path.suffix == ".keras":
        raise WeightsError(
            f"{label}: {path.name} is a .keras model archive; zoo loads weights only, never a "
            "full model file (it could carry code)",
            fix,
        )
    import h5py

    if not h5py.is_hdf5(str(path)):
        raise WeightsError(f"{label}: {path} is not an HDF5 .weights.h5 file", fix)
    with h5py.File(path, "r") as f:
        if "model_config" in f.attrs or "model_weights" in f:
            raise WeightsError(
                f"{label}: {path.name} is a full Keras model (.h5 with a model config); zoo "
                "loads weights only, never a full model file (it could carry code)",
                fix,
            )
        if "layers" not in f and "vars" not in f:
            raise WeightsError(
                f"{label}: {path.name} is not a Keras 3 weights file (no 'layers' group)",
                "re-save it with Keras 3: model.save_weights('name.weights.h5')",
            )
    if not path.name.endswith(WEIGHTS_SUFFIX):
        raise WeightsError(
            f"{label}: {path.name} is a weights file without the {WEIGHTS_SUFFIX} suffix",
            f"rename it to end with {WEIGHTS_SUFFIX} (Keras requires it)",
        )


# -------------------------------------------------------------------------------- loading
def _same_shape_config(a: Config, b: Config) -> bool:
    return dict(a.values) == dict(b.values)


def _load_exact(model: keras.Model, spec: _Weights, config: Config) -> None:
    """``model.load_weights``; a mismatch becomes one WeightsError instead of Keras's
    multi-line error and the warnings it emits on the way (kept when the load succeeds)."""
    import warnings

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model.load_weights(str(spec.path))
        for item in caught:
            warnings.warn_explicit(item.message, item.category, item.filename, item.lineno)
    except (ValueError, KeyError, OSError) as exc:
        raise WeightsError(
            f"weights {spec.label} do not fit model '{config.model}' "
            f"({_fmt_overrides(config.values)}): {_first_lines(exc)}",
            "they were saved from a model with other hyper-parameters; pass those "
            "(e.g. zoo.load(name, weights, num_classes=N))",
        ) from None


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

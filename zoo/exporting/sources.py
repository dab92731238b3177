"""What ``zoo.export`` exports: a keras.Model, a model name, ``name:tag``, a run folder or a
``zoo.Run``, resolved to the model, its validated config and its catalog entry."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo.errors import ExportError

if TYPE_CHECKING:
    from zoo.catalog import ModelRef
    from zoo.catalog.hparams import Config


@dataclass
class Source:
    model: Any
    config: Config | None
    ref: ModelRef | None
    label: str  # what the user asked for, for messages
    stem: str  # default file name
    data: Path | None = None  # a run's --data (None: the default dataset), for parity
    state: dict[str, Any] | None = None  # its encoding state (class names, vocabulary...)


def resolve_source(model_or_name: Any, config: Config | None) -> Source:
    import keras

    from zoo.catalog import get_catalog

    run_type = _run_type()
    if run_type is not None and isinstance(model_or_name, run_type):  # what zoo.train returns
        if model_or_name.model is None:
            return _run_source(Path(model_or_name.path))
        run_config = config if config is not None else model_or_name.config
        ref = get_catalog().resolve(run_config.model) if run_config is not None else None
        label = str(model_or_name.path)
        data, state = _run_data(Path(label))
        return Source(model_or_name.model, run_config, ref, label, Path(label).name, data, state)
    if isinstance(model_or_name, keras.Model):
        ref = get_catalog().resolve(config.model) if config is not None else None
        name = model_or_name.name or "model"
        return Source(model_or_name, config, ref, f"keras.Model '{name}'", name)
    if not isinstance(model_or_name, (str, os.PathLike)):
        raise ExportError(
            f"cannot export a {type(model_or_name).__name__}",
            "pass a keras.Model, a model name (cnn, cnn:digits), a run folder or a zoo.Run",
        )
    text = os.fspath(model_or_name)
    if Path(text).is_dir():
        return _run_source(Path(text))
    if os.sep in text or text.endswith(".toml"):
        raise ExportError(f"{text}: no such run folder", "`zoo list` shows model names")
    ref = get_catalog().resolve(text)
    if ref.weights is not None:
        return _pretrained_source(ref, text)
    from zoo.building import build_model
    from zoo.catalog.config import make_config

    cfg = make_config(ref)
    return Source(build_model(ref, cfg, compile=False), cfg, ref, text, ref.model.name)


def _run_type() -> type | None:
    try:
        from zoo.runs import Run
    except ImportError:
        return None
    return Run


def _run_data(path: Path) -> tuple[Path | None, dict[str, Any] | None]:
    """The data a run folder was trained on and its encoding state (parity samples it)."""
    try:
        from zoo import runs

        run = runs.read_run(path)
    except Exception:  # noqa: BLE001 - no readable run folder: the default dataset
        return None, None
    return (Path(run.data) if run.data else None), (run.state or None)


def _pretrained_source(ref: ModelRef, text: str) -> Source:
    from zoo.catalog.config import make_config

    try:
        from zoo.weights.loading import load
    except ImportError:
        raise ExportError(
            f"cannot load pretrained weights for '{text}': zoo.weights.loading is not available",
            f"export '{ref.model.name}' (fresh weights) or a run folder instead",
        ) from None
    assert ref.weights is not None
    model = load(ref.model.name, weights=ref.weights.name, compile=False)
    return Source(model, make_config(ref), ref, text, f"{ref.model.name}-{ref.weights.name}")


def _run_source(path: Path) -> Source:
    try:
        from zoo import runs
    except ImportError:
        raise ExportError(
            f"{path}: exporting a run folder needs zoo.runs, which is not available",
            "export a model name instead",
        ) from None
    if not runs.is_run_dir(path):
        raise ExportError(
            f"{path} is a folder but not a zoo run folder (no run.toml)",
            "pass a run folder written by `zoo train`, or a model name",
        )
    from zoo.building import build_model
    from zoo.catalog import get_catalog
    from zoo.catalog.config import make_config
    from zoo.weights.loading import load_weights_file

    # read_run says why a run cannot be used (unfinished, crashed, weights missing) and
    # what to do; load_weights_file checks the file before reading it.
    run = runs.read_run(path)
    ref = get_catalog().resolve(run.model)
    cfg = make_config(ref, [(f"run {path.name}", dict(run.hparams))])
    model = build_model(ref, cfg, compile=False)
    load_weights_file(model, run.weights_path, f"run {path}")
    data = Path(run.data) if run.data else None
    return Source(model, cfg, ref, str(path), path.resolve().name, data, run.state or None)

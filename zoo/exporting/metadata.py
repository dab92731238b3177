"""What a deployment needs besides the graph, written with every exported artifact.

The metadata is one JSON document: the model, its architecture, task and hyper-parameters,
the input and output signature, and the **data state** of the data the weights were trained
on — class names, vocabulary, normalisation statistics, id maps (a run's
``data_state.json``; for pretrained weights, the state of the dataset their registry entry
names). Where it goes depends on the format:

=============  ==========================================================================
keras          ``zoo.json`` inside the ``.keras`` zip (Keras ignores the extra member)
onnx           ``metadata_props`` key ``zoo`` of the ONNX model
savedmodel     ``NAME/1/assets.extra/zoo.json`` (the folder TF Serving leaves to users)
litert, other  ``<artifact>.zoo.json`` beside the artifact
=============  ==========================================================================
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo.exporting.formats import first_line

if TYPE_CHECKING:
    from zoo.exporting.sources import Source

KEY = "zoo"  # ONNX metadata_props key
MEMBER = "zoo.json"  # inside a .keras zip, and in a SavedModel's assets.extra
SIDECAR_SUFFIX = ".zoo.json"


@dataclass
class Placement:
    """Where an export put its metadata."""

    location: str  # "keras zip member zoo.json", "onnx metadata_props['zoo']", ...
    sidecar: Path | None = None  # a staged file beside the artifact, moved with it

    def describe(self, dest: Path) -> str:
        if self.sidecar is not None:
            return str(sidecar_path(dest))
        return self.location


def sidecar_path(dest: Path) -> Path:
    return dest.with_name(dest.name + SIDECAR_SUFFIX)


def data_state(source: Source) -> tuple[dict[str, Any] | None, str]:
    """The encoding state of the data the model's weights were trained on, and where it
    comes from; ``None`` when it is not known (a bare keras.Model)."""
    state = getattr(source, "state", None)
    if state:
        return dict(state), "the run's data_state.json"
    from zoo.runs import is_run_dir, read_run

    if is_run_dir(source.label):  # a run folder or the Run zoo.train returned
        return dict(read_run(source.label).state or {}), "the run's data_state.json"
    ref, config = source.ref, source.config
    if ref is None or config is None or _is_bare(source):
        return None, "unknown: a keras.Model does not say what it was trained on"
    from zoo.catalog import get_catalog

    try:
        hook = get_catalog().host.owner_hook(ref.plugin, "zoo_dataset")
        dataset = hook(config=config, path=None, state=None)
    except Exception as exc:  # noqa: BLE001 - no default dataset: no state to carry
        return None, f"unknown: the default dataset is unavailable ({first_line(exc)})"
    if ref.weights is not None and ref.weights.dataset not in ("", dataset.name):
        return None, f"unknown: the weights were trained on '{ref.weights.dataset}'"
    return dict(dataset.state or {}), f"the default dataset '{dataset.name}'"


def _is_bare(source: Source) -> bool:
    return source.label.startswith("keras.Model")


def build_metadata(source: Source, format: str) -> dict[str, Any]:
    """The metadata document of an export of ``source`` to ``format``."""
    import keras

    from zoo import __version__

    def info(t: Any) -> dict[str, Any]:
        shape = [None if d is None else int(d) for d in t.shape]
        return {"name": t.name, "shape": shape, "dtype": keras.backend.standardize_dtype(t.dtype)}

    ref, config = source.ref, source.config
    state, origin = data_state(source)
    model = source.model
    return {
        "zoo_version": __version__,
        "format": format,
        "source": source.label,
        "model": ref.model.name if ref is not None else None,
        "weights": ref.weights.name if ref is not None and ref.weights is not None else None,
        "architecture": ref.architecture.name if ref is not None else None,
        "task": ref.architecture.task if ref is not None else None,
        "plugin": ref.plugin if ref is not None else None,
        "hparams": dict(config.values) if config is not None else {},
        "inputs": [info(t) for t in model.inputs],
        "outputs": [info(t) for t in model.outputs],
        "data_state": state,
        "data_state_from": origin,
    }


def dumps(metadata: dict[str, Any]) -> str:
    return json.dumps(metadata, indent=1, sort_keys=False, default=_jsonable)


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    return str(value)


def write_metadata(staged: Path, format: str, metadata: dict[str, Any]) -> Placement:
    """Put ``metadata`` into or beside the staged artifact."""
    text = dumps(metadata)
    if format == "keras":
        with zipfile.ZipFile(staged, "a") as archive:
            archive.writestr(MEMBER, text)
        return Placement(f"{MEMBER} inside the .keras zip")
    if format == "onnx":
        import onnx

        model = onnx.load(str(staged))
        kept = [p for p in model.metadata_props if p.key != KEY]
        del model.metadata_props[:]
        model.metadata_props.extend(kept)
        model.metadata_props.add(key=KEY, value=text)
        onnx.save(model, str(staged))
        return Placement(f"ONNX metadata_props['{KEY}']")
    if format == "savedmodel":
        from zoo.exporting.formats import savedmodel_version_dir

        extra = savedmodel_version_dir(staged) / "assets.extra"
        extra.mkdir(exist_ok=True)
        (extra / MEMBER).write_text(text, encoding="utf-8")
        version = savedmodel_version_dir(staged).name
        return Placement(f"{version}/assets.extra/{MEMBER} in the SavedModel folder")
    sidecar = staged.with_name(staged.name + SIDECAR_SUFFIX)
    sidecar.write_text(text, encoding="utf-8")
    return Placement(f"<artifact>{SIDECAR_SUFFIX}", sidecar)


def read_metadata(path: str | Path, format: str | None = None) -> dict[str, Any] | None:
    """The metadata an export wrote with the artifact at ``path`` (``None`` if none)."""
    path = Path(path)
    sidecar = sidecar_path(path)
    if sidecar.is_file():
        return json.loads(sidecar.read_text(encoding="utf-8"))
    if path.is_dir():
        from zoo.exporting.formats import savedmodel_version_dir

        member = savedmodel_version_dir(path) / "assets.extra" / MEMBER
        return json.loads(member.read_text(encoding="utf-8")) if member.is_file() else None
    if path.suffix == ".keras":
        with zipfile.ZipFile(path) as archive:
            if MEMBER in archive.namelist():
                return json.loads(archive.read(MEMBER))
        return None
    if path.suffix == ".onnx":
        import onnx

        model = onnx.load(str(path), load_external_data=False)
        for prop in model.metadata_props:
            if prop.key == KEY:
                return json.loads(prop.value)
    return None

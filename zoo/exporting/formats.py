"""The four built-in export formats: writers (Keras' own save/export) and reloaders.

Each reloader opens the artifact with the runtime a deployment would use (Keras with
``safe_mode=True``, ``tf.saved_model.load``, ONNX Runtime, the LiteRT interpreter) and returns
an :class:`Artifact`: a ``predict(batch) -> numpy`` callable plus the artifact's input and
output signature as the runtime reports it.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zoo._compat import register_tf2onnx_erfc
from zoo.errors import ExportError

ONNX_EXTRA_HINT = "pip install 'keras-zoo[onnx]'"
# A SavedModel is a folder; the others are single files whose suffix Keras requires.
SUFFIXES = {"keras": ".keras", "savedmodel": "", "onnx": ".onnx", "litert": ".tflite"}
# Largest |artifact - keras| allowed per output unit. LiteRT fuses and reorders float ops
# (XNNPACK kernels), so it gets a looser bound.
TOLERANCES = {"keras": 1e-5, "savedmodel": 1e-4, "onnx": 1e-4, "litert": 1e-3}
# Default batch dimension of each format's signature: ``None`` is dynamic. LiteRT gets a
# static batch of 1 because a dynamic batch makes the converter emit Flex (TensorList) ops
# for recurrent layers that the LiteRT interpreter cannot run.
DEFAULT_BATCH = {"keras": None, "savedmodel": None, "onnx": None, "litert": 1}
# A SavedModel export is a model folder holding version folders, as TF Serving expects
# (--model_base_path=NAME serves NAME/<highest version>/).
SAVEDMODEL_VERSION = "1"


@dataclass
class TensorInfo:
    name: str
    shape: list[int | None]
    dtype: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "shape": list(self.shape), "dtype": self.dtype}


@dataclass
class Artifact:
    """A reloaded artifact: ``predict`` maps a batch (array or dict of arrays) to numpy."""

    predict: Callable[[Any], Any]
    inputs: list[TensorInfo] = field(default_factory=list)
    outputs: list[TensorInfo] = field(default_factory=list)
    batch_size: int | None = None  # static batch dimension of the signature, if any


# -- input signatures -------------------------------------------------------------------------
def input_structure(model: Any) -> Any:
    """The model's symbolic inputs in the structure ``model(...)`` takes (tensor, list, dict)."""
    try:
        return model.input
    except (AttributeError, ValueError) as exc:
        raise ExportError(
            f"model '{model.name}' has no defined inputs ({exc})",
            "build the model (call it once on data) before exporting",
        ) from None


def tensor_specs(model: Any, batch_size: int | None) -> list[Any]:
    """``[structure of tf.TensorSpec]`` with the batch dimension set, input names kept."""
    import keras
    import tensorflow as tf

    def spec(t: Any) -> Any:
        shape = (batch_size, *tuple(t.shape)[1:])
        return tf.TensorSpec(shape, dtype=keras.backend.standardize_dtype(t.dtype), name=t.name)

    return [keras.tree.map_structure(spec, input_structure(model))]


def _shape(dims: Any) -> list[int | None]:
    return [None if d is None or int(d) < 0 else int(d) for d in dims]


# -- writers -------------------------------------------------------------------------------
def write(model: Any, path: Path, format: str, batch_size: int | None) -> Path:
    """Write ``model`` to ``path`` (which carries the format's suffix) with Keras' own code."""
    if format == "keras":
        model.save(str(path))
    elif format == "savedmodel":  # TF Serving's layout: NAME/1/saved_model.pb
        path.mkdir(parents=True, exist_ok=True)
        model.export(
            str(path / SAVEDMODEL_VERSION),
            format="tf_saved_model",
            input_signature=tensor_specs(model, batch_size),
            verbose=False,
        )
    elif format == "onnx":
        require_onnx()
        _quiet_tf2onnx()
        register_tf2onnx_erfc()  # exact GELU; see zoo._compat
        with warnings.catch_warnings():  # numpy 2 FutureWarnings from Keras' tf2onnx patch
            warnings.simplefilter("ignore", FutureWarning)
            model.export(
                str(path),
                format="onnx",
                input_signature=tensor_specs(model, batch_size),
                verbose=False,
            )
        _name_onnx_outputs(path)
    elif format == "litert":
        model.export(
            str(path),
            format="litert",
            input_signature=tensor_specs(model, batch_size),
            verbose=False,
        )
    else:  # pragma: no cover - callers check the name first
        raise ExportError(f"unknown built-in format '{format}'")
    return path


def require_onnx() -> None:
    """Raise the named-extra error unless tf2onnx, onnx and onnxruntime import."""
    missing = []
    for module in ("tf2onnx", "onnx", "onnxruntime"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise ExportError(
            f"ONNX export needs {', '.join(missing)}, which {'is' if len(missing) == 1 else 'are'}"
            " not installed",
            ONNX_EXTRA_HINT,
        )


def _quiet_tf2onnx() -> None:
    for name in ("tf2onnx", "tf2onnx.tfonnx", "tf2onnx.tf_utils", "tf2onnx.optimizer"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _name_onnx_outputs(path: Path) -> None:
    """Rename tf2onnx's graph outputs (``Identity:0``) to ``output_0``, ``output_1``, ... as in
    the SavedModel and LiteRT signatures, so a serving system sees the same names."""
    import onnx

    model = onnx.load(str(path))
    graph = model.graph
    renames = {out.name: f"output_{i}" for i, out in enumerate(graph.output)}
    if all(old == new for old, new in renames.items()):
        return
    for node in graph.node:
        node.output[:] = [renames.get(n, n) for n in node.output]
        node.input[:] = [renames.get(n, n) for n in node.input]
    for out in graph.output:
        out.name = renames[out.name]
    onnx.save(model, str(path))


# -- reloaders -----------------------------------------------------------------------------
def load(path: Path, format: str) -> Artifact:
    """Reload an artifact with its own runtime."""
    return {
        "keras": _load_keras,
        "savedmodel": _load_savedmodel,
        "onnx": _load_onnx,
        "litert": _load_litert,
    }[format](path)


def _load_keras(path: Path) -> Artifact:
    import keras

    try:
        model = keras.saving.load_model(str(path), safe_mode=True, compile=False)
    except Exception as exc:  # noqa: BLE001 - unregistered custom layers, lambdas, ...
        raise ExportError(
            f"the .keras file does not reload with safe_mode=True: {type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''}",
            "register custom layers with keras.saving.register_keras_serializable",
        ) from None

    def predict(x: Any) -> Any:
        return keras.tree.map_structure(keras.ops.convert_to_numpy, model(x, training=False))

    def info(t: Any) -> TensorInfo:
        return TensorInfo(t.name, _shape(t.shape), keras.backend.standardize_dtype(t.dtype))

    outputs = [info(t) for t in model.outputs]
    names = list(getattr(model, "output_names", None) or [])
    if len(names) == len(outputs):  # layer names, not generated keras_tensor_N
        for out, name in zip(outputs, names, strict=True):
            out.name = name
    return Artifact(predict, [info(t) for t in model.inputs], outputs)


def _load_savedmodel(path: Path) -> Artifact:
    import tensorflow as tf

    loaded = tf.saved_model.load(str(savedmodel_version_dir(path)))
    fn = loaded.signatures["serving_default"]
    _, kwargs = fn.structured_input_signature
    inputs = [TensorInfo(k, _shape(s.shape), s.dtype.name) for k, s in sorted(kwargs.items())]
    outputs = [
        TensorInfo(k, _shape(s.shape), s.dtype.name) for k, s in fn.structured_outputs.items()
    ]

    def predict(x: Any) -> Any:
        feed = _by_name(x, [i.name for i in inputs])
        result = fn(**{k: tf.constant(v) for k, v in feed.items()})
        return _single(result, [o.name for o in outputs])

    return Artifact(predict, inputs, outputs, _static_batch(inputs))


def _load_onnx(path: Path) -> Artifact:
    require_onnx()
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def info(arg: Any) -> TensorInfo:
        dims = [d if isinstance(d, int) else None for d in arg.shape]
        dtype = arg.type.removeprefix("tensor(").rstrip(")")
        return TensorInfo(arg.name, dims, _ONNX_DTYPES.get(dtype, dtype))

    inputs = [info(i) for i in session.get_inputs()]
    outputs = [info(o) for o in session.get_outputs()]

    def predict(x: Any) -> Any:
        feed = _by_name(x, [i.name for i in inputs])
        return session.run(None, feed)[0] if len(outputs) == 1 else session.run(None, feed)

    return Artifact(predict, inputs, outputs, _static_batch(inputs))


def litert_interpreter(path: Path) -> Any:
    """The LiteRT interpreter from ``ai-edge-litert`` if installed, else TensorFlow's own
    ``tf.lite.Interpreter`` (deprecated in favour of LiteRT but still shipped in TF 2.21)."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        import tensorflow as tf

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return tf.lite.Interpreter(model_path=str(path))
    return Interpreter(model_path=str(path))


def _load_litert(path: Path) -> Artifact:
    interpreter = litert_interpreter(path)
    try:
        runner = interpreter.get_signature_runner("serving_default")
    except Exception as exc:  # noqa: BLE001 - Flex ops the interpreter cannot run, ...
        raise _litert_error(exc) from None
    import numpy as np

    def info(name: str, d: dict[str, Any]) -> TensorInfo:
        return TensorInfo(name, _shape(d["shape_signature"]), np.dtype(d["dtype"]).name)

    inputs = [info(k, d) for k, d in sorted(runner.get_input_details().items())]
    outputs = [info(k, d) for k, d in runner.get_output_details().items()]

    def predict(x: Any) -> Any:
        feed = _by_name(x, [i.name for i in inputs])
        try:
            result = runner(**feed)
        except Exception as exc:  # noqa: BLE001
            raise _litert_error(exc) from None
        return _single(result, [o.name for o in outputs])

    return Artifact(predict, inputs, outputs, _static_batch(inputs))


_ONNX_DTYPES = {"float": "float32", "double": "float64", "float16": "float16"}


def _litert_error(exc: BaseException) -> ExportError:
    import re

    flex = sorted(set(re.findall(r"\bFlex\w+", str(exc))))
    if flex:
        return ExportError(
            "the LiteRT model needs TensorFlow Flex ops the LiteRT interpreter cannot run ("
            + ", ".join(flex)
            + "); a dynamic batch makes the converter keep recurrent loops as TensorLists",
            "export with a static batch size: --batch-size 1 (the LiteRT default)",
        )
    return ExportError(
        f"the LiteRT interpreter failed to run the exported model: {first_line(exc)}",
        "export with a static batch size (--batch-size 1)",
    )


# -- SavedModel folders ---------------------------------------------------------------------
def savedmodel_version_dir(path: Path) -> Path:
    """The folder holding ``saved_model.pb``: ``path`` itself for a flat SavedModel, else
    its highest numbered version folder (``NAME/1``), else ``NAME/1`` to be written."""
    path = Path(path)
    if (path / "saved_model.pb").is_file():
        return path
    versions = _versions(path)
    return versions[-1] if versions else path / SAVEDMODEL_VERSION


def is_savedmodel(path: Path) -> bool:
    """A flat SavedModel folder, or a model folder of numbered SavedModel versions."""
    path = Path(path)
    return (path / "saved_model.pb").is_file() or bool(_versions(path))


def to_versioned_layout(path: Path) -> None:
    """Move a flat SavedModel (written by a plugin's own ``zoo_export``) into ``path/1/``."""
    import shutil

    path = Path(path)
    if not (path / "saved_model.pb").is_file():
        return
    version = path / f".{SAVEDMODEL_VERSION}.moving"
    version.mkdir()
    for item in list(path.iterdir()):
        if item != version:
            shutil.move(str(item), str(version / item.name))
    version.rename(path / SAVEDMODEL_VERSION)


def _versions(path: Path) -> list[Path]:
    if not path.is_dir():
        return []
    found = [p for p in path.iterdir() if p.name.isdigit() and (p / "saved_model.pb").is_file()]
    return sorted(found, key=lambda p: int(p.name))


# -- helpers -------------------------------------------------------------------------------
def _by_name(x: Any, names: list[str]) -> dict[str, Any]:
    """Feed dict for a runtime whose inputs are ``names``."""
    if isinstance(x, dict):
        missing = [n for n in names if n not in x]
        if missing:
            raise ExportError(
                f"the exported signature expects inputs {names}, the sample has {sorted(x)}",
                "keep the keras.Input names",
            )
        return {n: x[n] for n in names}
    if len(names) != 1:
        raise ExportError(f"the exported signature expects inputs {names}, got one array")
    return {names[0]: x}


def _single(result: Any, names: list[str]) -> Any:
    import numpy as np

    values = [np.asarray(result[n]) for n in names]
    return values[0] if len(values) == 1 else values


def _static_batch(inputs: list[TensorInfo]) -> int | None:
    for t in inputs:
        if t.shape and t.shape[0] is not None:
            return int(t.shape[0])
    return None


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"

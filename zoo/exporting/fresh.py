"""The parity check in a fresh interpreter that does not import zoo.

A ``.keras`` file or a SavedModel reloaded in the exporting process can lean on what that
process has imported (zoo's plugins register their Keras classes there), so such an export
could pass its check and still fail for the user. This module runs the artifact's own
runtime — ``keras.saving.load_model(safe_mode=True)`` or ``tf.saved_model.load`` — in a new
``python`` process on the saved sample batch and returns its outputs for the comparison. That
process imports only the runtime and the modules the architecture declares in its registry
entry (``keras_modules = ["my_pkg.layers"]``, for a plugin with its own Keras layers).

ONNX Runtime and the LiteRT interpreter cannot run Python code from zoo at all, so their
in-process reload already proves the artifact stands alone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from zoo.errors import ExportError
from zoo.exporting.formats import Artifact, savedmodel_version_dir

FRESH_FORMATS = ("keras", "savedmodel")
TIMEOUT_S = 600

# Runs in the fresh interpreter: stdlib, numpy and the artifact's runtime only.
_SCRIPT = r"""
import importlib, json, sys, traceback
import numpy as np

spec = json.loads(sys.argv[1])
try:
    for module in spec["modules"]:
        importlib.import_module(module)
    with np.load(spec["inputs"], allow_pickle=False) as saved:
        arrays = [saved[f"i{k}"] for k in range(len(spec["names"]))]
    named = dict(zip(spec["names"], arrays))
    if spec["format"] == "keras":
        import keras

        model = keras.saving.load_model(spec["artifact"], safe_mode=True, compile=False)

        def predict(batch):
            x = batch
            if spec["kind"] != "dict":
                x = list(batch.values())
                x = x if spec["kind"] == "list" else x[0]
            out = model(x, training=False)
            return [keras.ops.convert_to_numpy(o) for o in keras.tree.flatten(out)]
    else:
        import tensorflow as tf

        fn = tf.saved_model.load(spec["artifact"]).signatures["serving_default"]
        inputs = sorted(fn.structured_input_signature[1])
        outputs = list(fn.structured_outputs)

        def predict(batch):
            if len(inputs) == 1 and len(batch) == 1:
                feed = {inputs[0]: next(iter(batch.values()))}
            else:
                feed = {name: batch[name] for name in inputs}
            result = fn(**{k: tf.constant(v) for k, v in feed.items()})
            return [np.asarray(result[name]) for name in outputs]

    n = len(arrays[0])
    size = spec["batch_size"] or n
    chunks = []
    for start in range(0, n, size):
        part = {k: v[start : start + size] for k, v in named.items()}
        short = size - len(next(iter(part.values())))
        if short:  # a static batch: pad the last chunk with copies of its last row
            part = {
                k: np.concatenate([v, np.repeat(v[-1:], short, axis=0)]) for k, v in part.items()
            }
        chunks.append([o[: size - short] for o in predict(part)])
    outputs = [np.concatenate(parts) for parts in zip(*chunks)]
    np.savez(spec["outputs"], *outputs)
    print(json.dumps({"ok": True, "zoo_imported": "zoo" in sys.modules}))
except BaseException as exc:  # noqa: BLE001 - reported to the exporting process
    import re

    text = str(exc).strip()
    cause = re.search(r"Could not locate (class|function) '[^']+'", text)  # buried by Keras
    line = cause.group(0) if cause else (text.splitlines() or [""])[0]
    print(json.dumps({"ok": False, "error": f"{type(exc).__name__}: {line}"}))
    traceback.print_exc()
    sys.exit(3)
"""


def keras_modules(ref: Any, model: Any) -> list[str]:
    """The modules the fresh interpreter imports before loading: the architecture's
    ``keras_modules``; for a bare ``keras.Model``, the importable modules of its own
    (non-Keras) layer classes."""
    if ref is not None:
        return list(getattr(ref.architecture, "keras_modules", []) or [])
    found: list[str] = []

    def walk(layer: Any) -> Any:
        for inner in getattr(layer, "layers", None) or []:  # nested models
            yield inner
            yield from walk(inner)

    for layer in [model, *walk(model)]:
        module = type(layer).__module__
        top = module.split(".", 1)[0]
        if top not in ("keras", "tensorflow", "tf_keras", "__main__") and module not in found:
            found.append(module)
    return found


def fresh_artifact(
    path: Path, format: str, x: Any, batch_size: int | None, modules: list[str], label: str
) -> Artifact:
    """Run the artifact at ``path`` on ``x`` in a fresh interpreter; an :class:`Artifact`
    whose ``predict`` returns those outputs (for ``check_parity``)."""
    import numpy as np

    if format == "savedmodel":  # NAME/1/: TF Serving's layout
        path = savedmodel_version_dir(path)
    if isinstance(x, dict):
        kind, names, arrays = "dict", list(x), list(x.values())
    elif isinstance(x, (list, tuple)):
        kind, names, arrays = "list", [f"input_{i}" for i in range(len(x))], list(x)
    else:
        kind, names, arrays = "array", ["input_0"], [x]
    with tempfile.TemporaryDirectory(prefix="zoo-parity-") as tmp:
        inputs, outputs = Path(tmp) / "inputs.npz", Path(tmp) / "outputs.npz"
        np.savez(inputs, **{f"i{k}": np.asarray(a) for k, a in enumerate(arrays)})
        spec = {
            "format": format,
            "artifact": str(path),
            "inputs": str(inputs),
            "outputs": str(outputs),
            "names": names,
            "kind": kind,
            "batch_size": batch_size,
            "modules": modules,
        }
        # The same import path as this process (a plugin found on sys.path is found there
        # too); what is imported is only the runtime and the declared modules.
        path_entries = [p for p in sys.path if p]
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(path_entries),
            "TF_CPP_MIN_LOG_LEVEL": "3",
            "PYTHONUNBUFFERED": "1",
        }
        try:
            proc = subprocess.run(
                [sys.executable, "-c", _SCRIPT, json.dumps(spec)],
                capture_output=True,
                text=True,
                env=env,
                timeout=TIMEOUT_S,
            )
        except subprocess.TimeoutExpired:
            raise ExportError(
                f"the {format} artifact did not answer within {TIMEOUT_S} s in a fresh interpreter",
                "try again on a less busy machine",
            ) from None
        report = _report(proc.stdout)
        if proc.returncode != 0 or not report.get("ok"):
            raise _load_error(format, modules, label, report.get("error") or _tail(proc.stderr))
        if report.get("zoo_imported") and not modules:
            raise ExportError(
                f"loading the {format} artifact imported zoo",
                "an artifact must load with its runtime alone",
            )
        with np.load(outputs, allow_pickle=False) as saved:
            got = [saved[f"arr_{k}"] for k in range(len(saved.files))]
    result = got[0] if len(got) == 1 else got
    return Artifact(predict=lambda _x: result, batch_size=None)


def _report(stdout: str) -> dict[str, Any]:
    for line in reversed(stdout.strip().splitlines()):
        try:
            found = json.loads(line)
        except ValueError:
            continue
        if isinstance(found, dict):
            return found
    return {}


def _tail(stderr: str) -> str:
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "the interpreter exited without a report"


def _load_error(format: str, modules: list[str], label: str, error: str) -> ExportError:
    where = "a fresh interpreter without zoo" + (
        f" (importing only {', '.join(modules)})" if modules else ""
    )
    if format == "keras":
        hint = (
            "build the model from keras.layers and keras.ops only, or declare the module that "
            'registers its custom layers: keras_modules = ["my_pkg.layers"] under '
            "[architectures.<name>] in the plugin's registry.toml (docs/plugins.md)"
        )
    else:
        hint = "the SavedModel must load with tf.saved_model.load alone"
    return ExportError(f"the {format} export of {label} does not load in {where}: {error}", hint)

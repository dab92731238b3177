"""The parity check of ``zoo.export``: a sample batch (the model's dataset, else seeded random
inputs), the Keras model's predictions, the artifact's, and the largest difference."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from zoo.errors import ExportError, ZooError
from zoo.exporting.formats import first_line

if TYPE_CHECKING:
    from zoo.catalog import ModelRef
    from zoo.catalog.hparams import Config

SAMPLES = 32  # examples in the parity batch


def check_parity(
    model: Any, artifact: Any, x: Any, format: str, tolerance: float
) -> tuple[float, float]:
    """Largest |artifact - Keras| on ``x``; raise ExportError above the format's tolerance.

    The tolerance is absolute for outputs up to 1 in magnitude (probabilities) and scales
    with the largest Keras output beyond that (logits, scores).
    """
    import keras
    import numpy as np

    tolerance = float(tolerance)
    expected = [np.asarray(a) for a in keras.tree.flatten(keras_predict(model, x))]
    try:
        got = [np.asarray(a) for a in keras.tree.flatten(run_batched(artifact, x))]
    except ZooError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise ExportError(
            f"the {format} artifact fails on the sample batch: {first_line(exc)}"
        ) from None
    if len(got) != len(expected) or any(
        g.shape != e.shape for g, e in zip(got, expected, strict=False)
    ):
        raise ExportError(
            f"the {format} artifact returns shapes {[g.shape for g in got]}, the Keras model "
            f"{[e.shape for e in expected]}",
            "the export changed the model's outputs",
        )
    pairs = list(zip(got, expected, strict=True))
    diff = max(float(np.max(np.abs(g.astype("float64") - e), initial=0.0)) for g, e in pairs)
    scale = max(1.0, *(float(np.max(np.abs(e), initial=0.0)) for e in expected))
    if not np.isfinite(diff) or diff > tolerance * scale:
        raise ExportError(
            f"the {format} artifact does not match the Keras model: largest difference "
            f"{diff:.3g} > tolerance {tolerance * scale:.3g}; nothing was written",
            "report it with the model name; other formats may still work",
        )
    return diff, tolerance


def keras_predict(model: Any, x: Any) -> Any:
    import keras

    return keras.tree.map_structure(keras.ops.convert_to_numpy, model(x, training=False))


def run_batched(artifact: Any, x: Any) -> Any:
    """Run the artifact over ``x``, in chunks of its static batch size (last one padded)."""
    import keras
    import numpy as np

    size = artifact.batch_size
    n = length(x)
    if size is None or size == n:
        return artifact.predict(x)
    chunks = []
    for start in range(0, n, size):
        part = keras.tree.map_structure(lambda a, s=start: a[s : s + size], x)
        short = size - length(part)
        if short:
            part = keras.tree.map_structure(
                lambda a, k=short: np.concatenate([a, np.repeat(a[-1:], k, axis=0)]), part
            )
        out = artifact.predict(part)
        chunks.append(keras.tree.map_structure(lambda a, k=short: np.asarray(a)[: size - k], out))
    return keras.tree.map_structure(lambda *parts: np.concatenate(parts), *chunks)


# -- sample batch ---------------------------------------------------------------------------
def sample_batch(
    model: Any,
    config: Config | None,
    ref: ModelRef | None,
    n: int = SAMPLES,
    *,
    data: Any = None,
    state: dict[str, Any] | None = None,
) -> tuple[Any, str]:
    """The first ``n`` examples of the model's data — ``data`` (a run's training data,
    encoded with its ``state``), else its default dataset — else seeded random inputs.

    Falls back to synthetic inputs for a bare keras.Model, and when the plugin's dataset is
    unavailable or does not fit the model's inputs (the reason is in the returned text).
    """
    reason = "no dataset known for a bare keras.Model"
    if ref is not None and config is not None:
        from zoo.catalog import get_catalog

        try:
            hook = get_catalog().host.owner_hook(ref.plugin, "zoo_dataset")
            dataset = hook(config=config, path=data, state=state if data is not None else None)
            x = _fit_inputs(model, dataset.x, n)
            keras_predict(model, x)  # ids beyond an embedding table fail here, not later
            return x, f"first {length(x)} examples of dataset '{dataset.name}'"
        except Exception as exc:  # noqa: BLE001 - a missing or broken dataset is not fatal
            reason = f"dataset unavailable: {first_line(exc)}"
    x = synthetic_inputs(model, n)
    return x, f"{n} seeded random inputs ({reason})"


def _fit_inputs(model: Any, data: Any, n: int) -> Any:
    """``data``'s first ``n`` rows, cast to and checked against the model's input specs."""
    import keras
    import numpy as np

    structure = _input_structure(model)
    specs = keras.tree.flatten(structure)
    if isinstance(data, dict):
        missing = [t.name for t in specs if t.name not in data]
        if missing:
            raise ValueError(f"dataset has no input(s) {missing}")
        picked = {t.name: data[t.name] for t in specs}
        arrays = [picked[t.name] for t in specs]
    else:
        if len(specs) != 1:
            raise ValueError(f"model takes {len(specs)} inputs, dataset gives one array")
        arrays = [data]
    fitted = []
    for t, a in zip(specs, arrays, strict=True):
        a = np.asarray(a)[:n].astype(keras.backend.standardize_dtype(t.dtype))
        want = tuple(t.shape)[1:]
        if len(a.shape) - 1 != len(want) or any(
            w is not None and w != h for w, h in zip(want, a.shape[1:], strict=True)
        ):
            raise ValueError(f"dataset shape {a.shape[1:]} does not fit input {t.name} {want}")
        fitted.append(a)
    return keras.tree.pack_sequence_as(structure, fitted)


def synthetic_inputs(model: Any, n: int = SAMPLES, seed: int = 0) -> Any:
    """Seeded random inputs for ``model.inputs``: floats in [0, 1), integer ids that every
    embedding table of the model accepts, booleans."""
    import keras
    import numpy as np

    rng = np.random.default_rng(seed)
    high = _smallest_vocabulary(model)

    def make(t: Any) -> Any:
        shape = (n, *(1 if d is None else int(d) for d in tuple(t.shape)[1:]))
        dtype = keras.backend.standardize_dtype(t.dtype)
        if dtype == "bool":
            return rng.random(shape) < 0.5
        if "int" in dtype:
            return rng.integers(0, high, size=shape).astype(dtype)
        return rng.random(shape).astype(dtype)

    return keras.tree.map_structure(make, _input_structure(model))


def _smallest_vocabulary(model: Any) -> int:
    import keras

    def walk(layer: Any) -> Any:
        for inner in getattr(layer, "layers", None) or []:  # nested models
            yield inner
            yield from walk(inner)

    sizes = [int(la.input_dim) for la in walk(model) if isinstance(la, keras.layers.Embedding)]
    return max(1, min(sizes)) if sizes else 2


def _input_structure(model: Any) -> Any:
    from zoo.exporting.formats import input_structure

    return input_structure(model)


def length(x: Any) -> int:
    if isinstance(x, dict):
        return int(len(next(iter(x.values()))))
    if isinstance(x, (list, tuple)):
        return int(len(x[0]))
    return int(len(x))

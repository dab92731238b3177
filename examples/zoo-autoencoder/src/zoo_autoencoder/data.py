"""Data for the autoencoder.

Default: scikit-learn's handwritten digits (1,797 real 8x8 images shipped inside the
scikit-learn wheel, no download), flattened to 64 pixels scaled to [0, 1].

User data: a ``.npz`` file (array ``x``, else its only array) or a numeric ``.csv`` file
(one example per row, an optional header row). Each example is flattened; values are
scaled to [0, 1] with the training data's minimum and maximum, which are saved in the run's
data state so that new data for a trained run is scaled the same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from zoo.plugin import Config, DataError, Dataset


def load(config: Config, path: Path | None, state: dict[str, Any] | None) -> Dataset:
    if path is None:
        return digits()
    return user_file(config, path, state)


def digits() -> Dataset:
    from sklearn.datasets import load_digits

    x = load_digits().data.astype("float32") / 16.0
    return Dataset(
        x=x,
        name="digits",
        description=f"scikit-learn digits: {len(x)} real 8x8 images as 64 pixels in [0, 1]",
        implied={"input_dim": int(x.shape[1])},
        state={"low": 0.0, "high": 16.0, "source": "digits"},
    )


def user_file(config: Config, path: Path, state: dict[str, Any] | None) -> Dataset:
    x = _read(path)
    if x.ndim < 2:
        raise DataError(f"{path}: expected one example per row, got shape {x.shape}")
    x = x.reshape(len(x), -1).astype("float64")
    if not np.all(np.isfinite(x)):
        raise DataError(f"{path}: contains NaN or infinite values", "clean the data first")
    if state is not None:
        low, high = float(state["low"]), float(state["high"])
        width = int(state.get("width", config.input_dim))
        if x.shape[1] != width:
            raise DataError(
                f"{path}: {x.shape[1]} values per example, the model was trained on {width}",
                "give data with the training data's layout",
            )
    else:
        low, high = float(x.min()), float(x.max())
    scale = (high - low) or 1.0
    x = ((x - low) / scale).astype("float32")
    return Dataset(
        x=x,
        name=path.stem,
        description=f"{len(x)} examples x {x.shape[1]} values from {path}",
        implied={"input_dim": int(x.shape[1])} if state is None else {},
        state=state
        if state is not None
        else {"low": low, "high": high, "width": int(x.shape[1]), "source": str(path)},
    )


def _read(path: Path) -> np.ndarray:
    suffix = path.suffix.lower()
    if suffix == ".npz":
        with np.load(path, allow_pickle=False) as arrays:
            names = list(arrays.files)
            if "x" in names:
                return arrays["x"]
            if len(names) == 1:
                return arrays[names[0]]
            raise DataError(
                f"{path}: has arrays {names} but no 'x'", "save the examples as array x"
            )
    if suffix == ".csv":
        try:
            return np.loadtxt(path, delimiter=",", ndmin=2)
        except ValueError:
            try:
                return np.loadtxt(path, delimiter=",", ndmin=2, skiprows=1)
            except ValueError as exc:
                raise DataError(
                    f"{path}: not a numeric CSV ({exc})", "give one row of numbers per example"
                ) from None
    raise DataError(f"{path}: unsupported file type '{suffix}'", "give a .npz or .csv file")

"""Data for the forecaster: one series cut into windows, in time order.

Example ``i`` is the window ``series[i : i + lookback]`` (``x``) and the ``horizon`` values
that follow it (``y``). Its key (column ``start`` of `zoo predict`) is the position in the
series of its first forecast step.

Default: a generated series (no download): 2,400 steps of a level, a slow trend, two
seeded sinusoids (periods 24 and 100) and Gaussian noise, the same on every call.

User data:

- a ``.csv``/``.tsv``/``.txt`` table of one series, one value a row in time order: the
  column named ``value`` if there is one, else the first numeric column (other columns,
  e.g. dates, are ignored). Every window with its complete future is an example; for a
  trained run's prediction, a series too short for any (at least ``lookback`` values) gives
  its windows without targets. `zoo predict` also forecasts the windows after the last
  complete one (see ``ForecastingTask.predict``): its last row is the forecast of the
  ``horizon`` steps after the end of the file.
- a ``.npz`` file of windows already cut: ``x`` (n, lookback) and ``y`` (n, horizon).

No scaling state is needed: the model scales each window itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from zoo.plugin import Config, DataError, Dataset, readers

SERIES_LENGTH = 2400
SEED = 0
VALUE_COLUMNS = ("value", "values", "y", "target")


def load(config: Config, path: Path | None, state: dict[str, Any] | None) -> Dataset:
    if path is None:
        series = generated_series()
        x, y, starts = windows(series, config.lookback, config.horizon)
        return Dataset(
            x=x,
            y=y,
            name="sinusoids",
            description=(
                f"generated series of {len(series)} steps (seed {SEED}): level 20, trend, "
                f"sinusoids of periods 24 and 100, noise; {len(x)} windows"
            ),
            state={"source": "generated", "seed": SEED},
            keys=starts,
            key_name="start",
        )
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return _windows_file(path, state)
    if suffix in (".csv", ".tsv", ".txt"):
        series, column = read_series(path)
        lookback, horizon = config.lookback, config.horizon
        description = f"{len(series)} values of column '{column}' of {path}"
        if len(series) >= lookback + horizon:
            x, y, starts = windows(series, lookback, horizon)
        elif state is not None and len(series) >= lookback:  # prediction only
            x = np.lib.stride_tricks.sliding_window_view(series, lookback).copy()
            y, starts = None, [int(i + lookback) for i in range(len(x))]
        else:
            raise DataError(
                f"{path}: {len(series)} values, fewer than one window needs (lookback "
                f"{lookback} + horizon {horizon})",
                "give a longer series or a smaller --set lookback=...",
            )
        return Dataset(
            x=x,
            y=y,
            name=path.stem,
            description=f"{description}: {len(x)} windows",
            state=state if state is not None else {"source": str(path), "column": column},
            keys=starts,
            key_name="start",
        )
    raise DataError(
        f"{path}: unsupported file type '{suffix or path.name}'",
        "give a .csv of one series (column 'value') or a .npz of windows x, y",
    )


def generated_series(length: int = SERIES_LENGTH, seed: int = SEED) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(length, dtype="float64")
    phase = rng.uniform(0, 2 * np.pi, size=2)
    series = (
        20.0
        + 0.002 * t
        + 4.0 * np.sin(2 * np.pi * t / 24 + phase[0])
        + 2.0 * np.sin(2 * np.pi * t / 100 + phase[1])
        + rng.normal(0.0, 0.3, size=length)
    )
    return series.astype("float32")


def windows(series: np.ndarray, lookback: int, horizon: int) -> tuple[np.ndarray, np.ndarray, list]:
    """``(x, y, starts)``: every window of ``lookback`` values followed by ``horizon`` more,
    in time order, and the position of each one's first forecast step."""
    series = np.asarray(series, dtype="float32")
    count = len(series) - lookback - horizon + 1
    if count < 1:
        raise DataError(
            f"a series of {len(series)} values has no window of lookback {lookback} + "
            f"horizon {horizon}",
            "give a longer series",
        )
    x = np.lib.stride_tricks.sliding_window_view(series[:-horizon], lookback)[:count].copy()
    y = np.lib.stride_tricks.sliding_window_view(series[lookback:], horizon)[:count].copy()
    return x, y, [int(i + lookback) for i in range(count)]


def read_series(path: Path) -> tuple[np.ndarray, str]:
    """The series in a table, and the name (or number) of the column it came from."""
    header, rows = readers.read_table(path)
    column = readers.find_column(header, VALUE_COLUMNS)
    if column is None:
        width = len(rows[0])
        column = next(
            (c for c in range(width) if all(_is_number(row[c]) for row in rows)),
            None,
        )
        if column is None:
            raise DataError(
                f"{path}: no numeric column",
                "give one value a row, in a column named 'value' (or the first numeric one)",
            )
    name = header[column] if header else str(column)
    try:
        series = np.array([float(row[column]) for row in rows], dtype="float32")
    except ValueError:
        line = next(n for n, row in enumerate(rows) if not _is_number(row[column]))
        raise DataError(
            f"{path}: row {line + 1} of column '{name}' is {rows[line][column]!r}, not a number",
            "fill or drop missing values",
        ) from None
    if not np.isfinite(series).all():
        raise DataError(f"{path}: column '{name}' has NaN or infinite values", "fill them first")
    return series, name


def _windows_file(path: Path, state: dict[str, Any] | None) -> Dataset:
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except (OSError, ValueError) as exc:
        raise DataError(
            f"{path}: not a readable .npz ({exc})", "save it with numpy.savez"
        ) from None
    if "x" not in arrays or "y" not in arrays:
        raise DataError(
            f"{path}: has arrays {sorted(arrays)}",
            "save the windows as x (n, lookback) and their futures as y (n, horizon)",
        )
    x, y = arrays["x"].astype("float32"), arrays["y"].astype("float32")
    if x.ndim != 2 or y.ndim != 2 or len(x) != len(y):
        raise DataError(
            f"{path}: x {x.shape} and y {y.shape}",
            "expected x (n, lookback) and y (n, horizon) with the same n",
        )
    if not np.isfinite(x).all():
        raise DataError(f"{path}: x has NaN or infinite values", "fill them first")
    return Dataset(
        x=x,
        y=y,
        name=path.stem,
        description=f"{len(x)} windows of {x.shape[1]} values, {y.shape[1]} steps ahead",
        implied={"lookback": int(x.shape[1]), "horizon": int(y.shape[1])} if state is None else {},
        state=state if state is not None else {"source": str(path)},
    )


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
